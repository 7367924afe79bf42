import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CoreError } from '../errors.ts';
import { fsyncDir } from '../fsync.ts';

/** 200 MB: a two-hour voice memo in Opus is ~60 MB; a scanned textbook PDF can be larger than that. */
export const MAX_BLOB_BYTES = 200 * 1024 * 1024;

export interface StoredBlob {
  sha256: string;
  size: number;
  /** False when identical bytes were already stored. */
  created: boolean;
}

/**
 * Audio, images and PDFs, addressed by SHA-256 and so deduplicated. `put` returns only once the bytes
 * and their directory entry are fsynced, because a capture that refers to a blob is acknowledged after it.
 */
export class BlobStore {
  readonly #dir: string;
  readonly #listeners = new Set<(sha256: string) => void>();

  constructor(dir: string) {
    this.#dir = dir;
    fs.mkdirSync(dir, { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new CoreError('BAD_INPUT', `not a blob id: ${sha256}`);
    return path.join(this.#dir, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    return fs.existsSync(this.pathOf(sha256));
  }

  put(bytes: Uint8Array): StoredBlob {
    if (bytes.byteLength > MAX_BLOB_BYTES) {
      throw new CoreError('TOO_LARGE', `file is ${mb(bytes.byteLength)}; the limit is ${mb(MAX_BLOB_BYTES)}`);
    }
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    const size = bytes.byteLength;
    const file = this.pathOf(sha256);
    if (fs.existsSync(file) && fs.statSync(file).size === size) return { sha256, size, created: false };
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      try {
        // writeFileSync loops until every byte is written; one writeSync may stop short (e.g. on a nearly full disk).
        fs.writeFileSync(fd, bytes);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (err) {
      // A failed write must not leave up to MAX_BLOB_BYTES of partial file behind.
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fsyncDir(dir);
    for (const listener of this.#listeners) listener(sha256);
    return { sha256, size, created: true };
  }

  /** Told of each newly stored blob, after it is durable; sync uses it to upload without rescanning. */
  onPut(listener: (sha256: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every stored blob's SHA-256; partial writes (.tmp) are not blobs. */
  *list(): Generator<string> {
    if (!fs.existsSync(this.#dir)) return;
    for (const sub of fs.readdirSync(this.#dir)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const name of fs.readdirSync(path.join(this.#dir, sub))) if (/^[0-9a-f]{64}$/.test(name)) yield name;
    }
  }

  /** Reads the whole file (the size cap keeps that bounded) and hands the bytes back, so callers need not read it again. */
  putFile(source: string): StoredBlob & { bytes: Buffer } {
    const size = fs.statSync(source).size;
    if (size > MAX_BLOB_BYTES) throw new CoreError('TOO_LARGE', `file is ${mb(size)}; the limit is ${mb(MAX_BLOB_BYTES)}`);
    const bytes = fs.readFileSync(source);
    return { ...this.put(bytes), bytes };
  }

  get(sha256: string): Buffer {
    const file = this.pathOf(sha256);
    if (!fs.existsSync(file)) throw new CoreError('NOT_FOUND', `blob ${sha256} is not on this device`);
    return fs.readFileSync(file);
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
