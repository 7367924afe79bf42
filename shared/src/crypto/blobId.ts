import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { toBase64Url } from './bytes.ts';
import { CryptoError, requireKey } from './errors.ts';

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * The name a blob has on the relay. A keyed hash rather than the SHA-256 itself: a relay that
 * knows a file's plain hash could otherwise confirm that this account stores that file.
 * Still deterministic per account, so devices agree on names and deduplicate uploads.
 */
export function blobId(blobIdKey: Uint8Array, sha256Hex: string): string {
  requireKey(blobIdKey, 32, 'blob id key');
  if (typeof sha256Hex !== 'string' || !SHA256_HEX.test(sha256Hex)) {
    throw new CryptoError('BAD_INPUT', 'expected a SHA-256 as 64 hex digits');
  }
  // MAC the raw digest so upper- and lower-case hex name the same blob.
  return toBase64Url(hmac(sha256, blobIdKey, hexToBytes(sha256Hex.toLowerCase())));
}
