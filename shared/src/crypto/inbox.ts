import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, randomBytes, utf8Encode } from './bytes.ts';
import { CryptoError, requireKey } from './errors.ts';
import { NONCE_LENGTH, TAG_LENGTH } from './seal.ts';

const KEY_LENGTH = 32;
const INBOX_INFO = utf8Encode('lva/v1/inbox/sealed-box');

export type InboxKeyPair = { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array };

export function newInboxKeyPair(): InboxKeyPair {
  const { publicKey, secretKey } = x25519.keygen(randomBytes(KEY_LENGTH));
  return { publicKey, secretKey };
}

/**
 * Both public keys go into the KDF salt so the box key is bound to this exact sender/recipient
 * pair: a ciphertext cannot be re-targeted by swapping the ephemeral key.
 */
function boxKey(sharedSecret: Uint8Array, ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  return hkdf(sha256, sharedSecret, concatBytes(ephemeralPublicKey, recipientPublicKey), INBOX_INFO, KEY_LENGTH);
}

/**
 * Anonymous one-way encryption for the phone-call inbox: whoever holds only the public key
 * (the telephony side) can write, only the devices can read. Output:
 * ephemeral public key (32) ‖ nonce (24) ‖ ciphertext with tag.
 */
export function sealToInbox(recipientPublicKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  requireKey(recipientPublicKey, KEY_LENGTH, 'inbox public key');
  const ephemeral = x25519.keygen(randomBytes(KEY_LENGTH));
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(ephemeral.secretKey, recipientPublicKey);
  } catch (cause) {
    // Low-order points give an all-zero secret: refuse rather than encrypt under a known key.
    throw new CryptoError('BAD_KEY', 'inbox public key is not a usable X25519 key', { cause });
  }
  const key = boxKey(shared, ephemeral.publicKey, recipientPublicKey);
  const nonce = randomBytes(NONCE_LENGTH);
  const ciphertext = xchacha20poly1305(key, nonce).encrypt(plaintext);
  return concatBytes(ephemeral.publicKey, nonce, ciphertext);
}

export function openInbox(keyPair: InboxKeyPair, sealed: Uint8Array): Uint8Array {
  requireKey(keyPair.secretKey, KEY_LENGTH, 'inbox secret key');
  requireKey(keyPair.publicKey, KEY_LENGTH, 'inbox public key');
  if (sealed.length < KEY_LENGTH + NONCE_LENGTH + TAG_LENGTH) throw new CryptoError('DECRYPT_FAILED', 'sealed message is too short');
  const ephemeralPublicKey = sealed.subarray(0, KEY_LENGTH);
  const nonce = sealed.subarray(KEY_LENGTH, KEY_LENGTH + NONCE_LENGTH);
  try {
    const shared = x25519.getSharedSecret(keyPair.secretKey, ephemeralPublicKey);
    const key = boxKey(shared, ephemeralPublicKey, keyPair.publicKey);
    return xchacha20poly1305(key, nonce).decrypt(sealed.subarray(KEY_LENGTH + NONCE_LENGTH));
  } catch (cause) {
    throw new CryptoError('DECRYPT_FAILED', 'could not open inbox message: wrong key pair or tampered data', { cause });
  }
}
