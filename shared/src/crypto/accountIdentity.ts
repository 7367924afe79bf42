import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ACCOUNT_KEY_LENGTH } from './accountKeys.ts';
import { encodeFields, toBase64Url, utf8Encode } from './bytes.ts';
import type { DeviceKeyPair } from './deviceKeys.ts';
import type { InboxKeyPair } from './inbox.ts';
import { requireKey } from './errors.ts';

const ACCOUNT_ID_INFO = utf8Encode('lva/v1/account-id');
const RECOVERY_KEY_INFO = utf8Encode('lva/v1/recovery-signing-key');
const INBOX_KEY_INFO = utf8Encode('lva/v1/inbox-key');
const ACCOUNT_ID_BYTES = 16;
export const RECOVERY_LABEL = 'lva-relay-recover-v1';

/**
 * The account's name on the relay, derived from the account key so that the recovery phrase alone
 * finds the account again. HKDF is one-way: the relay learns nothing about the key from it.
 */
export function accountIdFor(accountKey: Uint8Array): string {
  requireKey(accountKey, ACCOUNT_KEY_LENGTH, 'account key');
  return toBase64Url(hkdf(sha256, accountKey, undefined, ACCOUNT_ID_INFO, ACCOUNT_ID_BYTES));
}

/**
 * A signing key that only the account key can produce. Its public half is registered with the
 * account, so that when every device is lost the recovery phrase can still prove ownership and
 * enrol a new device; no device ever stores the secret half.
 */
export function recoveryKeyPair(accountKey: Uint8Array): DeviceKeyPair {
  requireKey(accountKey, ACCOUNT_KEY_LENGTH, 'account key');
  const secretKey = hkdf(sha256, accountKey, undefined, RECOVERY_KEY_INFO, 32);
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/**
 * The X25519 key pair of the phone-call inbox. Derived, like the account id, so every device (and a
 * recovered one) can open what the relay sealed to it, without the secret ever travelling; the
 * relay gets the public half when the account is created.
 */
export function inboxKeyPairFor(accountKey: Uint8Array): InboxKeyPair {
  requireKey(accountKey, ACCOUNT_KEY_LENGTH, 'account key');
  const secretKey = hkdf(sha256, accountKey, undefined, INBOX_KEY_INFO, 32);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/** What the recovery key signs to enrol a device: bound to the relay host, account, device and time. */
export function recoveryMessage(relayHost: string, accountId: string, deviceId: string, devicePublicKey: Uint8Array, timestamp: number): Uint8Array {
  return encodeFields(RECOVERY_LABEL, relayHost.toLowerCase(), accountId, deviceId, devicePublicKey, String(timestamp));
}

export function signRecovery(accountKey: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, recoveryKeyPair(accountKey).secretKey);
}
