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

/** Unpadded base64url (RFC 4648 §5): safe in URLs, file names and JSON without escaping. */
export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    out += B64URL[b0 >> 2]! + B64URL[((b0 & 3) << 4) | ((b1 ?? 0) >> 4)]!;
    if (b1 !== undefined) out += B64URL[((b1 & 15) << 2) | ((b2 ?? 0) >> 6)]!;
    if (b2 !== undefined) out += B64URL[b2 & 63]!;
  }
  return out;
}

/**
 * Strict: rejects padding, the standard alphabet and non-zero trailing bits, so every byte
 * string has exactly one encoding and ids compare equal as strings.
 */
export function fromBase64Url(text: string): Uint8Array {
  if (typeof text !== 'string' || !B64URL_PATTERN.test(text) || text.length % 4 === 1) {
    throw new CryptoError('BAD_INPUT', 'not valid unpadded base64url');
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const c of text) {
    value = (value << 6) | B64URL_VALUES.get(c)!;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  if ((value & ((1 << bits) - 1)) !== 0) throw new CryptoError('BAD_INPUT', 'base64url has non-zero trailing bits');
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
