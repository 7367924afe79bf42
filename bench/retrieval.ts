/**
 * The retrieval step of a turn at scale: `retrieve()` (hybrid search for 16 candidates, feedback
 * rerank, concept-graph neighbours of the top 4 through Core.relatedCaptures with its 250 ms timeout,
 * then loading the 8 picked captures), beside plain `core.search` (hybrid only, same 16 candidates)
 * in the same run, per query, in alternating order.
 *
 * Data: a copy of the bench data dir (dataset.ts) of LVA_BENCH_RETRIEVAL_N captures (default 100k,
 * 3k with --quick), cached under bench/results/cache/retrieval-<size>. The bench corpus has no
 * concepts, so a share of its captures (LVA_BENCH_RETRIEVAL_CONCEPT_SHARE, default 0.5) get some:
 * the corpus' topic words and terms found in their text, at most 6, plus one stated relation.
 * SHORTCUT: these are written straight into the graph with `core.graph.replaceCaptures(shard,
 * captures, [], { heads })` in batches, not through the documents and GraphUpdater (30k+ Automerge
 * changes would take far longer); the documents keep no concepts. The shard's heads are recorded, so
 * the graph counts as up to date and no graph job rewrites it.
 *
 * Also timed on their own, to show what each part costs: the graph's relatedCaptures without the
 * timeout (ConceptGraph directly), and reading the 8 captures from the index (core.indexedCaptures).
 */
import * as A from '@automerge/automerge';
import { fromRecord, shardRecords, RELATION_KINDS, type Concept, type ConceptRelation } from '@lva/shared';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Core } from '../desktop/src/core/Core.ts';
import { retrieve } from '../desktop/src/core/agents/research/retrieve.ts';
import type { GraphCapture } from '../desktop/src/core/graph/ConceptGraph.ts';
import { benchQueries } from './corpus.ts';
import { ensureDataDir } from './dataset.ts';
import { CACHE_DIR, median, percentile, row, sizeLabel, type BenchContext, type BenchResult, type Row } from './report.ts';

/** Bump when the concepts given to captures change, so cached graphs are rebuilt. */
const GRAPH_VERSION = 2;
const MARKER = 'bench-retrieval.json';
/** retrieve() asks the search for this many candidates (CANDIDATES in retrieve.ts). */
const CANDIDATES = 16;
const MAX_CONCEPTS = 6;
/** Specific concepts per topic word (see buildGraphDir). */
const ASPECTS = 20;
const BATCH = 2000;

interface Marker {
  version: number;
  size: number;
  share: number;
  sourceBuiltAt: string;
  captures: number;
  withConcepts: number;
  concepts: number;
  buildS: number;
  graphWriteS: number;
}

/** The corpus' topic names and terms: every 'word' query the generator can make. */
function conceptVocabulary(): string[] {
  return [...new Set(benchQueries(4000).filter((q) => q.kind === 'word').map((q) => q.query))];
}

function share(id: string): number {
  return crypto.createHash('sha1').update(id).digest().readUInt32BE(0) / 2 ** 32;
}

function conceptsOf(text: string, vocabulary: readonly { word: string; re: RegExp }[]): Concept[] {
  const found: { name: string; at: number }[] = [];
  for (const v of vocabulary) {
    const m = v.re.exec(text);
    if (m) found.push({ name: v.word, at: m.index });
  }
  return found
    .sort((a, b) => a.at - b.at)
    .slice(0, MAX_CONCEPTS)
    .map((f, i) => ({ name: f.name, type: 'topic', importance: Math.max(0.2, 0.9 - i * 0.15) }));
}

async function buildGraphDir(size: number, concept: number, ctx: BenchContext): Promise<{ dir: string; marker: Marker; built: boolean }> {
  const ds = await ensureDataDir(size, ctx.log);
  const dir = path.join(CACHE_DIR, `retrieval-${sizeLabel(size)}`);
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8')) as Marker;
    if (marker.version === GRAPH_VERSION && marker.size === size && marker.share === concept && marker.sourceBuiltAt === ds.builtAt && !fs.existsSync(path.join(dir, 'lock'))) {
      ctx.log(`reusing ${path.relative(process.cwd(), dir)}`);
      return { dir, marker, built: false };
    }
  } catch {
    // not built yet
  }
  const t0 = performance.now();
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  ctx.log(`retrieval: copying the ${sizeLabel(size)} data dir and giving ${Math.round(concept * 100)}% of its captures concepts`);
  fs.cpSync(ds.dir, partial, { recursive: true });
  fs.rmSync(path.join(partial, MARKER), { force: true });
  const vocabulary = conceptVocabulary().map((word) => ({ word, re: new RegExp(`\\b${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i') }));
  const core = await Core.open({ dataDir: partial, background: false, deviceName: 'bench' });
  let captures = 0;
  let withConcepts = 0;
  let graphWrite = 0;
  try {
    const docs = await core.documents();
    for (const shardId of docs.shardIds()) {
      const doc = (await docs.shard(shardId)).doc();
      const batch: GraphCapture[] = [];
      for (const [id, record] of shardRecords(doc)) {
        const parsed = fromRecord(record);
        if (!parsed.ok || parsed.capture.deletedAt !== undefined) continue;
        captures++;
        if (share(id) >= concept) continue;
        const concepts = conceptsOf(`${parsed.capture.title}\n${parsed.capture.text}`, vocabulary);
        if (concepts.length === 0) continue;
        // Real concepts are long-tailed: besides the few topic words every capture shares, each
        // gets one specific concept shared by a handful of others (20 aspects per topic).
        concepts.push({ name: `${concepts[0]!.name} aspect ${Math.floor(share(`${id}:aspect`) * ASPECTS)}`, type: 'term', importance: 0.5 });
        const relations: ConceptRelation[] = concepts.length >= 2 ? [{ from: concepts[0]!.name, to: concepts[1]!.name, kind: RELATION_KINDS[captures % RELATION_KINDS.length]! }] : [];
        batch.push({ id, createdAt: parsed.capture.createdAt, concepts, relations });
        withConcepts++;
      }
      const t = performance.now();
      for (let i = 0; i < batch.length; i += BATCH) {
        const last = i + BATCH >= batch.length;
        await core.graph.replaceCaptures(shardId, batch.slice(i, i + BATCH), [], last ? { heads: A.getHeads(doc) } : undefined);
      }
      if (batch.length === 0) await core.graph.replaceCaptures(shardId, [], [], { heads: A.getHeads(doc) });
      graphWrite += performance.now() - t;
    }
    const conceptCount = await core.graph.conceptCount();
    const marker: Marker = { version: GRAPH_VERSION, size, share: concept, sourceBuiltAt: ds.builtAt, captures, withConcepts, concepts: conceptCount, buildS: (performance.now() - t0) / 1000, graphWriteS: graphWrite / 1000 };
    await core.close();
    fs.writeFileSync(path.join(partial, MARKER), JSON.stringify(marker, null, 2));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(partial, dir);
    ctx.log(`retrieval: graph of ${withConcepts} captures, ${conceptCount} concepts in ${marker.buildS.toFixed(0)} s (graph writes ${marker.graphWriteS.toFixed(0)} s)`);
    return { dir, marker, built: true };
  } catch (err) {
    await core.close().catch(() => undefined);
    throw err;
  }
}

const mp = (xs: number[]): string => `${percentile(xs, 50).toFixed(1)} / ${percentile(xs, 95).toFixed(1)}`;

export async function run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> {
  const size = Number(process.env.LVA_BENCH_RETRIEVAL_N ?? '') || (ctx.quick ? 3000 : 100_000);
  const concept = Number(process.env.LVA_BENCH_RETRIEVAL_CONCEPT_SHARE ?? '') || 0.5;
  const queries = benchQueries(ctx.quick ? 40 : 200);
  const label = sizeLabel(size);
  const { dir, marker, built } = await buildGraphDir(size, concept, ctx);
  const core = await Core.open({ dataDir: dir, background: false, deviceName: 'bench' });
  try {
    const stats = core.stats();
    if (stats.captures !== size || stats.embedder.embedded !== size) throw new Error(`${stats.captures} captures, ${stats.embedder.embedded} embedded; expected ${size}`);
    for (const q of benchQueries(20)) {
      await core.search({ query: `${q.query} warm`, limit: CANDIDATES }, { waitForModel: true });
      await retrieve(core, `${q.query} warm`);
    }
    ctx.log(`retrieval: ${queries.length} queries at ${label}, retrieve() and core.search alternating`);
    const search: number[] = [];
    const full: number[] = [];
    const graph: number[] = [];
    const load: number[] = [];
    let graphTimeouts = 0;
    let viaGraph = 0;
    let withSeeds = 0;
    for (const [i, q] of queries.entries()) {
      const timeSearch = async (): Promise<string[]> => {
        const t = performance.now();
        const r = await core.search({ query: q.query, limit: CANDIDATES });
        search.push(performance.now() - t);
        return r.hits.map((h) => h.id);
      };
      let ids: string[] = [];
      if (i % 2 === 0) ids = await timeSearch();
      const t = performance.now();
      const r = await retrieve(core, q.query);
      full.push(performance.now() - t);
      viaGraph += r.captures.filter((c) => c.via.includes('graph')).length;
      // A graph call that lost the race to the timeout still runs; wait for it so it does not slow the next measurement.
      await core.graph.captureCount();
      if (i % 2 === 1) ids = await timeSearch();
      // The graph's own time for the same seeds retrieve() uses (the top 4 of the search), without the timeout.
      const tg = performance.now();
      const related = await core.graph.relatedCaptures(ids.slice(0, 4), { limit: 6 });
      const g = performance.now() - tg;
      graph.push(g);
      if (g > 250) graphTimeouts++;
      if (related.length > 0) withSeeds++;
      const tl = performance.now();
      core.indexedCaptures(r.captures.map((c) => c.id));
      load.push(performance.now() - tl);
    }
    const rows: Row[] = [];
    const setup = `${label} captures, ${queries.length} queries`;
    rows.push(row('graph build (copy + replaceCaptures shortcut)', `${marker.withConcepts.toLocaleString('en-US')} captures with concepts (${Math.round(concept * 100)}%), ${marker.concepts} concepts${built ? ', built in this run' : ', cached'}`, `${marker.buildS.toFixed(0)} (graph writes ${marker.graphWriteS.toFixed(0)})`, 's'));
    rows.push(row('retrieve() p50 / p95', `${setup}: search ${CANDIDATES} + feedback + graph (250 ms timeout) + load 8`, mp(full), 'ms'));
    rows.push(row('core.search p50 / p95 (hybrid only)', `${setup}, limit ${CANDIDATES}`, mp(search), 'ms'));
    rows.push(row('what retrieve() adds over search (p50 / p95)', 'difference of the percentiles', `${(percentile(full, 50) - percentile(search, 50)).toFixed(1)} / ${(percentile(full, 95) - percentile(search, 95)).toFixed(1)}`, 'ms'));
    rows.push(row('  part: graph.relatedCaptures, no timeout, p50 / p95', 'top 4 hits as seeds, limit 6', mp(graph), 'ms'));
    rows.push(row('  part: graph.relatedCaptures max', 'same', Math.max(...graph), 'ms'));
    rows.push(row('  graph calls over the 250 ms timeout', 'retrieve() goes without the graph then', `${graphTimeouts} of ${queries.length}`, ''));
    rows.push(row('  graph calls with related captures', 'seeds with concepts', `${withSeeds} of ${queries.length}`, ''));
    rows.push(row('  captures from the graph in retrieve()', 'average per query', viaGraph / queries.length, ''));
    rows.push(row('  part: read 8 captures from the index p50 / p95', 'core.indexedCaptures', mp(load), 'ms'));
    return {
      name: 'retrieval',
      title: 'the retrieval step (search + graph + loading) vs plain hybrid search',
      quick: ctx.quick,
      rows,
      details: {
        size,
        dataDir: dir,
        graph: marker,
        shortcut: 'concepts written straight into the graph with core.graph.replaceCaptures, not into the documents',
        retrieve: { p50: percentile(full, 50), p95: percentile(full, 95), p99: percentile(full, 99), max: Math.max(...full) },
        search: { p50: percentile(search, 50), p95: percentile(search, 95), p99: percentile(search, 99), max: Math.max(...search) },
        graphRelated: { p50: median(graph), p95: percentile(graph, 95), max: Math.max(...graph), overTimeout: graphTimeouts, withRelated: withSeeds },
        load: { p50: median(load), p95: percentile(load, 95) },
        viaGraphPerQuery: viaGraph / queries.length,
      },
    };
  } finally {
    await core.close();
  }
}
