import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, encodeFields, fromBase64Url, portableFromCanonicalBase64Url, portableToBase64Url, randomBytes, toBase64Url, utf8Decode, utf8Encode } from './bytes.ts';
import { isCryptoError } from './errors.ts';

function badInput(fn: () => unknown): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
}

describe('bytes', () => {
  it('makes random bytes of any length, including over the 64 KiB getRandomValues limit', () => {
    expect(randomBytes(0)).toHaveLength(0);
    const big = randomBytes(70_000);
    expect(big).toHaveLength(70_000);
    expect(big.subarray(65_536).some((b) => b !== 0)).toBe(true);
    expect(randomBytes(32)).not.toEqual(randomBytes(32));
  });

  it('encodes base64url like Node does, for every length remainder', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = randomBytes(n);
      const text = toBase64Url(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64url'));
      expect(fromBase64Url(text)).toEqual(bytes);
    }
  });

  it('rejects malformed base64url', () => {
    for (const bad of ['a', 'ab=', 'a+b/', 'ab cd', 'abc=', 'AB', 'AAB']) badInput(() => fromBase64Url(bad));
    // 'AA' is canonical for one zero byte; 'AB' and 'AAB' carry non-zero trailing bits.
    expect(fromBase64Url('AA')).toEqual(Uint8Array.of(0));
  });

  it('compares bytes', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1))).toBe(false);
  });

  it('round-trips UTF-8 and rejects invalid UTF-8', () => {
    expect(utf8Decode(utf8Encode('Grüße 👋'))).toBe('Grüße 👋');
    try {
      utf8Decode(Uint8Array.of(0xff, 0xfe));
      expect.unreachable();
    } catch (error) {
      expect(isCryptoError(error, 'BAD_INPUT')).toBe(true);
    }
  });

  it('encodes fields unambiguously', () => {
    expect(encodeFields('ab', 'c')).not.toEqual(encodeFields('a', 'bc'));
    expect(encodeFields('a', Uint8Array.of(1))).toEqual(Uint8Array.of(0, 0, 0, 1, 97, 0, 0, 0, 1, 1));
  });

  it('encodes the same in the browser path as with the native one, at every length and across block edges', () => {
    for (const length of [0, 1, 2, 3, 4, 5, 31, 0x2000 - 1, 0x2000, 0x2000 + 1, 3 * 0x2000 + 2, 100_000]) {
      const bytes = randomBytes(length);
      const encoded = toBase64Url(bytes);
      expect(portableToBase64Url(bytes)).toBe(encoded);
      expect(portableFromCanonicalBase64Url(encoded)).toEqual(bytes);
      expect(fromBase64Url(encoded)).toEqual(bytes);
    }
  });
});
