import {
  accountIdFor,
  CreateInviteBody,
  CreateInviteResponse,
  DEFAULT_INVITE_TTL_SECONDS,
  fromBase64Url,
  INVITE_QR_PREFIX,
  newDeviceKeyPair,
  newInvite,
  parseInviteCode,
  RedeemInviteBody,
  RedeemInviteResponse,
  redeemProof,
  redeemProofHash,
  RELAY_ROUTES,
  toBase64Url,
  unwrapAccountKey,
  wrapAccountKey,
} from '@lva/shared';
import fs from 'node:fs';
import { z } from 'zod';
import { dataDirLayout } from '../DataDir.ts';
import { newDeviceId, readDeviceState } from '../device/DeviceState.ts';
import { CoreError } from '../errors.ts';
import { RelayApi, RelayHttpError } from './RelayApi.ts';
import { readSyncKeys, signerOf, writeSyncKeys, type SyncKeys } from './SyncKeys.ts';

/** What the inviting device wraps with the account key: enough for the new device to find everything else. */
const InvitePayload = z.strictObject({ accountUrl: z.string().startsWith('automerge:'), relayUrl: z.string().url() });

export interface CreatedInvite {
  /** 32 characters in groups of four, to type on the new device. */
  code: string;
  /** For a QR code: the code plus the relay, so scanning alone is enough. */
  link: string;
  expiresAt: number;
  relayUrl: string;
}

/** The QR form: `lva-pair:CODE?relay=URL`. The code alone works too when the relay is given separately. */
export function pairingLink(code: string, relayUrl: string): string {
  return `${INVITE_QR_PREFIX}${code}?relay=${encodeURIComponent(relayUrl)}`;
}

export function parsePairingInput(input: string): { code: string; relayUrl?: string } {
  const text = input.trim();
  const q = text.indexOf('?relay=');
  if (q < 0) return { code: text };
  return { code: text.slice(0, q), relayUrl: decodeURIComponent(text.slice(q + '?relay='.length)) };
}

/**
 * On a paired device: a one-time invite. The account key is wrapped under a secret that exists only
 * in the code, so the relay stores ciphertext it cannot open; it indexes it under an id derived
 * from the secret and hands it out once, until it expires.
 */
export async function createInvite(dataDir: string, options: { ttlSeconds?: number } = {}): Promise<CreatedInvite> {
  const keys = readSyncKeys(dataDir);
  const device = readDeviceState(dataDirLayout(dataDir).device);
  if (!keys || !device) throw new CoreError('BAD_INPUT', `sync is not set up for ${dataDir}; run lva init --relay URL first`);
  const invite = newInvite();
  const wrapped = wrapAccountKey(invite.secret, invite.inviteId, keys.accountKey, { accountUrl: device.accountUrl, relayUrl: keys.relayUrl });
  const body = CreateInviteBody.parse({
    inviteId: invite.inviteId,
    wrapped: toBase64Url(wrapped),
    proofHash: toBase64Url(redeemProofHash(redeemProof(invite.secret))),
    ttlSeconds: options.ttlSeconds ?? DEFAULT_INVITE_TTL_SECONDS,
  });
  const created = await new RelayApi(keys.relayUrl).json(CreateInviteResponse, { method: 'POST', path: RELAY_ROUTES.invites, body, signer: signerOf(keys) });
  return { code: invite.code, link: pairingLink(invite.code, keys.relayUrl), expiresAt: created.expiresAt, relayUrl: keys.relayUrl };
}

export interface RedeemOptions {
  /** Needed unless the input is a link that names the relay. */
  relayUrl?: string;
  deviceName: string;
}

/**
 * On the new device: redeems the code, which enrols this device's fresh key pair with the account
 * and returns the wrapped account key, and writes sync.json marked as joining. `finishJoin` then
 * pulls the documents. Checks the account id against the unwrapped key, so a relay cannot slip in
 * another account's invite.
 */
export async function redeemInvite(dataDir: string, input: string, options: RedeemOptions): Promise<SyncKeys> {
  const layout = dataDirLayout(dataDir);
  if (fs.existsSync(layout.device) || readSyncKeys(dataDir)) throw new CoreError('BAD_INPUT', `${dataDir} already belongs to a device; pair into a new data directory`);
  const { code, relayUrl: fromLink } = parsePairingInput(input);
  const relayUrl = options.relayUrl ?? fromLink;
  if (!relayUrl) throw new CoreError('BAD_INPUT', 'the invite code does not name a relay; pass --relay URL');
  let parsed;
  try {
    parsed = parseInviteCode(code);
  } catch (err) {
    throw new CoreError('BAD_INPUT', (err as Error).message, { cause: err });
  }
  const pair = newDeviceKeyPair();
  const deviceId = newDeviceId();
  const body = RedeemInviteBody.parse({
    device: { id: deviceId, name: options.deviceName, publicKey: toBase64Url(pair.publicKey) },
    proof: toBase64Url(redeemProof(parsed.secret)),
  });
  let redeemed;
  try {
    redeemed = await new RelayApi(relayUrl).json(RedeemInviteResponse, { method: 'POST', path: RELAY_ROUTES.redeem(parsed.inviteId), body });
  } catch (err) {
    if (err instanceof RelayHttpError && err.status === 404) {
      throw new CoreError('NOT_FOUND', 'this invite code is unknown, already used or expired: create a new one with lva pair invite on a paired device', { cause: err });
    }
    throw err;
  }
  let unwrapped;
  try {
    unwrapped = unwrapAccountKey(parsed.secret, parsed.inviteId, fromBase64Url(redeemed.wrapped));
  } catch (err) {
    throw new CoreError('SYNC_FAILED', `the invite could not be opened with this code (${(err as Error).message})`, { cause: err });
  }
  const payload = InvitePayload.safeParse(unwrapped.payload);
  if (!payload.success) throw new CoreError('SYNC_FAILED', 'the invite was made by an incompatible version of the app');
  if (accountIdFor(unwrapped.accountKey) !== redeemed.accountId) throw new CoreError('SYNC_FAILED', 'the relay answered with another account than the invite is for');
  const keys: SyncKeys = {
    relayUrl,
    accountId: redeemed.accountId,
    accountKey: unwrapped.accountKey,
    deviceId,
    deviceName: options.deviceName,
    publicKey: pair.publicKey,
    secretKey: pair.secretKey,
    joining: { accountUrl: payload.data.accountUrl },
  };
  writeSyncKeys(dataDir, keys);
  return keys;
}
