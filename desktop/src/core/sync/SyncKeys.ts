import fs from 'node:fs';
import path from 'node:path';
import { fromBase64Url, newAccountKey, newDeviceKeyPair, randomBytes, toBase64Url } from '@lva/shared';
import { z } from 'zod';
import { dataDirLayout } from '../DataDir.ts';
import { newDeviceId, readDeviceState, writeDeviceState } from '../device/DeviceState.ts';
import { CoreError } from '../errors.ts';
import { writeFileDurable } from '../fsync.ts';

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
    publicKey: z.string().regex(/^[A-Za-z0-9_-]+$/),
    secretKey: z.string().regex(/^[A-Za-z0-9_-]+$/),
  }),
});
type SyncFile = z.infer<typeof SyncFile>;

export interface SyncKeys {
  relayUrl: string;
  accountId: string;
  accountKey: Uint8Array;
  deviceId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
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
    publicKey: fromBase64Url(f.device.publicKey),
    secretKey: fromBase64Url(f.device.secretKey),
  };
}

function writeSyncKeys(dataDir: string, keys: SyncKeys): void {
  const file: SyncFile = {
    version: 1,
    relayUrl: keys.relayUrl,
    accountId: keys.accountId,
    accountKey: toBase64Url(keys.accountKey),
    device: { id: keys.deviceId, publicKey: toBase64Url(keys.publicKey), secretKey: toBase64Url(keys.secretKey) },
  };
  writeFileDurable(syncKeysFile(dataDir), JSON.stringify(file, null, 2) + '\n', { mode: SECRET_FILE_MODE });
}

/**
 * Turns sync on for the device that created the account: new account id, account key and device
 * key, registered with the relay. The data dir must have been opened once (device.json exists),
 * since the relay knows the device by its id. Idempotent: an existing sync.json is returned as is.
 */
export async function initSync(dataDir: string, relayUrl: string): Promise<SyncKeys> {
  const existing = readSyncKeys(dataDir);
  if (existing) return existing;
  const device = readDeviceState(dataDirLayout(dataDir).device);
  if (!device) throw new CoreError('BAD_INPUT', `${dataDir} has no device yet; open it once before turning sync on`);
  const pair = newDeviceKeyPair();
  const keys: SyncKeys = {
    relayUrl,
    accountId: toBase64Url(randomBytes(16)),
    accountKey: newAccountKey(),
    deviceId: device.deviceId,
    publicKey: pair.publicKey,
    secretKey: pair.secretKey,
  };
  let res: Response;
  try {
    res = await fetch(new URL('/v1/accounts', relayUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accountId: keys.accountId, device: { id: keys.deviceId, name: device.deviceName, publicKey: toBase64Url(keys.publicKey) } }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    throw new CoreError('SYNC_FAILED', `could not reach the relay at ${relayUrl} (${cause?.code ?? cause?.message ?? (err as Error).message})`, { cause: err });
  }
  if (res.status !== 201) throw new CoreError('SYNC_FAILED', `the relay refused the new account (${res.status}): ${await res.text()}`);
  // Written only after the relay accepted it: a crash in between leaves an unused account on the relay, nothing here.
  writeSyncKeys(dataDir, keys);
  return keys;
}

export interface JoinOptions {
  relayUrl: string;
  accountId: string;
  accountKey: Uint8Array;
  /** The account document of the first device; this device adopts it instead of making its own. */
  accountUrl: string;
  deviceName: string;
}

/**
 * Prepares a fresh data dir as another device of an existing account: device.json pointing at the
 * account's document, and sync.json with a new device key. The caller must get the public key
 * registered with the relay (pairing will do that; tests use the relay's storage), then run
 * `SyncEngine.bootstrap` so the account document is local before `Core.open`.
 */
export function joinAccount(dataDir: string, options: JoinOptions): SyncKeys {
  const layout = dataDirLayout(dataDir);
  if (fs.existsSync(layout.device)) throw new CoreError('BAD_INPUT', `${dataDir} already belongs to a device`);
  fs.mkdirSync(layout.root, { recursive: true });
  const pair = newDeviceKeyPair();
  const keys: SyncKeys = {
    relayUrl: options.relayUrl,
    accountId: options.accountId,
    accountKey: options.accountKey,
    deviceId: newDeviceId(),
    publicKey: pair.publicKey,
    secretKey: pair.secretKey,
  };
  writeSyncKeys(dataDir, keys);
  // device.json last: it is what makes the data dir a device (see DocStore.open).
  writeDeviceState(layout.device, {
    version: 1,
    deviceId: keys.deviceId,
    deviceName: options.deviceName,
    accountUrl: options.accountUrl,
    createdAt: Date.now(),
  });
  return keys;
}
