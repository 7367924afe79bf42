import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes, utf8Encode } from './bytes.ts';
import { requireKey } from './errors.ts';

export const ACCOUNT_KEY_LENGTH = 32;
const SUBKEY_LENGTH = 32;

// Versioned labels: changing a derivation later means a new label, never reusing an old one.
const SUBKEY_INFO = {
  chunkKey: 'lva/v1/subkey/automerge-chunk',
  blobKey: 'lva/v1/subkey/blob',
  blobIdKey: 'lva/v1/subkey/blob-id',
  snapshotKey: 'lva/v1/subkey/snapshot',
} as const;

export type SubkeyPurpose = keyof typeof SUBKEY_INFO;
export type Subkeys = Readonly<Record<SubkeyPurpose, Uint8Array>>;

/** The root secret of an account: every device holds it, the relay never does. */
export function newAccountKey(): Uint8Array {
  return randomBytes(ACCOUNT_KEY_LENGTH);
}

/**
 * One subkey per purpose, so a key never serves two algorithms or two kinds of data.
 * No salt: the account key is already uniformly random, which is the case RFC 5869 §3.1
 * allows it to be omitted, and it keeps derivation a pure function of the key.
 */
export function deriveSubkeys(accountKey: Uint8Array): Subkeys {
  requireKey(accountKey, ACCOUNT_KEY_LENGTH, 'account key');
  const derive = (purpose: SubkeyPurpose): Uint8Array =>
    hkdf(sha256, accountKey, undefined, utf8Encode(SUBKEY_INFO[purpose]), SUBKEY_LENGTH);
  return Object.freeze({
    chunkKey: derive('chunkKey'),
    blobKey: derive('blobKey'),
    blobIdKey: derive('blobIdKey'),
    snapshotKey: derive('snapshotKey'),
  });
}
