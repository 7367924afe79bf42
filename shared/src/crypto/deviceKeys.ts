import { ed25519 } from '@noble/curves/ed25519.js';
import { encodeFields, randomBytes } from './bytes.ts';
import { CryptoError, requireKey } from './errors.ts';

export const RELAY_AUTH_LABEL = 'lva-relay-auth-v1';
const MIN_CHALLENGE_LENGTH = 16;

export type DeviceKeyPair = { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array };

/** What a signature is for: a label naming the protocol and the relay it is meant for. */
export type ChallengeContext = { readonly label: string; readonly relayOrigin: string };

export function relayAuthContext(relayOrigin: string): ChallengeContext {
  return { label: RELAY_AUTH_LABEL, relayOrigin };
}

export function newDeviceKeyPair(): DeviceKeyPair {
  const { publicKey, secretKey } = ed25519.keygen(randomBytes(32));
  return { publicKey, secretKey };
}

// Both sides reduce the URL to its origin so 'https://r.example/' and 'https://r.example' agree.
function canonicalOrigin(relayOrigin: string): string {
  let origin: string;
  try {
    origin = new URL(relayOrigin).origin;
  } catch (cause) {
    throw new CryptoError('BAD_INPUT', 'relay origin is not a URL', { cause });
  }
  if (origin === 'null') throw new CryptoError('BAD_INPUT', 'relay origin has no origin (use http(s) or ws(s))');
  return origin;
}

/**
 * The exact bytes signed. Domain separation (label, relay origin, challenge) means a signature
 * made for one relay or purpose is useless at another, even if that relay chose the challenge.
 */
export function challengeMessage(challenge: Uint8Array, context: ChallengeContext): Uint8Array {
  if (!(challenge instanceof Uint8Array) || challenge.length < MIN_CHALLENGE_LENGTH) {
    throw new CryptoError('BAD_INPUT', `challenge must be at least ${MIN_CHALLENGE_LENGTH} bytes`);
  }
  if (!context.label) throw new CryptoError('BAD_INPUT', 'context label is empty');
  return encodeFields(context.label, canonicalOrigin(context.relayOrigin), challenge);
}

export function signChallenge(secretKey: Uint8Array, challenge: Uint8Array, context: ChallengeContext): Uint8Array {
  requireKey(secretKey, 32, 'device secret key');
  return ed25519.sign(challengeMessage(challenge, context), secretKey);
}

/** A relay passes untrusted bytes straight in, so every malformed input is just `false`. */
export function verifyChallenge(publicKey: Uint8Array, challenge: Uint8Array, signature: Uint8Array, context: ChallengeContext): boolean {
  try {
    // zip215: false is strict RFC 8032 decoding: one valid encoding per signature, no malleability.
    return ed25519.verify(signature, challengeMessage(challenge, context), publicKey, { zip215: false });
  } catch {
    return false;
  }
}
