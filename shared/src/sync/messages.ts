import { z } from 'zod';
import {
  CHALLENGE_BYTES,
  MAX_CHUNK_CIPHERTEXT_BYTES,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_ID_LENGTH,
  MAX_ORIGIN_LENGTH,
  MAX_PUBLIC_KEY_BYTES,
  MAX_PULL_BATCH,
  MAX_SIGNATURE_BYTES,
  MAX_SNAPSHOT_CIPHERTEXT_BYTES,
  NONCE_BYTES,
  PROTOCOL_VERSION,
} from './limits.ts';

/**
 * The sync protocol between devices and the relay: JSON text frames over one WebSocket.
 *
 * Handshake: the relay sends `challenge` on connect; the device answers `hello`, then `auth` with its
 * signature over the challenge and the relay's origin; the relay answers `welcome`, or `error` and
 * closes. Every frame carries `v`, so a version mismatch is caught on the first frame of a join.
 */

// ---------------------------------------------------------------------------------------------
// Scalars

/** Ids are URL-safe so they can also appear in paths and keys without escaping. */
export const ID_PATTERN = /^[A-Za-z0-9_-]+$/;

function id<B extends string>(what: B) {
  return z.string().min(1).max(MAX_ID_LENGTH).regex(ID_PATTERN, `not a ${what}`).brand<B>();
}

export const DeviceId = id('DeviceId');
export type DeviceId = z.infer<typeof DeviceId>;
export const AccountId = id('AccountId');
export type AccountId = z.infer<typeof AccountId>;
export const DocId = id('DocId');
export type DocId = z.infer<typeof DocId>;
export const BlobId = id('BlobId');
export type BlobId = z.infer<typeof BlobId>;

/** Chosen by the client so it can match a reply to its request; opaque to the relay. */
export const RequestId = z.string().min(1).max(MAX_ID_LENGTH).regex(ID_PATTERN, 'not a request id');
export type RequestId = z.infer<typeof RequestId>;

/**
 * A position in the account's log, assigned by the relay. It counts across all the account's
 * documents, so one cursor can pull every document at once.
 */
export const Seq = z.number().int().min(0).brand<'Seq'>();
export type Seq = z.infer<typeof Seq>;

/** Unpadded base64url, the form binary fields take in JSON frames. */
export const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

/** Length of the unpadded base64url form of `bytes` bytes. */
export function base64UrlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * One encoding per byte string, as crypto's fromBase64Url demands: a field that passes here never
 * fails to decode later. A lone leftover character (6 bits) is not a byte, and the unused low bits
 * of the last character must be zero.
 */
function isCanonicalBase64Url(s: string): boolean {
  const rest = s.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = BASE64URL_ALPHABET.indexOf(s[s.length - 1]!);
  return (last & (rest === 2 ? 0b1111 : 0b11)) === 0;
}

function base64Url(what: string, minBytes: number, maxBytes: number) {
  const bad = `${what} is not unpadded base64url`;
  return (
    z
      .string()
      .regex(BASE64URL_PATTERN, bad)
      .min(base64UrlLength(minBytes), `${what} is under ${minBytes} bytes`)
      .max(base64UrlLength(maxBytes), `${what} is over ${maxBytes} bytes`)
      .refine(isCanonicalBase64Url, bad)
  );
}

export const Nonce = base64Url('nonce', NONCE_BYTES, NONCE_BYTES);
/** Poly1305 appends a 16-byte tag, so no real ciphertext is shorter. */
const MIN_CIPHERTEXT_BYTES = 16;
export const ChunkCiphertext = base64Url('ciphertext', MIN_CIPHERTEXT_BYTES, MAX_CHUNK_CIPHERTEXT_BYTES);
export const SnapshotCiphertext = base64Url('ciphertext', MIN_CIPHERTEXT_BYTES, MAX_SNAPSHOT_CIPHERTEXT_BYTES);
export const Signature = base64Url('signature', 1, MAX_SIGNATURE_BYTES);
export const PublicKey = base64Url('public key', 32, MAX_PUBLIC_KEY_BYTES);
export const Challenge = base64Url('challenge', CHALLENGE_BYTES, CHALLENGE_BYTES);

/** Only a scheme and host[:port]: the device signs it with the challenge, so a path or query would be ambiguous. */
export const RelayOrigin = z
  .string()
  .max(MAX_ORIGIN_LENGTH)
  .regex(/^(https?|wss?):\/\/[^\s/?#@]+$/, 'not an origin (scheme://host[:port])');

export const EncryptedChunk = z.strictObject({ nonce: Nonce, ciphertext: ChunkCiphertext });
export type EncryptedChunk = z.infer<typeof EncryptedChunk>;

export const EncryptedSnapshot = z.strictObject({ nonce: Nonce, ciphertext: SnapshotCiphertext });
export type EncryptedSnapshot = z.infer<typeof EncryptedSnapshot>;

/**
 * A chunk as received from the relay: still ciphertext, from a device we have not verified. Only the
 * sync engine's decrypt step turns it into changes; the brand keeps it out of anything else.
 * Snapshots arrive the same way (seq = what they cover): Automerge loads both kinds of bytes alike.
 */
export const RemoteChunk = z
  .strictObject({
    docId: DocId,
    seq: Seq,
    nonce: Nonce,
    ciphertext: base64Url('ciphertext', MIN_CIPHERTEXT_BYTES, Math.max(MAX_CHUNK_CIPHERTEXT_BYTES, MAX_SNAPSHOT_CIPHERTEXT_BYTES)),
    fromDevice: DeviceId,
    /** Set on an encrypted snapshot standing in for the document's compacted chunks up to `seq`. */
    snapshot: z.literal(true).optional(),
  })
  .brand<'RemoteChunk'>();
export type RemoteChunk = z.infer<typeof RemoteChunk>;

// ---------------------------------------------------------------------------------------------
// Client → relay

const v = z.literal(PROTOCOL_VERSION);

export const HelloFrame = z.strictObject({ v, type: z.literal('hello'), deviceId: DeviceId, accountId: AccountId });
export const AuthFrame = z.strictObject({ v, type: z.literal('auth'), signature: Signature });
export const PushFrame = z.strictObject({
  v,
  type: z.literal('push'),
  rid: RequestId,
  docId: DocId,
  chunk: EncryptedChunk,
  /** Idempotency key: a push retried after a lost ack is acked again, not stored twice. */
  clientChunkId: z.string().min(1).max(MAX_ID_LENGTH).regex(ID_PATTERN, 'not a chunk id'),
});
export const PullFrame = z.strictObject({
  v,
  type: z.literal('pull'),
  rid: RequestId,
  /** Omitted: every document of the account. */
  docId: DocId.optional(),
  /** Chunks with seq above this are returned. */
  cursor: Seq,
  limit: z.number().int().min(1).max(MAX_PULL_BATCH),
});
export const SubscribeFrame = z.strictObject({ v, type: z.literal('subscribe') });
export const SnapshotFrame = z.strictObject({
  v,
  type: z.literal('snapshot'),
  rid: RequestId,
  docId: DocId,
  /** The relay may drop this document's chunks up to and including this seq. */
  coversSeq: Seq,
  snapshot: EncryptedSnapshot,
});
export const PingFrame = z.strictObject({ v, type: z.literal('ping') });

export const ClientFrame = z.discriminatedUnion('type', [
  HelloFrame,
  AuthFrame,
  PushFrame,
  PullFrame,
  SubscribeFrame,
  SnapshotFrame,
  PingFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['type'];
export type ClientFrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Relay → client

export const SYNC_ERROR_CODES = [
  'BAD_FRAME',
  'UNSUPPORTED_VERSION',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'TOO_LARGE',
  'RATE_LIMITED',
  'QUOTA_EXCEEDED',
  'NOT_FOUND',
  'INTERNAL',
] as const;
export const SyncErrorCode = z.enum(SYNC_ERROR_CODES);
export type SyncErrorCode = z.infer<typeof SyncErrorCode>;

export const ChallengeFrame = z.strictObject({
  v,
  type: z.literal('challenge'),
  challenge: Challenge,
  /** Signed with the challenge, so a signature made for one relay is useless at another. */
  relayOrigin: RelayOrigin,
});
export const WelcomeFrame = z.strictObject({
  v,
  type: z.literal('welcome'),
  deviceId: DeviceId,
  accountId: AccountId,
  /** ms since the epoch; lets a device notice a badly wrong clock before it stamps captures with it. */
  serverTime: z.number().int().min(0),
});
export const AckFrame = z.strictObject({ v, type: z.literal('ack'), rid: RequestId, docId: DocId, seq: Seq });
export const ChunksFrame = z.strictObject({
  v,
  type: z.literal('chunks'),
  /** Absent on live fan-out to subscribers; set when answering a pull. */
  rid: RequestId.optional(),
  items: z.array(RemoteChunk).max(MAX_PULL_BATCH),
  /** Pass this as the next pull's cursor. */
  cursor: Seq,
  /** True when the batch stopped at the limit or the frame size and more chunks wait. */
  more: z.boolean(),
  /** On a pull's answer: the account's latest seq, so a device can show how far along a first sync is. */
  head: Seq.optional(),
});
export const SnapshotAckFrame = z.strictObject({
  v,
  type: z.literal('snapshotAck'),
  rid: RequestId,
  docId: DocId,
  coversSeq: Seq,
});
export const ErrorFrame = z.strictObject({
  v,
  type: z.literal('error'),
  /** Absent when the error answers no request, such as a frame that could not be decoded. */
  rid: RequestId.optional(),
  code: SyncErrorCode,
  message: z.string().max(MAX_ERROR_MESSAGE_LENGTH),
  /** Set with RATE_LIMITED: retrying sooner is refused again. */
  retryAfterMs: z.number().int().min(0).optional(),
});
export const PongFrame = z.strictObject({ v, type: z.literal('pong') });

export const ServerFrame = z.discriminatedUnion('type', [
  ChallengeFrame,
  WelcomeFrame,
  AckFrame,
  ChunksFrame,
  SnapshotAckFrame,
  ErrorFrame,
  PongFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type ServerFrameType = ServerFrame['type'];
export type ServerFrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;
