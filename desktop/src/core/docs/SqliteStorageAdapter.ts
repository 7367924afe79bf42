import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo';

// encodeURIComponent never emits '/', so the separator only ever appears between parts
// and a string prefix of `encoded + SEP` is exactly a key-part prefix.
const SEP = '/';
// The code point right after SEP, so [prefix + SEP, prefix + SEP_NEXT) holds exactly the keys under prefix.
const SEP_NEXT = '0';
const SYNC_STATE = 'sync-state';

function encodePart(part: string): string {
  try {
    return encodeURIComponent(part);
  } catch {
    // A lone surrogate would be silently mangled by UTF-8 storage and collide with another key.
    throw new TypeError(`storage key part is not well-formed UTF-16: ${JSON.stringify(part)}`);
  }
}

function encodeKey(key: StorageKey): string {
  // [] and [''] would both encode to '', so the empty key has no single-value meaning.
  if (key.length === 0) throw new TypeError('storage key must not be empty');
  return key.map(encodePart).join(SEP);
}

function decodeKey(encoded: string): StorageKey {
  return encoded.split(SEP).map((part) => decodeURIComponent(part));
}

/** The document whose contents a write to `key` changes, if any. */
function changedDocId(key: StorageKey): string | undefined {
  // Sync states change on every peer exchange without the document changing.
  if (key.length < 2 || key[1] === SYNC_STATE) return undefined;
  return key[0];
}

interface DataRow {
  key: string;
  data: Buffer;
}

interface VersionRow {
  doc_id: string;
  seq: number;
}

/**
 * Durable automerge-repo storage in one SQLite file: a save has been fsynced when it resolves.
 * Also keeps a per-document storage version so readers can skip documents that did not change.
 */
export class SqliteStorageAdapter implements StorageAdapterInterface {
  readonly #db: Database.Database;
  readonly #select: Database.Statement<[string], DataRow>;
  readonly #selectRange: Database.Statement<[string, string, string], DataRow>;
  readonly #selectAll: Database.Statement<[], DataRow>;
  readonly #upsert: Database.Statement<[string, Buffer]>;
  readonly #delete: Database.Statement<[string]>;
  readonly #deleteRange: Database.Statement<[string, string, string], Pick<DataRow, 'key'>>;
  readonly #deleteAll: Database.Statement<[], Pick<DataRow, 'key'>>;
  readonly #nextSeq: Database.Statement<[], { value: number }>;
  readonly #setVersion: Database.Statement<[string, number]>;
  readonly #version: Database.Statement<[string], Pick<VersionRow, 'seq'>>;
  readonly #versions: Database.Statement<[], VersionRow>;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { timeout: 5000 });
    this.#db = db;
    try {
      db.pragma('journal_mode = WAL');
      // FULL (not NORMAL) so each WAL commit is fsynced before save() resolves.
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.exec(`
        CREATE TABLE IF NOT EXISTS chunks (key TEXT PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS doc_versions (doc_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT OR IGNORE INTO counters (name, value) VALUES ('doc_seq', 0);
      `);
    } catch (error) {
      db.close();
      throw error;
    }
    // Rowid order is insertion order, which automerge-repo's acceptance suite expects from loadRange.
    this.#select = db.prepare('SELECT key, data FROM chunks WHERE key = ?');
    this.#selectRange = db.prepare(
      'SELECT key, data FROM chunks WHERE key = ? OR (key >= ? AND key < ?) ORDER BY rowid',
    );
    this.#selectAll = db.prepare('SELECT key, data FROM chunks ORDER BY rowid');
    // An upsert (not REPLACE) keeps the rowid, so overwriting does not reorder loadRange.
    this.#upsert = db.prepare(
      'INSERT INTO chunks (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data',
    );
    this.#delete = db.prepare('DELETE FROM chunks WHERE key = ?');
    this.#deleteRange = db.prepare('DELETE FROM chunks WHERE key = ? OR (key >= ? AND key < ?) RETURNING key');
    this.#deleteAll = db.prepare('DELETE FROM chunks RETURNING key');
    this.#nextSeq = db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'doc_seq' RETURNING value");
    this.#setVersion = db.prepare(
      'INSERT INTO doc_versions (doc_id, seq) VALUES (?, ?) ON CONFLICT (doc_id) DO UPDATE SET seq = excluded.seq',
    );
    this.#version = db.prepare('SELECT seq FROM doc_versions WHERE doc_id = ?');
    this.#versions = db.prepare('SELECT doc_id, seq FROM doc_versions');
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return settle(() => {
      const row = this.#select.get(encodeKey(key));
      return row === undefined ? undefined : toUint8Array(row.data);
    });
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return settle(() => {
      const encoded = encodeKey(key);
      const blob = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      this.#db.transaction(() => {
        this.#upsert.run(encoded, blob);
        this.#bump(changedDocId(key));
      })();
    });
  }

  remove(key: StorageKey): Promise<void> {
    return settle(() => {
      const encoded = encodeKey(key);
      this.#db.transaction(() => {
        if (this.#delete.run(encoded).changes > 0) this.#bump(changedDocId(key));
      })();
    });
  }

  loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    return settle(() => {
      const rows = keyPrefix.length === 0 ? this.#selectAll.all() : this.#selectRange.all(...rangeOf(keyPrefix));
      return rows.map((row) => ({ key: decodeKey(row.key), data: toUint8Array(row.data) }));
    });
  }

  removeRange(keyPrefix: StorageKey): Promise<void> {
    return settle(() => {
      const range = keyPrefix.length === 0 ? undefined : rangeOf(keyPrefix);
      this.#db.transaction(() => {
        const removed = range === undefined ? this.#deleteAll.all() : this.#deleteRange.all(...range);
        const docs = new Set<string>();
        for (const row of removed) {
          const docId = changedDocId(decodeKey(row.key));
          if (docId !== undefined) docs.add(docId);
        }
        for (const docId of docs) this.#bump(docId);
      })();
    });
  }

  /** Storage version of every document ever written; larger means written later. */
  docVersions(): Map<string, number> {
    return new Map(this.#versions.all().map((row) => [row.doc_id, row.seq]));
  }

  /** Storage version of one document, 0 if it was never written. */
  docVersion(docId: string): number {
    return this.#version.get(docId)?.seq ?? 0;
  }

  close(): void {
    this.#db.close();
  }

  #bump(docId: string | undefined): void {
    if (docId === undefined) return;
    const next = this.#nextSeq.get();
    if (next === undefined) throw new Error('doc_seq counter row is missing');
    this.#setVersion.run(docId, next.value);
  }
}

/** The exact key plus the half-open range of keys strictly under it. */
function rangeOf(keyPrefix: StorageKey): [string, string, string] {
  const exact = encodeKey(keyPrefix);
  return [exact, exact + SEP, exact + SEP_NEXT];
}

// Buffers from better-sqlite3 are Node Buffers; callers (and the acceptance suite) expect plain Uint8Arrays.
function toUint8Array(data: Buffer): Uint8Array {
  return new Uint8Array(data);
}

// Runs synchronously so calls issued back to back hit the database in call order, but reports errors as rejections.
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
