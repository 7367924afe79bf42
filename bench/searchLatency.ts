/**
 * Hybrid search latency at 10k and 100k captures, beside a full-scan baseline in the same run.
 *
 * Hybrid: `core.search(q, { waitForModel: true })` on a Core opened with the real USE (query vectors
 * are real; stored vectors were reused per base sentence while building, see dataset.ts).
 * Baseline "full scan": per query, read every capture's title+text from SQLite and substring-match the
 * query words in JS, read every stored vector from SQLite and rank by cosine in JS, fuse both with RRF.
 */
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import path from 'node:path';
import { Core } from '../desktop/src/core/Core.ts';
import type { Embedder } from '../desktop/src/core/embed/Embedder.ts';
import { useEmbedderSource } from '../desktop/src/core/embed/UseEmbedder.ts';
import { SearchIndex } from '../desktop/src/core/index/SearchIndex.ts';
import { ftsQuery } from '../desktop/src/core/search/ftsQuery.ts';
import { benchQueries, type BenchQuery } from './corpus.ts';
import { ensureDataDir } from './dataset.ts';
import { median, percentile, row, sizeLabel, type BenchContext, type BenchResult, type Row } from './report.ts';

const TARGET_P95_MS = 50;
const LIMIT = 10;
/** The baseline fuses its two full scans with plain RRF, at the same k as the real search. */
const RRF_K = 60;

interface Timed {
  q: BenchQuery;
  ms: number;
  hits: number;
  mode: string;
}

/** The naive alternative to the index: no FTS, no vector index, nothing kept in memory between queries. */
function fullScan(db: Database.Database, vectors: string, query: string, queryVector: Float32Array, limit: number): number[] {
  const depth = Math.max(limit * 3, 50);
  const words = [...new Set(query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])];
  const keyword: { rowid: number; score: number }[] = [];
  for (const r of db.prepare(`SELECT rowid, title, text FROM captures`).iterate() as IterableIterator<{ rowid: number; title: string; text: string }>) {
    const hay = `${r.title}\n${r.text}`.toLowerCase();
    let score = 0;
    for (const w of words) if (hay.includes(w)) score++;
    if (score > 0) keyword.push({ rowid: r.rowid, score });
  }
  keyword.sort((a, b) => b.score - a.score || b.rowid - a.rowid);
  const top: { rowid: number; sim: number }[] = [];
  let floor = -Infinity;
  for (const r of db.prepare(vectors).iterate() as IterableIterator<{ rowid: number; v: Buffer }>) {
    const v = new Float32Array(r.v.buffer, r.v.byteOffset, r.v.byteLength / 4);
    let dot = 0;
    for (let i = 0; i < v.length; i++) dot += v[i]! * queryVector[i]!;
    if (top.length < depth || dot > floor) {
      top.push({ rowid: r.rowid, sim: dot });
      if (top.length > depth * 2) {
        top.sort((a, b) => b.sim - a.sim);
        top.length = depth;
        floor = top[depth - 1]!.sim;
      }
    }
  }
  top.sort((a, b) => b.sim - a.sim);
  const fused = new Map<number, number>();
  keyword.slice(0, depth).forEach((h, i) => fused.set(h.rowid, (fused.get(h.rowid) ?? 0) + 1 / (RRF_K + i + 1)));
  top.slice(0, depth).forEach((h, i) => fused.set(h.rowid, (fused.get(h.rowid) ?? 0) + 1 / (RRF_K + i + 1)));
  const best = [...fused.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([rowid]) => rowid);
  // Like the real search, the hits' rows are read for display.
  if (best.length) db.prepare(`SELECT id, title, text FROM captures WHERE rowid IN (${best.map(() => '?').join(',')})`).all(...best);
  return best;
}

/** The SQL that reads every stored float vector of USE as (rowid, v), whichever table layout the index has. */
function floatVectorSource(db: Database.Database): string {
  const table = (db.prepare(`SELECT vec_table FROM embedders WHERE id = 'use-lite-512'`).get() as { vec_table: string } | undefined)?.vec_table;
  if (!table) throw new Error('the index has no use-lite-512 vectors');
  const tables = new Set((db.prepare(`SELECT name FROM sqlite_master`).all() as { name: string }[]).map((r) => r.name));
  // Schema 2 keeps sign bits in the vec0 table and the exact floats beside it; schema 1 had floats in vec0.
  if (tables.has(`${table}_f`)) return `SELECT rowid, vector AS v FROM ${table}_f`;
  return `SELECT rowid, embedding AS v FROM ${table}`;
}

function timeSync<T>(fn: () => T): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

async function measureSize(size: number, queries: BenchQuery[], baselineEvery: number, ctx: BenchContext): Promise<{ rows: Row[]; details: Record<string, unknown> }> {
  const ds = await ensureDataDir(size, ctx.log);
  const label = sizeLabel(size);
  const rows: Row[] = [];
  const when = ds.built ? 'built in this run' : `cached, built ${ds.builtAt.slice(0, 16)}`;
  const b = ds.stats;
  rows.push(row('data dir build (captureMany ×1000 + drain)', `${label} captures, reused vectors, ${when}`, b.totalS, 's'));
  rows.push(row('  store / index / embed phases', `${label} captures, ${when}`, `${b.captureS.toFixed(1)} / ${b.indexS.toFixed(1)} / ${b.embedS.toFixed(1)}`, 's'));
  rows.push(row('peak RSS, data dir build process', `${label} captures, ${when}`, b.peakRssMB, 'MB'));
  ctx.log(`searchLatency: opening ${label} data dir`);
  const core = await Core.open({ dataDir: ds.dir, background: false, deviceName: 'bench' });
  try {
    const stats = core.stats();
    if (stats.captures !== size || stats.embedder.embedded !== size) throw new Error(`data dir ${ds.dir}: ${stats.captures} captures, ${stats.embedder.embedded} embedded, expected ${size}`);

    // Warm-up: loads the model, fills SQLite's page cache and mmap, JIT-compiles the hot paths.
    for (const q of benchQueries(20).map((b) => `${b.query} warm`)) await core.search({ query: q, limit: LIMIT }, { waitForModel: true });

    ctx.log(`searchLatency: ${queries.length} hybrid queries at ${label}`);
    const timed: Timed[] = [];
    for (const q of queries) {
      const t = performance.now();
      const r = await core.search({ query: q.query, limit: LIMIT }, { waitForModel: true });
      timed.push({ q, ms: performance.now() - t, hits: r.hits.length, mode: r.mode });
    }
    const hybridModes = timed.filter((t) => t.mode === 'hybrid').length;
    const all = timed.map((t) => t.ms);
    const setup = `${label} captures, ${queries.length} queries, limit ${LIMIT}`;
    rows.push(row('hybrid search p50', setup, percentile(all, 50), 'ms'));
    rows.push(row('hybrid search p95', setup, percentile(all, 95), 'ms', size >= 100_000 ? { op: '<=', value: TARGET_P95_MS } : undefined));
    const byKind: Record<string, { n: number; p50: number; p95: number; max: number; avgHits: number }> = {};
    for (const kind of ['word', 'phrase', 'rare', 'common'] as const) {
      const sel = timed.filter((t) => t.q.kind === kind);
      if (!sel.length) continue;
      const ms = sel.map((t) => t.ms);
      byKind[kind] = { n: sel.length, p50: percentile(ms, 50), p95: percentile(ms, 95), max: Math.max(...ms), avgHits: sel.reduce((n, t) => n + t.hits, 0) / sel.length };
      rows.push(row(`  p95, ${kind} queries`, `${label} captures, ${sel.length} queries${kind === 'common' ? ' (e.g. "the", "today")' : ''}`, byKind[kind].p95, 'ms'));
    }

    // Where a hybrid query's time goes: the index's own keyword and vector searches, timed one by one
    // on a second connection, plus the query embedding.
    const index = SearchIndex.open(path.join(ds.dir, 'index.sqlite'));
    const embedder: Embedder = await useEmbedderSource().load();
    const parts = { embedQuery: [] as number[], keyword: [] as number[], vector: [] as number[] };
    for (const q of queries) {
      const t = performance.now();
      const [vector] = await embedder.embed([q.query.trim()]);
      parts.embedQuery.push(performance.now() - t);
      const match = ftsQuery(q.query);
      parts.keyword.push(match ? timeSync(() => index.keywordSearch(match, {}, 50)) : 0);
      parts.vector.push(timeSync(() => index.vectorSearch('use-lite-512', vector!, {}, 50)));
    }
    index.close();
    const partSetup = `${label}, per query, median / p95`;
    const mp = (xs: number[]): string => `${median(xs).toFixed(1)} / ${percentile(xs, 95).toFixed(1)}`;
    rows.push(row('  part: USE query embedding', partSetup, mp(parts.embedQuery), 'ms'));
    rows.push(row('  part: SearchIndex.keywordSearch (k=50)', partSetup, mp(parts.keyword), 'ms'));
    rows.push(row('  part: SearchIndex.vectorSearch (k=50)', partSetup, mp(parts.vector), 'ms'));

    const db = new Database(path.join(ds.dir, 'index.sqlite'), { readonly: true });
    db.pragma('mmap_size = 536870912');
    sqliteVec.load(db);
    const vectors = floatVectorSource(db);
    const sample = queries.filter((_, i) => i % baselineEvery === 0);
    ctx.log(`searchLatency: full-scan baseline, ${sample.length} queries at ${label}`);
    fullScan(db, vectors, 'warm up', (await embedder.embed(['warm up']))[0]!, LIMIT);
    const base: number[] = [];
    for (const q of sample) {
      const t = performance.now();
      const [vector] = await embedder.embed([q.query.trim()]);
      fullScan(db, vectors, q.query, vector!, LIMIT);
      base.push(performance.now() - t);
    }
    db.close();
    const baseSetup = `${label} captures, ${sample.length} of the queries, limit ${LIMIT}`;
    rows.push(row('baseline full scan (SQLite read all + JS substring + JS cosine) p50', baseSetup, percentile(base, 50), 'ms'));
    rows.push(row('baseline full scan (SQLite read all + JS substring + JS cosine) p95', baseSetup, percentile(base, 95), 'ms'));
    const hybridOnSample = timed.filter((_, i) => i % baselineEvery === 0).map((t) => t.ms);
    rows.push(row('hybrid speed-up over full scan (p50)', 'same queries', percentile(base, 50) / percentile(hybridOnSample, 50), '×'));
    if (hybridModes !== timed.length) rows.push(row('WARNING: searches not in hybrid mode', setup, timed.length - hybridModes, 'queries'));
    return {
      rows,
      details: {
        dataDir: ds.dir,
        build: ds.stats,
        builtThisRun: !!ds.built,
        hybrid: { p50: percentile(all, 50), p95: percentile(all, 95), p99: percentile(all, 99), max: Math.max(...all), hybridModes, byKind },
        parts: Object.fromEntries(Object.entries(parts).map(([k, xs]) => [k, { p50: median(xs), p95: percentile(xs, 95) }])),
        baseline: { queries: sample.length, p50: percentile(base, 50), p95: percentile(base, 95) },
        slowest: [...timed].sort((a, b) => b.ms - a.ms).slice(0, 8).map((t) => ({ query: t.q.query, kind: t.q.kind, ms: t.ms })),
      },
    };
  } finally {
    await core.close();
  }
}

export async function run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> {
  const sizes = ctx.quick ? [1000, 3000] : [10_000, 100_000];
  const queries = benchQueries(ctx.quick ? 40 : 200);
  const rows: Row[] = [];
  const details: Record<string, unknown> = { limit: LIMIT, queries: queries.length };
  for (const size of sizes) {
    const r = await measureSize(size, queries, 4, ctx);
    rows.push(...r.rows);
    details[sizeLabel(size)] = r.details;
  }
  return { name: 'searchLatency', title: 'hybrid search latency vs a full-scan baseline', quick: ctx.quick, rows, details };
}
