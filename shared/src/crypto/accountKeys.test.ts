import { describe, expect, it } from 'vitest';
import { deriveSubkeys, newAccountKey } from './accountKeys.ts';
import { toBase64Url } from './bytes.ts';

describe('account keys', () => {
  it('makes fresh 32-byte account keys', () => {
    const a = newAccountKey();
    expect(a).toHaveLength(32);
    expect(a).not.toEqual(newAccountKey());
  });

  it('derives distinct, deterministic 32-byte subkeys', () => {
    const key = newAccountKey();
    const subkeys = deriveSubkeys(key);
    const values = Object.values(subkeys).map(toBase64Url);
    expect(values).toHaveLength(4);
    expect(new Set([...values, toBase64Url(key)]).size).toBe(5);
    for (const subkey of Object.values(subkeys)) expect(subkey).toHaveLength(32);
    expect(deriveSubkeys(key.slice())).toEqual(subkeys);
    expect(deriveSubkeys(newAccountKey()).chunkKey).not.toEqual(subkeys.chunkKey);
  });

  it('pins the derivation so a library or label change cannot silently orphan existing data', () => {
    // Expected value computed independently with node:crypto hkdfSync.
    expect(toBase64Url(deriveSubkeys(new Uint8Array(32)).chunkKey)).toBe('C8b8Rz3SA5uARV9yvLL5LXE6E_WQqbocIbSPKmGv8Mo');
  });

  it('rejects keys of the wrong size', () => {
    expect(() => deriveSubkeys(new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
  });
});
