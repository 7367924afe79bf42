import { describe, expect, it } from 'vitest';
import { randomBytes } from './bytes.ts';
import { newDeviceKeyPair, RELAY_AUTH_LABEL, relayAuthContext, signChallenge, verifyChallenge } from './deviceKeys.ts';

const relay = relayAuthContext('https://relay.example');

describe('device keys', () => {
  it('makes distinct Ed25519 key pairs', () => {
    const a = newDeviceKeyPair();
    expect(a.publicKey).toHaveLength(32);
    expect(a.secretKey).toHaveLength(32);
    expect(a.publicKey).not.toEqual(newDeviceKeyPair().publicKey);
  });

  it('verifies a signature over the same challenge, context and origin', () => {
    const { publicKey, secretKey } = newDeviceKeyPair();
    const challenge = randomBytes(32);
    const signature = signChallenge(secretKey, challenge, relay);
    expect(signature).toHaveLength(64);
    expect(verifyChallenge(publicKey, challenge, signature, relay)).toBe(true);
    // Only the origin is signed, so path and trailing slash do not matter.
    expect(verifyChallenge(publicKey, challenge, signature, relayAuthContext('https://RELAY.example/sync'))).toBe(true);
  });

  it('rejects another challenge, context label, relay origin or public key', () => {
    const { publicKey, secretKey } = newDeviceKeyPair();
    const challenge = randomBytes(32);
    const signature = signChallenge(secretKey, challenge, relay);
    expect(verifyChallenge(publicKey, randomBytes(32), signature, relay)).toBe(false);
    expect(verifyChallenge(publicKey, challenge, signature, { label: 'lva-other-purpose-v1', relayOrigin: 'https://relay.example' })).toBe(false);
    expect(verifyChallenge(publicKey, challenge, signature, relayAuthContext('https://evil.example'))).toBe(false);
    expect(verifyChallenge(publicKey, challenge, signature, relayAuthContext('http://relay.example'))).toBe(false);
    expect(verifyChallenge(publicKey, challenge, signature, relayAuthContext('https://relay.example:8443'))).toBe(false);
    expect(verifyChallenge(newDeviceKeyPair().publicKey, challenge, signature, relay)).toBe(false);
  });

  it('returns false, never throws, on malformed input', () => {
    const { publicKey, secretKey } = newDeviceKeyPair();
    const challenge = randomBytes(32);
    const signature = signChallenge(secretKey, challenge, relay);
    const tampered = signature.slice();
    tampered[10]! ^= 1;
    expect(verifyChallenge(publicKey, challenge, tampered, relay)).toBe(false);
    expect(verifyChallenge(publicKey, challenge, signature.subarray(0, 63), relay)).toBe(false);
    expect(verifyChallenge(publicKey.subarray(0, 31), challenge, signature, relay)).toBe(false);
    expect(verifyChallenge(new Uint8Array(32).fill(0xff), challenge, signature, relay)).toBe(false);
    expect(verifyChallenge(publicKey, new Uint8Array(0), signature, relay)).toBe(false);
    expect(verifyChallenge(publicKey, challenge, signature, relayAuthContext('not a url'))).toBe(false);
    expect(verifyChallenge(publicKey, challenge, signature, { label: '', relayOrigin: 'https://relay.example' })).toBe(false);
  });

  it('refuses to sign a short challenge or with a malformed key', () => {
    const { secretKey } = newDeviceKeyPair();
    expect(() => signChallenge(secretKey, randomBytes(8), relay)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => signChallenge(secretKey.subarray(0, 16), randomBytes(32), relay)).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
    expect(relay.label).toBe(RELAY_AUTH_LABEL);
  });
});
