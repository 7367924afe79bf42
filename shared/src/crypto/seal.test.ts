import { describe, expect, it } from 'vitest';
import { encodeFields, randomBytes, utf8Decode, utf8Encode } from './bytes.ts';
import { open, openFrame, seal, sealFrame } from './seal.ts';

const key = randomBytes(32);
const aad = encodeFields('account-1', 'doc-1', 'change');
const plaintext = utf8Encode('an Automerge change chunk');

function flip(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const copy = bytes.slice();
  copy[index]! ^= 1 << bit;
  return copy;
}

function decryptFailed(fn: () => unknown): void {
  expect(fn).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'DECRYPT_FAILED' }));
}

describe('seal / open', () => {
  it('round-trips, with a fresh nonce every time', () => {
    const a = seal(key, plaintext, aad);
    const b = seal(key, plaintext, aad);
    expect(a.nonce).toHaveLength(24);
    expect(a.nonce).not.toEqual(b.nonce);
    expect(a.ciphertext).not.toEqual(b.ciphertext);
    expect(utf8Decode(open(key, a.nonce, a.ciphertext, aad))).toBe('an Automerge change chunk');
  });

  it('round-trips an empty plaintext', () => {
    const s = seal(key, new Uint8Array(0), aad);
    expect(open(key, s.nonce, s.ciphertext, aad)).toEqual(new Uint8Array(0));
  });

  it('fails on any single-bit change to ciphertext, nonce or AAD', () => {
    const { nonce, ciphertext } = seal(key, plaintext, aad);
    for (let i = 0; i < ciphertext.length; i++) decryptFailed(() => open(key, nonce, flip(ciphertext, i, i % 8), aad));
    for (let i = 0; i < nonce.length; i++) decryptFailed(() => open(key, flip(nonce, i, 7), ciphertext, aad));
    for (let i = 0; i < aad.length; i++) decryptFailed(() => open(key, nonce, ciphertext, flip(aad, i, 3)));
  });

  it('fails for another document, a wrong key, or a truncated ciphertext', () => {
    const { nonce, ciphertext } = seal(key, plaintext, aad);
    decryptFailed(() => open(key, nonce, ciphertext, encodeFields('account-1', 'doc-2', 'change')));
    decryptFailed(() => open(randomBytes(32), nonce, ciphertext, aad));
    decryptFailed(() => open(key, nonce, ciphertext.subarray(0, 10), aad));
    decryptFailed(() => open(key, nonce.subarray(0, 12), ciphertext, aad));
  });

  it('rejects a key of the wrong size as BAD_KEY', () => {
    expect(() => seal(randomBytes(16), plaintext, aad)).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
  });
});

describe('sealFrame / openFrame', () => {
  it('round-trips as one Uint8Array: version, nonce, ciphertext', () => {
    const frame = sealFrame(key, plaintext, aad);
    expect(frame[0]).toBe(1);
    expect(frame).toHaveLength(1 + 24 + plaintext.length + 16);
    expect(openFrame(key, frame, aad)).toEqual(plaintext);
  });

  it('fails on any single-bit change, a wrong key, wrong AAD or a short frame', () => {
    const frame = sealFrame(key, plaintext, aad);
    for (let i = 0; i < frame.length; i++) decryptFailed(() => openFrame(key, flip(frame, i, (i * 3) % 8), aad));
    decryptFailed(() => openFrame(randomBytes(32), frame, aad));
    decryptFailed(() => openFrame(key, frame, encodeFields('account-1', 'doc-1', 'snapshot')));
    decryptFailed(() => openFrame(key, frame.subarray(0, 30), aad));
  });

  it('is not interchangeable with an unframed seal', () => {
    const { nonce, ciphertext } = seal(key, plaintext, aad);
    const forged = Uint8Array.of(1, ...nonce, ...ciphertext);
    decryptFailed(() => openFrame(key, forged, aad));
  });
});
