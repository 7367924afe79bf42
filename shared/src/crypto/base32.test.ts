import { describe, expect, it } from 'vitest';
import { fromCrockford, toCrockford } from './base32.ts';
import { randomBytes } from './bytes.ts';

describe('Crockford base32', () => {
  it('round-trips every length', () => {
    for (let n = 0; n < 30; n++) {
      const bytes = randomBytes(n);
      const text = toCrockford(bytes);
      expect(text).toMatch(/^[0-9A-HJKMNP-TV-Z]*$/);
      expect(text).toHaveLength(Math.ceil((n * 8) / 5));
      expect(fromCrockford(text)).toEqual(bytes);
    }
  });

  it('encodes a known value', () => {
    expect(toCrockford(Uint8Array.of(0xff, 0x00, 0x10, 0x20, 0x30))).toBe('ZW01081G');
  });

  it('rejects characters outside the alphabet and non-zero padding', () => {
    expect(() => fromCrockford('U0')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => fromCrockford('01')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});
