import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import type { Capture, CaptureSource } from '@lva/shared';
import { INDEX_SCHEMA, INDEX_SCHEMA_VERSION } from './indexSchema.ts';
import { VectorStore, type VectorHit } from './VectorStore.ts';

export type { VectorHit };

export interface IndexFilters {
  /** Inclusive lower bound, ms since the epoch. */
  from?: number;
  /** Exclusive upper bound, ms since the epoch. */
  to?: number;
  sources?: readonly CaptureSource[];
  /** A hit must carry every one of these tags. */
  tags?: readonly string[];
}

export interface IndexedCapture {
  rowid: number;
  id: string;
  shard: string;
  createdAt: number;
  source: CaptureSource;
  title: string;
  text: string;
  tags: string[];
  status: Capture['status'];
  blobCount: number;
}

export interface KeywordHit {
  rowid: number;
  /** FTS5 bm25: lower is better. */
  bm25: number;
  /** The best-matching fragment, matches wrapped in HIGHLIGHT_START / HIGHLIGHT_END. */
  snippet: string;
}

export interface ShardState {
  heads: string[];
  storageSeq: number;
}

export interface BacklogItem {
  rowid: number;
  title: string;
  text: string;
  textHash: string;
  createdAt: number;
  source: string;
}

export const HIGHLIGHT_START = '\u0002';
export const HIGHLIGHT_END = '\u0003';

/** What the index embeds: the title carries meaning too, and long texts are cut, since the encoder's cost grows with length. */
export function embeddingInput(title: string, text: string): string {
  const body = text.length > 2000 ? text.slice(0, 2000) : text;
  return title && !body.startsWith(title) ? `${title}. ${body}` : body;
}

function fileSize(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).size : 0;
}

/** SQLite's way of saying the file is damaged, as opposed to a bug or a busy database. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

function hashText(title: string, text: string): string {
  return crypto.createHash('sha1').update(title).update('\0').update(text).digest('base64url');
}

export const NO_INDEX_YET = 'no index yet';

export type IndexOpenStatus = { kind: 'opened' } | { kind: 'created'; reason: string };

/**
 * The derived index: FTS5 over title and text, and one sqlite-vec table per embedder. Everything in it
 * can be rebuilt from the documents, so a missing, corrupt or outdated file is replaced, never repaired.
 */
export class SearchIndex {
  readonly db: Database.Database;
  readonly status: IndexOpenStatus;
  readonly #vectors: VectorStore;

  private constructor(db: Database.Database, status: IndexOpenStatus) {
    this.db = db;
    this.status = status;
    this.#vectors = new VectorStore(db);
  }

  static open(file: string): SearchIndex {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (!fs.existsSync(file)) return new SearchIndex(SearchIndex.#create(file), { kind: 'created', reason: NO_INDEX_YET });
    let db: Database.Database | undefined;
    try {
      db = SearchIndex.#connect(file);
      const version = (db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: string } | undefined)?.value;
      if (version !== INDEX_SCHEMA_VERSION) throw new Error(`index schema ${version ?? 'unknown'} is not ${INDEX_SCHEMA_VERSION}`);
      // Cheap checks only: a full quick_check reads every page (~1 s at 100k captures), so it runs in
      // the background (`check`), and damage found by a query triggers a rebuild then (see isCorruption).
      const expected = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
      const actual = fileSize(file) + fileSize(`${file}-wal`);
      if (expected > actual) throw new Error(`the file is truncated (${actual} of ${expected} bytes)`);
      return new SearchIndex(db, { kind: 'opened' });
    } catch (err) {
      db?.close();
      return SearchIndex.replace(file, `the search index was unreadable (${err instanceof Error ? err.message : String(err)}); rebuilding it from your captures`);
    }
  }

  /** Moves a damaged index aside (keeping only the latest, for diagnosis) and starts an empty one. */
  static replace(file: string, reason: string): SearchIndex {
    const dir = path.dirname(file);
    const base = path.basename(file);
    for (const old of fs.readdirSync(dir)) if (old.startsWith(`${base}.broken-`)) fs.rmSync(path.join(dir, old), { force: true });
    const aside = `${file}.broken-${Date.now()}`;
    for (const suffix of ['', '-wal', '-shm']) {
      if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, aside + suffix);
    }
    return new SearchIndex(SearchIndex.#create(file), { kind: 'created', reason });
  }

  /** The full page-by-page check; slow at scale, so callers run it in the background. Undefined when sound. */
  check(): string | undefined {
    try {
      const result = this.db.pragma('quick_check(1)', { simple: true });
      // quick_check lists every problem on its own line; the notice shown to a person is one line.
      return result === 'ok' ? undefined : `integrity check failed: ${String(result).replace(/\s+/g, ' ').slice(0, 200)}`;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  static #connect(file: string): Database.Database {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    // The index can always be rebuilt, so it trades durability for speed.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    // Measured: KNN over 100k vectors on disk drops from ~98 ms to ~29 ms with mmap.
    db.pragma('mmap_size = 536870912');
    sqliteVec.load(db);
    return db;
  }

  static #create(file: string): Database.Database {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
    const db = SearchIndex.#connect(file);
    db.exec(INDEX_SCHEMA);
    db.prepare(`INSERT INTO meta (key, value) VALUES ('schema', ?)`).run(INDEX_SCHEMA_VERSION);
    return db;
  }

  // ---- shards: which document state the index reflects ----

  shardState(docId: string): ShardState | undefined {
    const row = this.db.prepare(`SELECT heads, storage_seq FROM shards WHERE doc_id = ?`).get(docId) as
      | { heads: string; storage_seq: number }
      | undefined;
    return row ? { heads: JSON.parse(row.heads) as string[], storageSeq: row.storage_seq } : undefined;
  }

  shardStates(): Map<string, ShardState> {
    const rows = this.db.prepare(`SELECT doc_id, heads, storage_seq FROM shards`).all() as { doc_id: string; heads: string; storage_seq: number }[];
    return new Map(rows.map((r) => [r.doc_id, { heads: JSON.parse(r.heads) as string[], storageSeq: r.storage_seq }]));
  }

  /** Brings one shard's rows to the given document state in one transaction, so a crash leaves the old state or the new. */
  applyShard(docId: string, change: { upserts: readonly Capture[]; deletes: readonly string[]; replaceAll: boolean; state: ShardState }): void {
    const tx = this.db.transaction(() => {
      if (change.replaceAll) this.#deleteRows(`SELECT rowid FROM captures WHERE shard = ?`, docId);
      for (const id of change.deletes) this.#deleteRows(`SELECT rowid FROM captures WHERE id = ?`, id);
      const upsert = this.db.prepare(
        `INSERT INTO captures (id, shard, created_at, source, title, text, tags, status, blob_count, text_hash)
         VALUES (@id, @shard, @createdAt, @source, @title, @text, @tags, @status, @blobCount, @hash)
         ON CONFLICT (id) DO UPDATE SET shard = excluded.shard, created_at = excluded.created_at, source = excluded.source,
           title = excluded.title, text = excluded.text, tags = excluded.tags, status = excluded.status,
           blob_count = excluded.blob_count, text_hash = excluded.text_hash
         RETURNING rowid`,
      );
      const clearTags = this.db.prepare(`DELETE FROM capture_tags WHERE capture_rowid = ?`);
      const addTag = this.db.prepare(`INSERT OR IGNORE INTO capture_tags (tag, capture_rowid) VALUES (?, ?)`);
      for (const c of change.upserts) {
        const { rowid } = upsert.get({
          id: c.id,
          shard: docId,
          createdAt: c.createdAt,
          source: c.source,
          title: c.title,
          text: c.text,
          tags: JSON.stringify(c.tags),
          status: JSON.stringify(c.status),
          blobCount: c.blobs.length,
          hash: hashText(c.title, c.text),
        }) as { rowid: number };
        clearTags.run(rowid);
        for (const tag of c.tags) addTag.run(tag.toLowerCase(), rowid);
      }
      this.db
        .prepare(`INSERT INTO shards (doc_id, heads, storage_seq) VALUES (?, ?, ?) ON CONFLICT (doc_id) DO UPDATE SET heads = excluded.heads, storage_seq = excluded.storage_seq`)
        .run(docId, JSON.stringify(change.state.heads), change.state.storageSeq);
    });
    tx.immediate();
  }

  #deleteRows(selectSql: string, arg: string): void {
    const rowids = (this.db.prepare(selectSql).all(arg) as { rowid: number }[]).map((r) => r.rowid);
    for (const rowid of rowids) {
      this.#vectors.delete(rowid);
      this.db.prepare(`DELETE FROM captures WHERE rowid = ?`).run(rowid);
    }
  }

  // ---- embeddings ----

  /** Creates the vector tables for an embedder the first time it is used; vectors of different models never mix. */
  ensureEmbedder(embedderId: string, dimension: number): void {
    this.#vectors.ensure(embedderId, dimension);
  }

  hasEmbedder(embedderId: string): boolean {
    return this.#vectors.has(embedderId);
  }

  /**
   * Captures whose vector for this embedder is missing or was made from older text, from `afterRowid`
   * on. Draining passes the last rowid it saw, so each batch starts where the last ended instead of
   * rescanning every embedded capture (quadratic at 100k).
   */
  embeddingBacklog(embedderId: string, limit: number, afterRowid = 0): BacklogItem[] {
    return this.db
      .prepare(
        `SELECT c.rowid, c.title, c.text, c.text_hash AS textHash, c.created_at AS createdAt, c.source
         FROM captures c LEFT JOIN embed_state s ON s.embedder = ? AND s.capture_rowid = c.rowid
         WHERE c.rowid > ? AND (s.text_hash IS NULL OR s.text_hash <> c.text_hash)
         ORDER BY c.rowid LIMIT ?`,
      )
      .all(embedderId, afterRowid, limit) as BacklogItem[];
  }

  isEmbedded(embedderId: string, rowid: number): boolean {
    return !!this.db
      .prepare(`SELECT 1 FROM embed_state s JOIN captures c ON c.rowid = s.capture_rowid AND c.text_hash = s.text_hash WHERE s.embedder = ? AND s.capture_rowid = ?`)
      .get(embedderId, rowid);
  }

  embeddingCoverage(embedderId: string): { embedded: number; total: number } {
    const total = (this.db.prepare(`SELECT count(*) AS n FROM captures`).get() as { n: number }).n;
    const embedded = (
      this.db
        .prepare(`SELECT count(*) AS n FROM embed_state s JOIN captures c ON c.rowid = s.capture_rowid AND c.text_hash = s.text_hash WHERE s.embedder = ?`)
        .get(embedderId) as { n: number }
    ).n;
    return { embedded, total };
  }

  /** Returns how many vectors were stored; ones for text that changed meanwhile are dropped. */
  storeVectors(embedderId: string, items: readonly { item: BacklogItem; vector: Float32Array }[]): number {
    const state = this.db.prepare(
      `INSERT INTO embed_state (embedder, capture_rowid, text_hash) VALUES (?, ?, ?)
       ON CONFLICT (embedder, capture_rowid) DO UPDATE SET text_hash = excluded.text_hash`,
    );
    // The text may have changed or the capture gone while its batch was being embedded.
    const current = this.db.prepare(`SELECT 1 FROM captures WHERE rowid = ? AND text_hash = ?`);
    let stored = 0;
    this.db.transaction(() => {
      for (const { item, vector } of items) {
        if (!current.get(item.rowid, item.textHash)) continue;
        this.#vectors.put(embedderId, item.rowid, vector, item.createdAt, item.source);
        state.run(embedderId, item.rowid, item.textHash);
        stored++;
      }
    }).immediate();
    return stored;
  }

  // ---- queries ----

  #filterSql(filters: IndexFilters, alias: string): { sql: string; params: unknown[] } {
    const parts: string[] = [];
    const params: unknown[] = [];
    if (filters.from !== undefined) {
      parts.push(`${alias}.created_at >= ?`);
      params.push(filters.from);
    }
    if (filters.to !== undefined) {
      parts.push(`${alias}.created_at < ?`);
      params.push(filters.to);
    }
    if (filters.sources?.length) {
      parts.push(`${alias}.source IN (${filters.sources.map(() => '?').join(',')})`);
      params.push(...filters.sources);
    }
    for (const tag of filters.tags ?? []) {
      parts.push(`${alias}.rowid IN (SELECT capture_rowid FROM capture_tags WHERE tag = ?)`);
      params.push(tag.toLowerCase());
    }
    return { sql: parts.length ? ` AND ${parts.join(' AND ')}` : '', params };
  }

  keywordSearch(ftsQuery: string, filters: IndexFilters, k: number): KeywordHit[] {
    const f = this.#filterSql(filters, 'c');
    // Ranked first, snippets after: in one query SQLite would build a snippet for every matching row
    // before sorting, which for a common word is thousands of snippets for ten shown.
    const ranked = (
      f.sql
        ? this.db
            .prepare(
              `SELECT c.rowid AS rowid, captures_fts.rank AS bm25 FROM captures_fts JOIN captures c ON c.rowid = captures_fts.rowid
               WHERE captures_fts MATCH ?${f.sql} ORDER BY captures_fts.rank LIMIT ?`,
            )
            .all(ftsQuery, ...f.params, k)
        : this.db.prepare(`SELECT rowid, rank AS bm25 FROM captures_fts WHERE captures_fts MATCH ? ORDER BY rank LIMIT ?`).all(ftsQuery, k)
    ) as { rowid: number; bm25: number }[];
    if (ranked.length === 0) return [];
    const snippets = new Map(
      (
        this.db
          .prepare(
            `SELECT rowid, snippet(captures_fts, -1, '${HIGHLIGHT_START}', '${HIGHLIGHT_END}', '…', 20) AS snippet
             FROM captures_fts WHERE captures_fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))`,
          )
          .all(ftsQuery, JSON.stringify(ranked.map((r) => r.rowid))) as { rowid: number; snippet: string }[]
      ).map((r) => [r.rowid, r.snippet]),
    );
    return ranked.map((r) => ({ ...r, snippet: snippets.get(r.rowid) ?? '' }));
  }

  /** For each of these captures, how many of the FTS5 terms (each a query of its own) it matches. */
  termMatches(terms: readonly string[], rowids: readonly number[]): Map<number, number> {
    const counts = new Map<number, number>();
    if (rowids.length === 0) return counts;
    const stmt = this.db.prepare(`SELECT rowid FROM captures_fts WHERE captures_fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))`);
    const list = JSON.stringify(rowids);
    for (const term of terms) {
      for (const { rowid } of stmt.all(term, list) as { rowid: number }[]) counts.set(rowid, (counts.get(rowid) ?? 0) + 1);
    }
    return counts;
  }

  vectorSearch(embedderId: string, query: Float32Array, filters: IndexFilters, k: number): VectorHit[] {
    return this.#vectors.search(embedderId, query, filters, k);
  }

  captures(rowids: readonly number[]): Map<number, IndexedCapture> {
    if (rowids.length === 0) return new Map();
    const rows = this.db
      .prepare(
        `SELECT rowid, id, shard, created_at AS createdAt, source, title, text, tags, status, blob_count AS blobCount
         FROM captures WHERE rowid IN (${rowids.map(() => '?').join(',')})`,
      )
      .all(...rowids) as (Omit<IndexedCapture, 'tags' | 'status'> & { tags: string; status: string })[];
    return new Map(rows.map((r) => [r.rowid, { ...r, tags: JSON.parse(r.tags) as string[], status: JSON.parse(r.status) as Capture['status'] }]));
  }

  /** Newest first; `before` pages by creation time and id. */
  list(options: { limit: number; before?: { createdAt: number; id: string }; filters?: IndexFilters }): IndexedCapture[] {
    const f = this.#filterSql(options.filters ?? {}, 'c');
    const page = options.before ? ` AND (c.created_at, c.id) < (?, ?)` : '';
    const rows = this.db
      .prepare(`SELECT c.rowid FROM captures c WHERE 1 = 1${f.sql}${page} ORDER BY c.created_at DESC, c.id DESC LIMIT ?`)
      .all(...f.params, ...(options.before ? [options.before.createdAt, options.before.id] : []), options.limit) as { rowid: number }[];
    const byRowid = this.captures(rows.map((r) => r.rowid));
    return rows.map((r) => byRowid.get(r.rowid)!);
  }

  /** Capture shards that hold at least one indexed capture. */
  shardCount(): number {
    return (this.db.prepare(`SELECT count(DISTINCT shard) AS n FROM captures`).get() as { n: number }).n;
  }

  rowidOf(id: string): number | undefined {
    return (this.db.prepare(`SELECT rowid FROM captures WHERE id = ?`).get(id) as { rowid: number } | undefined)?.rowid;
  }

  count(): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM captures`).get() as { n: number }).n;
  }

  countsBySource(): Record<string, number> {
    const rows = this.db.prepare(`SELECT source, count(*) AS n FROM captures GROUP BY source`).all() as { source: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.source, r.n]));
  }

  close(): void {
    this.db.close();
  }
}
