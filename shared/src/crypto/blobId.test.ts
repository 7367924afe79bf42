import { describe, expect, it } from 'vitest';
import { deriveSubkeys, newAccountKey } from './accountKeys.ts';
import { blobId } from './blobId.ts';
import { fromBase64Url, toBase64Url } from './bytes.ts';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('blobId', () => {
  it('is deterministic per key and case-insensitive in the hex', () => {
    const { blobIdKey } = deriveSubkeys(newAccountKey());
    expect(blobId(blobIdKey, EMPTY_SHA256)).toBe(blobId(blobIdKey.slice(), EMPTY_SHA256.toUpperCase()));
    expect(fromBase64Url(blobId(blobIdKey, EMPTY_SHA256))).toHaveLength(32);
  });

  it('differs across keys and across files, and never reveals the plain hash', () => {
    const a = deriveSubkeys(newAccountKey()).blobIdKey;
    const b = deriveSubkeys(newAccountKey()).blobIdKey;
    const other = 'a'.repeat(64);
    expect(blobId(a, EMPTY_SHA256)).not.toBe(blobId(b, EMPTY_SHA256));
    expect(blobId(a, EMPTY_SHA256)).not.toBe(blobId(a, other));
    const plain = Uint8Array.from(EMPTY_SHA256.match(/../g)!.map((h) => parseInt(h, 16)));
    expect(blobId(a, EMPTY_SHA256)).not.toBe(toBase64Url(plain));
    expect(blobId(a, EMPTY_SHA256)).not.toContain(EMPTY_SHA256);
  });

  it('matches an independent HMAC-SHA256 (node:crypto)', () => {
    const { blobIdKey } = deriveSubkeys(new Uint8Array(32));
    expect(blobId(blobIdKey, EMPTY_SHA256)).toBe('0crxAigIDghHojg3KIaEelxSlka7Kk3qOihISLZveQ0');
  });

  it('rejects anything but a 64-hex-digit hash and keys of the wrong size', () => {
    const { blobIdKey } = deriveSubkeys(newAccountKey());
    for (const bad of ['', 'abc', EMPTY_SHA256.slice(1), `${EMPTY_SHA256}0`, 'g'.repeat(64)]) {
      expect(() => blobId(blobIdKey, bad)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    }
    expect(() => blobId(new Uint8Array(16), EMPTY_SHA256)).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
  });
});
