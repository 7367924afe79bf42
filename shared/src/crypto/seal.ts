import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { concatBytes, randomBytes } from './bytes.ts';
import { CryptoError, requireKey } from './errors.ts';

export const SEAL_KEY_LENGTH = 32;
export const NONCE_LENGTH = 24;
export const TAG_LENGTH = 16;
export const FRAME_VERSION = 1;
const FRAME_HEADER_LENGTH = 1 + NONCE_LENGTH;

export type Sealed = { readonly nonce: Uint8Array; readonly ciphertext: Uint8Array };

/**
 * XChaCha20-Poly1305 with a random nonce: 192 bits make random nonces safe for any number of
 * messages under one key, so devices never coordinate counters.
 * `aad` is authenticated but not encrypted: pass the context (account, document, chunk kind,
 * e.g. built with `encodeFields`) so the relay cannot replay a ciphertext somewhere else.
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Sealed {
  requireKey(key, SEAL_KEY_LENGTH, 'seal key');
  const nonce = randomBytes(NONCE_LENGTH);
  return { nonce, ciphertext: xchacha20poly1305(key, nonce, aad).encrypt(plaintext) };
}

/** Any problem with untrusted input is DECRYPT_FAILED: callers need not tell tampering from corruption. */
export function open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
  requireKey(key, SEAL_KEY_LENGTH, 'seal key');
  if (nonce.length !== NONCE_LENGTH || ciphertext.length < TAG_LENGTH) {
    throw new CryptoError('DECRYPT_FAILED', 'ciphertext or nonce has the wrong length');
  }
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(ciphertext);
  } catch (cause) {
    throw new CryptoError('DECRYPT_FAILED', 'could not decrypt: wrong key, wrong context or tampered data', { cause });
  }
}

// The version byte is authenticated too, so a later format can never be confused with this one.
function frameAad(version: number, aad: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(version), aad);
}

/** One self-contained Uint8Array: version (1) ‖ nonce (24) ‖ ciphertext with tag. */
export function sealFrame(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const { nonce, ciphertext } = seal(key, plaintext, frameAad(FRAME_VERSION, aad));
  return concatBytes(Uint8Array.of(FRAME_VERSION), nonce, ciphertext);
}

export function openFrame(key: Uint8Array, frame: Uint8Array, aad: Uint8Array): Uint8Array {
  requireKey(key, SEAL_KEY_LENGTH, 'seal key');
  if (frame.length < FRAME_HEADER_LENGTH + TAG_LENGTH) throw new CryptoError('DECRYPT_FAILED', 'frame is too short');
  const version = frame[0]!;
  if (version !== FRAME_VERSION) throw new CryptoError('DECRYPT_FAILED', `unsupported frame version ${version}`);
  return open(key, frame.subarray(1, FRAME_HEADER_LENGTH), frame.subarray(FRAME_HEADER_LENGTH), frameAad(version, aad));
}
