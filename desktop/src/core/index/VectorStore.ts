import type Database from 'better-sqlite3';
import type { IndexFilters } from './SearchIndex.ts';

export interface VectorHit {
  rowid: number;
  /** Cosine distance: 0 is identical, 2 is opposite. */
  distance: number;
}

interface Tables {
  /** vec0 table of sign bits, with metadata columns so KNN can filter by date and source. */
  bits: string;
  /** Plain table of the exact float vectors, for rescoring candidates. */
  floats: string;
  dimension: number;
}

/** sqlite-vec's KNN returns at most this many neighbours per query. */
const MAX_K = 4096;
/**
 * Candidates from the bit index per wanted neighbour. Measured on 100k × 512: a float KNN scan takes
 * ~50 ms (memory-bound: 200 MB per query); a sign-bit scan for 100 candidates plus an exact rescore
 * ~21 ms, with the same top 10. Twice the wanted count keeps recall while the scan cost grows with k.
 */
const OVERSAMPLE = 2;

/**
 * The vectors of each embedder, kept apart so models never mix. Search is two-stage: Hamming KNN
 * over one-bit-per-dimension codes finds candidates, then exact cosine over the float vectors ranks them.
 */
export class VectorStore {
  readonly #db: Database.Database;
  readonly #tables = new Map<string, Tables>();

  constructor(db: Database.Database) {
    this.#db = db;
    for (const row of db.prepare(`SELECT id, dimension, vec_table FROM embedders`).all() as { id: string; dimension: number; vec_table: string }[]) {
      this.#tables.set(row.id, { bits: row.vec_table, floats: `${row.vec_table}_f`, dimension: row.dimension });
    }
  }

  has(embedderId: string): boolean {
    return this.#tables.has(embedderId);
  }

  ensure(embedderId: string, dimension: number): void {
    const existing = this.#tables.get(embedderId);
    if (existing) {
      if (existing.dimension !== dimension) throw new Error(`embedder ${embedderId} changed dimension (${existing.dimension} → ${dimension})`);
      return;
    }
    if (dimension % 8 !== 0) throw new Error(`embedder ${embedderId} has dimension ${dimension}; bit codes need a multiple of 8`);
    const bits = `vec_${this.#tables.size + 1}_${embedderId.replace(/[^a-zA-Z0-9]/g, '_').slice(0, 40)}`;
    const floats = `${bits}_f`;
    this.#db.transaction(() => {
      this.#db.exec(`CREATE VIRTUAL TABLE ${bits} USING vec0 (embedding bit[${dimension}], created_at integer, source text)`);
      this.#db.exec(`CREATE TABLE ${floats} (rowid INTEGER PRIMARY KEY, vector BLOB NOT NULL)`);
      this.#db.prepare(`INSERT INTO embedders (id, dimension, vec_table) VALUES (?, ?, ?)`).run(embedderId, dimension, bits);
    })();
    this.#tables.set(embedderId, { bits, floats, dimension });
  }

  /** Stores one capture's vector; call inside the caller's transaction. */
  put(embedderId: string, rowid: number, vector: Float32Array, createdAt: number, source: string): void {
    const t = this.#require(embedderId);
    if (vector.length !== t.dimension) throw new Error(`vector of length ${vector.length} for a ${t.dimension}-dimensional index`);
    const id = BigInt(rowid);
    this.#db.prepare(`DELETE FROM ${t.bits} WHERE rowid = ?`).run(id);
    this.#db.prepare(`INSERT INTO ${t.bits} (rowid, embedding, created_at, source) VALUES (?, vec_quantize_binary(?), ?, ?)`).run(id, vector, BigInt(createdAt), source);
    this.#db.prepare(`INSERT OR REPLACE INTO ${t.floats} (rowid, vector) VALUES (?, ?)`).run(rowid, vector);
  }

  /** Removes a capture's vectors of every embedder. */
  delete(rowid: number): void {
    for (const t of this.#tables.values()) {
      this.#db.prepare(`DELETE FROM ${t.bits} WHERE rowid = ?`).run(BigInt(rowid));
      this.#db.prepare(`DELETE FROM ${t.floats} WHERE rowid = ?`).run(rowid);
    }
  }

  search(embedderId: string, query: Float32Array, filters: IndexFilters, k: number): VectorHit[] {
    const t = this.#tables.get(embedderId);
    if (!t) return [];
    const parts: string[] = [];
    const params: unknown[] = [];
    if (filters.from !== undefined) {
      parts.push('created_at >= ?');
      params.push(BigInt(filters.from));
    }
    if (filters.to !== undefined) {
      parts.push('created_at < ?');
      params.push(BigInt(filters.to));
    }
    if (filters.sources?.length) {
      parts.push(`source IN (${filters.sources.map(() => '?').join(',')})`);
      params.push(...filters.sources);
    }
    const tags = (filters.tags ?? []).map((tag) => tag.toLowerCase());
    // Tags are many-to-one and not a vec0 column: over-fetch, then keep the tagged ones.
    const candidates = Math.min(MAX_K, k * OVERSAMPLE * (tags.length ? 10 : 1));
    const rowids = (
      this.#db
        .prepare(`SELECT rowid FROM ${t.bits} WHERE embedding MATCH vec_quantize_binary(?) AND k = ?${parts.map((p) => ` AND ${p}`).join('')}`)
        .all(query, candidates, ...params) as { rowid: number }[]
    ).map((r) => r.rowid);
    const tagFilter = tags.length
      ? ` AND rowid IN (SELECT capture_rowid FROM capture_tags WHERE tag IN (${tags.map(() => '?').join(',')}) GROUP BY capture_rowid HAVING count(*) = ${new Set(tags).size})`
      : '';
    return this.#db
      .prepare(
        `SELECT rowid, vec_distance_cosine(vector, ?) AS distance FROM ${t.floats}
         WHERE rowid IN (SELECT value FROM json_each(?))${tagFilter} ORDER BY distance LIMIT ?`,
      )
      .all(query, JSON.stringify(rowids), ...tags, k) as VectorHit[];
  }

  #require(embedderId: string): Tables {
    const t = this.#tables.get(embedderId);
    if (!t) throw new Error(`no vector table for embedder ${embedderId}`);
    return t;
  }
}
