import { CryptoError } from './errors.ts';

// getRandomValues refuses more than 64 KiB per call (Web Crypto spec).
const MAX_RANDOM_CHUNK = 65_536;

export function randomBytes(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new CryptoError('BAD_INPUT', `invalid random length ${length}`);
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += MAX_RANDOM_CHUNK) {
    crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + MAX_RANDOM_CHUNK)));
  }
  return out;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_PATTERN = /^[A-Za-z0-9_-]*$/;
const B64URL_VALUES = new Map([...B64URL].map((c, i) => [c, i]));

// Bytes per String.fromCharCode call: well under engines' argument-count limits.
const CHAR_CODE_BLOCK = 0x2000;

type NodeBuffer = { from(data: Uint8Array | string, encoding?: string): Uint8Array & { toString(encoding: string): string } };
// Node's Buffer is native and ~25x faster on megabyte chunks; browsers (the web client) use btoa/atob.
const NativeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/** Unpadded base64url (RFC 4648 §5): safe in URLs, file names and JSON without escaping. */
export function toBase64Url(bytes: Uint8Array): string {
  return NativeBuffer ? NativeBuffer.from(bytes).toString('base64url') : portableToBase64Url(bytes);
}

/** The browser path, exported so tests can check it against the native one. */
export function portableToBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHAR_CODE_BLOCK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHAR_CODE_BLOCK) as unknown as number[]);
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Strict: rejects padding, the standard alphabet and non-zero trailing bits, so every byte
 * string has exactly one encoding and ids compare equal as strings.
 */
export function fromBase64Url(text: string): Uint8Array {
  if (typeof text !== 'string' || !B64URL_PATTERN.test(text) || text.length % 4 === 1) {
    throw new CryptoError('BAD_INPUT', 'not valid unpadded base64url');
  }
  const rest = text.length % 4;
  if (rest !== 0) {
    // The last character carries 4 (rest 2) or 2 (rest 3) bits beyond the final byte; they must be 0.
    const last = B64URL_VALUES.get(text[text.length - 1]!)!;
    if ((last & (rest === 2 ? 0b1111 : 0b11)) !== 0) throw new CryptoError('BAD_INPUT', 'base64url has non-zero trailing bits');
  }
  // Checked above to be canonical, so the native decoder's leniency never comes into play.
  return NativeBuffer ? new Uint8Array(NativeBuffer.from(text, 'base64url')) : portableFromCanonicalBase64Url(text);
}

/** The browser path for input already checked to be canonical; exported for tests. */
export function portableFromCanonicalBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Time depends only on the lengths, never on where the first difference is. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const encoder = new TextEncoder();
// fatal: silently replacing bad bytes with U+FFFD would let two different inputs decode alike.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

export function utf8Decode(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new CryptoError('BAD_INPUT', 'not valid UTF-8', { cause });
  }
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Unambiguous encoding of a tuple (each field is a 4-byte big-endian length then its bytes),
 * for AAD and signed messages: plain concatenation would let ('ab', 'c') collide with ('a', 'bc').
 */
export function encodeFields(...fields: readonly (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const field of fields) {
    const bytes = typeof field === 'string' ? utf8Encode(field) : field;
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.length);
    parts.push(length, bytes);
  }
  return concatBytes(...parts);
}
