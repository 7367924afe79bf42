import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreError } from '../errors.ts';
import { BlobStore, MAX_BLOB_BYTES } from './BlobStore.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CoreError);
    return (err as CoreError).code;
  }
  return undefined;
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('BlobStore', () => {
  const dirs: string[] = [];

  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-blobs-'));
    dirs.push(dir);
    return dir;
  }

  function newStore(): { store: BlobStore; dir: string } {
    const dir = path.join(tempDir(), 'blobs');
    return { store: new BlobStore(dir), dir };
  }

  it('addresses bytes by their SHA-256 and stores identical bytes once', () => {
    const { store, dir } = newStore();
    const bytes = Buffer.from('a voice memo about photosynthesis');
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');

    const first = store.put(bytes);
    expect(first).toEqual({ sha256: sha, size: bytes.length, created: true });
    const second = store.put(new Uint8Array(bytes));
    expect(second).toEqual({ sha256: sha, size: bytes.length, created: false });

    expect(walk(dir)).toEqual([path.join(dir, sha.slice(0, 2), sha)]);
    expect(store.has(sha)).toBe(true);
    expect(store.get(sha).equals(bytes)).toBe(true);
  });

  it('gives different bytes different ids', () => {
    const { store } = newStore();
    const a = store.put(Buffer.from('one'));
    const b = store.put(Buffer.from('two'));
    expect(a.sha256).not.toBe(b.sha256);
    expect(store.get(a.sha256).toString()).toBe('one');
    expect(store.get(b.sha256).toString()).toBe('two');
  });

  it('shards files into directories named by the first two hex characters', () => {
    const { store, dir } = newStore();
    const ids = Array.from({ length: 20 }, (_, i) => store.put(Buffer.from(`blob number ${i}`)).sha256);
    for (const sha of ids) {
      const expected = path.join(dir, sha.slice(0, 2), sha);
      expect(store.pathOf(sha)).toBe(expected);
      expect(fs.existsSync(expected)).toBe(true);
    }
    expect(fs.readdirSync(dir).every((name) => /^[0-9a-f]{2}$/.test(name))).toBe(true);
    expect(walk(dir)).toHaveLength(20);
  });

  it('stores the empty file', () => {
    const { store } = newStore();
    const blob = store.put(new Uint8Array(0));
    expect(blob.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(store.get(blob.sha256)).toHaveLength(0);
  });

  it('putFile stores a file’s bytes', () => {
    const { store } = newStore();
    const source = path.join(tempDir(), 'scan.pdf');
    const bytes = crypto.randomBytes(100_000);
    fs.writeFileSync(source, bytes);
    const blob = store.putFile(source);
    expect(blob.size).toBe(100_000);
    expect(blob.created).toBe(true);
    expect(store.get(blob.sha256).equals(bytes)).toBe(true);
    expect(store.putFile(source).created).toBe(false);
  });

  it('rejects a file over the size limit with TOO_LARGE, storing nothing', () => {
    const { store, dir } = newStore();
    const source = path.join(tempDir(), 'huge.wav');
    fs.writeFileSync(source, '');
    // Sparse: the size is set without writing (or allocating) 200 MB.
    fs.truncateSync(source, MAX_BLOB_BYTES + 1);
    expect(fs.statSync(source).size).toBe(MAX_BLOB_BYTES + 1);

    expect(codeOf(() => store.putFile(source))).toBe('TOO_LARGE');
    try {
      store.putFile(source);
    } catch (err) {
      expect((err as Error).message).toMatch(/limit is 200\.0 MB/);
    }
    expect(walk(dir)).toEqual([]);
  });

  it('reports an unknown blob as NOT_FOUND', () => {
    const { store } = newStore();
    const missing = crypto.createHash('sha256').update('never stored').digest('hex');
    expect(store.has(missing)).toBe(false);
    expect(codeOf(() => store.get(missing))).toBe('NOT_FOUND');
  });

  it('rejects ids that are not lowercase SHA-256 hex with BAD_INPUT, so they never become paths', () => {
    const { store } = newStore();
    const real = store.put(Buffer.from('x')).sha256;
    for (const bad of ['', 'abc', '../../etc/passwd', real.toUpperCase(), `${real}0`, `${real.slice(0, 62)}/x`, real.replace(/.$/, 'g')]) {
      expect(codeOf(() => store.get(bad))).toBe('BAD_INPUT');
      expect(codeOf(() => store.has(bad))).toBe('BAD_INPUT');
      expect(codeOf(() => store.pathOf(bad))).toBe('BAD_INPUT');
    }
  });

  it('leaves no temporary files behind', () => {
    const { store, dir } = newStore();
    for (let i = 0; i < 10; i++) store.put(crypto.randomBytes(1000 + i));
    store.put(Buffer.from('dup'));
    store.put(Buffer.from('dup'));
    const files = walk(dir);
    expect(files).toHaveLength(11);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('removes its temporary file when storing fails', () => {
    const { store, dir } = newStore();
    const bytes = Buffer.from('cannot be renamed into place');
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');
    // Something that is not a file sits where the blob belongs, so the final rename fails.
    fs.mkdirSync(path.join(store.pathOf(sha), 'in-the-way'), { recursive: true });
    expect(() => store.put(bytes)).toThrow();
    expect(fs.readdirSync(path.join(dir, sha.slice(0, 2)))).toEqual([sha]);
  });

  it('rewrites a stored blob whose file was cut short', () => {
    const { store } = newStore();
    const bytes = crypto.randomBytes(5000);
    const { sha256 } = store.put(bytes);
    fs.truncateSync(store.pathOf(sha256), 100);
    const again = store.put(bytes);
    expect(again.created).toBe(true);
    expect(store.get(sha256).equals(bytes)).toBe(true);
  });

  it('keeps blobs across instances on the same directory', () => {
    const { store, dir } = newStore();
    const { sha256 } = store.put(Buffer.from('persisted'));
    const reopened = new BlobStore(dir);
    expect(reopened.get(sha256).toString()).toBe('persisted');
    expect(reopened.put(Buffer.from('persisted')).created).toBe(false);
  });
});
