import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ACCOUNT_KEY_LENGTH } from './accountKeys.ts';
import { fromCrockford, toCrockford } from './base32.ts';
import { concatBytes, constantTimeEqual, encodeFields, fromBase64Url, randomBytes, toBase64Url, utf8Decode, utf8Encode } from './bytes.ts';
import { CryptoError, requireKey } from './errors.ts';
import { openFrame, sealFrame } from './seal.ts';

export const INVITE_SECRET_LENGTH = 16;
const INVITE_ID_LENGTH = 16;
const CHECK_LENGTH = 4;
const GROUP_SIZE = 4;
const MAX_PAYLOAD_BYTES = 4096;
export const INVITE_QR_PREFIX = 'lva-pair:';

const INVITE_ID_INFO = utf8Encode('lva/v1/pair/invite-id');
const WRAP_KEY_INFO = utf8Encode('lva/v1/pair/wrap-key');
const REDEEM_PROOF_INFO = utf8Encode('lva/v1/pair/redeem-proof');
const CHECK_LABEL = 'lva/v1/pair/code-check';
const WRAP_AAD_LABEL = 'lva/v1/pair/wrapped-account-key';

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export type Invite = {
  /** What the relay indexes the wrapped key under; reveals nothing about `secret`. */
  readonly inviteId: string;
  readonly secret: Uint8Array;
  /** What a person types: 32 Crockford characters in groups of four, 39 characters in all. */
  readonly code: string;
  readonly qrPayload: string;
};

export type ParsedInvite = { readonly inviteId: string; readonly secret: Uint8Array };
export type UnwrappedInvite = { readonly accountKey: Uint8Array; readonly payload: unknown };

/**
 * The invite id is derived from the secret rather than drawn separately: a 16-byte id plus a
 * 16-byte secret would need 52 characters, too many to type. HKDF is one-way, so the relay,
 * which sees the id, learns nothing about the secret.
 */
function inviteIdFor(secret: Uint8Array): string {
  return toBase64Url(hkdf(sha256, secret, undefined, INVITE_ID_INFO, INVITE_ID_LENGTH));
}

// 32 bits of check: a mistyped code is reported as a typo, not sent to the relay as a wrong id.
function checkFor(secret: Uint8Array): Uint8Array {
  return sha256(encodeFields(CHECK_LABEL, secret)).subarray(0, CHECK_LENGTH);
}

function formatCode(secret: Uint8Array): string {
  const symbols = toCrockford(concatBytes(secret, checkFor(secret)));
  return symbols.match(new RegExp(`.{1,${GROUP_SIZE}}`, 'gu'))!.join('-');
}

/**
 * What the joining device shows the relay to redeem the invite. The inviting device registers only
 * its SHA-256 (`redeemProofHash`), so the relay's database and logs, which hold the invite id, are
 * not enough to redeem it in the joining device's place.
 */
export function redeemProof(secret: Uint8Array): Uint8Array {
  requireKey(secret, INVITE_SECRET_LENGTH, 'invite secret');
  return hkdf(sha256, secret, undefined, REDEEM_PROOF_INFO, 32);
}

export function redeemProofHash(proof: Uint8Array): Uint8Array {
  return sha256(proof);
}

/** Made on a device that already has the account key, shown as a code and a QR code. */
export function newInvite(): Invite {
  const secret = randomBytes(INVITE_SECRET_LENGTH);
  const code = formatCode(secret);
  return { inviteId: inviteIdFor(secret), secret, code, qrPayload: INVITE_QR_PREFIX + code };
}

/** Accepts the typed code or the scanned QR payload, in any case, with or without spaces and dashes. */
export function parseInviteCode(code: string): ParsedInvite {
  if (typeof code !== 'string') throw new CryptoError('BAD_INPUT', 'invite code must be text');
  let text = code.trim();
  if (text.toLowerCase().startsWith(INVITE_QR_PREFIX)) text = text.slice(INVITE_QR_PREFIX.length);
  const bytes = fromCrockford(text);
  if (bytes.length !== INVITE_SECRET_LENGTH + CHECK_LENGTH) {
    throw new CryptoError('BAD_INPUT', 'invite code has the wrong length: check for missing or extra characters');
  }
  const secret = bytes.slice(0, INVITE_SECRET_LENGTH);
  if (!constantTimeEqual(bytes.subarray(INVITE_SECRET_LENGTH), checkFor(secret))) {
    throw new CryptoError('BAD_INPUT', 'invite code has a typo: check each character');
  }
  return { inviteId: inviteIdFor(secret), secret };
}

/**
 * The secret is 128 random bits, not something a person chose, so HKDF is enough: slow
 * password hashing only helps against guessing low-entropy secrets.
 */
function wrapKey(secret: Uint8Array): Uint8Array {
  requireKey(secret, INVITE_SECRET_LENGTH, 'invite secret');
  return hkdf(sha256, secret, undefined, WRAP_KEY_INFO, 32);
}

// Binding the invite id means the relay cannot serve one invite's blob under another id.
function wrapAad(inviteId: string): Uint8Array {
  fromBase64Url(inviteId);
  return encodeFields(WRAP_AAD_LABEL, inviteId);
}

/** What the existing device uploads for the invite: the account key plus a small JSON payload. */
export function wrapAccountKey(secret: Uint8Array, inviteId: string, accountKey: Uint8Array, payload: JsonValue): Uint8Array {
  requireKey(accountKey, ACCOUNT_KEY_LENGTH, 'account key');
  const json = utf8Encode(JSON.stringify(payload));
  if (json.length > MAX_PAYLOAD_BYTES) throw new CryptoError('BAD_INPUT', `pairing payload is over ${MAX_PAYLOAD_BYTES} bytes`);
  return sealFrame(wrapKey(secret), concatBytes(accountKey, json), wrapAad(inviteId));
}

/** `payload` is whatever JSON was wrapped: validate it before use. */
export function unwrapAccountKey(secret: Uint8Array, inviteId: string, wrapped: Uint8Array): UnwrappedInvite {
  const plaintext = openFrame(wrapKey(secret), wrapped, wrapAad(inviteId));
  if (plaintext.length < ACCOUNT_KEY_LENGTH) throw new CryptoError('DECRYPT_FAILED', 'wrapped account key is too short');
  let payload: unknown;
  try {
    payload = JSON.parse(utf8Decode(plaintext.subarray(ACCOUNT_KEY_LENGTH)));
  } catch (cause) {
    throw new CryptoError('BAD_INPUT', 'pairing payload is not valid JSON', { cause });
  }
  return { accountKey: plaintext.slice(0, ACCOUNT_KEY_LENGTH), payload };
}
