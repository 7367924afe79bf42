import fs from 'node:fs';
import path from 'node:path';
import { accountIdFor, fromBase64Url, inboxKeyPairFor, newAccountKey, newDeviceKeyPair, recoveryKeyPair, RegisterAccountBody, toBase64Url } from '@lva/shared';
import type { RequestSigner } from '@lva/shared';
import { z } from 'zod';
import { dataDirLayout } from '../DataDir.ts';
import { readDeviceState } from '../device/DeviceState.ts';
import { CoreError } from '../errors.ts';
import { writeFileDurable } from '../fsync.ts';
import { RelayApi } from './RelayApi.ts';

/**
 * This device's sync identity, in `<dataDir>/sync.json`: the relay, the account, the account key
 * (the root secret the relay never sees) and this device's Ed25519 key pair. Never synced, mode 0600.
 */
const SyncFile = z.strictObject({
  version: z.literal(1),
  relayUrl: z.string().url(),
  accountId: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  accountKey: z.string().regex(/^[A-Za-z0-9_-]+$/),
  device: z.strictObject({
    id: z.string().min(1),
    name: z.string().min(1).max(100).optional(),
    publicKey: z.string().regex(/^[A-Za-z0-9_-]+$/),
    secretKey: z.string().regex(/^[A-Za-z0-9_-]+$/),
  }),
  /**
   * Set while a joining device has not finished its first sync: the account document it is to
   * adopt (pairing names it; recovery finds it once pulled). Cleared when device.json is written.
   */
  joining: z.strictObject({ accountUrl: z.string().startsWith('automerge:').optional() }).optional(),
});
type SyncFile = z.infer<typeof SyncFile>;

export interface SyncKeys {
  relayUrl: string;
  accountId: string;
  accountKey: Uint8Array;
  deviceId: string;
  /** The name this device enrolled with; for a joining device, device.json does not exist yet. */
  deviceName?: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  joining?: { accountUrl?: string };
}

const SECRET_FILE_MODE = 0o600;

export function syncKeysFile(dataDir: string): string {
  return path.join(dataDirLayout(dataDir).root, 'sync.json');
}

export function readSyncKeys(dataDir: string): SyncKeys | undefined {
  const file = syncKeysFile(dataDir);
  if (!fs.existsSync(file)) return undefined;
  let parsed;
  try {
    parsed = SyncFile.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    throw new CoreError('DATA_DIR_INVALID', `${file} is not valid JSON`, { cause: err });
  }
  if (!parsed.success) throw new CoreError('DATA_DIR_INVALID', `${file} is not a sync file of this app (${parsed.error.issues[0]?.message})`);
  const f = parsed.data;
  return {
    relayUrl: f.relayUrl,
    accountId: f.accountId,
    accountKey: fromBase64Url(f.accountKey),
    deviceId: f.device.id,
    ...(f.device.name ? { deviceName: f.device.name } : {}),
    publicKey: fromBase64Url(f.device.publicKey),
    secretKey: fromBase64Url(f.device.secretKey),
    ...(f.joining ? { joining: f.joining.accountUrl ? { accountUrl: f.joining.accountUrl } : {} } : {}),
  };
}

export function writeSyncKeys(dataDir: string, keys: SyncKeys): void {
  fs.mkdirSync(dataDirLayout(dataDir).root, { recursive: true });
  const file: SyncFile = {
    version: 1,
    relayUrl: keys.relayUrl,
    accountId: keys.accountId,
    accountKey: toBase64Url(keys.accountKey),
    device: {
      id: keys.deviceId,
      ...(keys.deviceName ? { name: keys.deviceName } : {}),
      publicKey: toBase64Url(keys.publicKey),
      secretKey: toBase64Url(keys.secretKey),
    },
    ...(keys.joining ? { joining: keys.joining } : {}),
  };
  writeFileDurable(syncKeysFile(dataDir), JSON.stringify(file, null, 2) + '\n', { mode: SECRET_FILE_MODE });
}

/** What signs this device's HTTP requests to the relay. */
export function signerOf(keys: SyncKeys): RequestSigner {
  return { accountId: keys.accountId, deviceId: keys.deviceId, secretKey: keys.secretKey };
}

/**
 * Turns sync on for the device that creates the account: a new account key, the account id derived
 * from it (so the recovery phrase alone finds the account again), this device's key pair, and the
 * public half of the recovery key, all registered with the relay. The data dir must have been
 * opened once (device.json exists), since the relay knows the device by its id.
 * Idempotent: an existing sync.json is returned as is.
 */
export async function initSync(dataDir: string, relayUrl: string): Promise<SyncKeys> {
  const existing = readSyncKeys(dataDir);
  if (existing) return existing;
  const device = readDeviceState(dataDirLayout(dataDir).device);
  if (!device) throw new CoreError('BAD_INPUT', `${dataDir} has no device yet; open it once before turning sync on`);
  const pair = newDeviceKeyPair();
  const accountKey = newAccountKey();
  const keys: SyncKeys = {
    relayUrl,
    accountId: accountIdFor(accountKey),
    accountKey,
    deviceId: device.deviceId,
    deviceName: device.deviceName,
    publicKey: pair.publicKey,
    secretKey: pair.secretKey,
  };
  const body: RegisterAccountBody = RegisterAccountBody.parse({
    accountId: keys.accountId,
    device: { id: keys.deviceId, name: device.deviceName, publicKey: toBase64Url(keys.publicKey) },
    recoveryPublicKey: toBase64Url(recoveryKeyPair(accountKey).publicKey),
    inboxPublicKey: toBase64Url(inboxKeyPairFor(accountKey).publicKey),
  });
  await new RelayApi(relayUrl).call({ method: 'POST', path: '/v1/accounts', body });
  // Written only after the relay accepted it: a crash in between leaves an unused account on the relay, nothing here.
  writeSyncKeys(dataDir, keys);
  return keys;
}
