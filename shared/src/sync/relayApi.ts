import { z } from 'zod';
import { AccountId, DeviceId, ID_PATTERN, PublicKey, base64UrlLength } from './messages.ts';

/**
 * The relay's HTTP API beside the sync socket: accounts, pairing, devices, recovery and blobs.
 * Bodies are JSON except blobs (application/octet-stream). Errors always come back as
 * `{ error: { code, message } }` with a 4xx or 5xx status.
 *
 * Authenticated routes carry the AUTH_HEADERS of a device-signed request (crypto/requestSigning.ts):
 * account, device, time, nonce and an Ed25519 signature over them, the host, method, path and the
 * body's SHA-256. Revoked devices, stale times and reused nonces are refused with 401.
 */

export const RELAY_ROUTES = {
  accounts: '/v1/accounts',
  recover: (accountId: string) => `/v1/accounts/${accountId}/recover`,
  invites: '/v1/invites',
  redeem: (inviteId: string) => `/v1/invites/${inviteId}/redeem`,
  devices: '/v1/devices',
  device: (deviceId: string) => `/v1/devices/${deviceId}`,
  revoke: (deviceId: string) => `/v1/devices/${deviceId}/revoke`,
  blob: (blobId: string) => `/v1/blobs/${blobId}`,
} as const;

export const MAX_DEVICE_NAME_LENGTH = 100;
/** The wrapped account key plus a small JSON payload (crypto/pairing.ts caps the payload at 4 KiB). */
export const MAX_WRAPPED_INVITE_BYTES = 8 * 1024;
export const DEFAULT_INVITE_TTL_SECONDS = 10 * 60;
export const MAX_INVITE_TTL_SECONDS = 24 * 60 * 60;
const MIN_INVITE_TTL_SECONDS = 30;

export const DeviceName = z.string().trim().min(1, 'device name is empty').max(MAX_DEVICE_NAME_LENGTH);

export const NewDeviceBody = z.strictObject({
  id: DeviceId,
  name: DeviceName,
  publicKey: PublicKey,
});
export type NewDeviceBody = z.infer<typeof NewDeviceBody>;

/** POST /v1/accounts: a new account with its first device and the public halves of its recovery and inbox keys. */
export const RegisterAccountBody = z.strictObject({
  accountId: AccountId,
  device: NewDeviceBody,
  recoveryPublicKey: PublicKey,
  /** X25519 public key of the phone-call inbox, which the relay seals call audio to. */
  inboxPublicKey: PublicKey,
});
export type RegisterAccountBody = z.infer<typeof RegisterAccountBody>;

export const DeviceInfo = z.strictObject({
  id: DeviceId,
  name: z.string(),
  createdAt: z.number().int(),
  revokedAt: z.number().int().optional(),
});
export type DeviceInfo = z.infer<typeof DeviceInfo>;

/** GET /v1/devices (authenticated). */
export const DeviceList = z.strictObject({ devices: z.array(DeviceInfo) });
export type DeviceList = z.infer<typeof DeviceList>;

/** PATCH /v1/devices/:deviceId (authenticated). Answers with the DeviceInfo. */
export const RenameDeviceBody = z.strictObject({ name: DeviceName });

const InviteId = z.string().min(16).max(64).regex(ID_PATTERN, 'not an invite id');
const Wrapped = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/u, 'wrapped is not base64url')
  .max(base64UrlLength(MAX_WRAPPED_INVITE_BYTES), `wrapped is over ${MAX_WRAPPED_INVITE_BYTES} bytes`);

/** POST /v1/invites (authenticated): stores the wrapped account key under the invite id until redeemed or expired. */
/** 32 bytes as unpadded base64url: a redeem proof or its SHA-256 (crypto/pairing.ts). */
const Proof = z.string().regex(/^[A-Za-z0-9_-]{43}$/u, 'not 32 bytes of base64url');

export const CreateInviteBody = z.strictObject({
  inviteId: InviteId,
  wrapped: Wrapped,
  /** SHA-256 of the redeem proof: the relay checks a redeem against it without being able to make one. */
  proofHash: Proof,
  ttlSeconds: z.number().int().min(MIN_INVITE_TTL_SECONDS).max(MAX_INVITE_TTL_SECONDS).default(DEFAULT_INVITE_TTL_SECONDS),
});
export const CreateInviteResponse = z.strictObject({ inviteId: InviteId, expiresAt: z.number().int() });

/**
 * POST /v1/invites/:inviteId/redeem (no device auth: the joining device has none yet). With the
 * proof only the code's holder can compute, takes the invite once, registers the new device's public key with the inviting account and hands back the
 * wrapped key, which only the holder of the code can open.
 */
export const RedeemInviteBody = z.strictObject({ device: NewDeviceBody, proof: Proof });
export const RedeemInviteResponse = z.strictObject({ accountId: AccountId, wrapped: Wrapped, device: DeviceInfo });
export type RedeemInviteResponse = z.infer<typeof RedeemInviteResponse>;

/**
 * POST /v1/accounts/:accountId/recover (no device auth): enrols a device on the strength of a
 * signature by the account's recovery key over recoveryMessage(host, accountId, device.id,
 * device.publicKey, time).
 */
export const RecoverBody = z.strictObject({
  device: NewDeviceBody,
  time: z.number().int().min(0),
  signature: z.string().regex(/^[A-Za-z0-9_-]+$/u).max(128),
});
export const RecoverResponse = z.strictObject({ accountId: AccountId, device: DeviceInfo });

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
