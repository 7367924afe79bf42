/**
 * Scale data dirs (10k, 100k captures) for the search and cold-open benchmarks, built through the
 * public Core API (captureMany in batches of 1000, one drain at the end) with CachingEmbedderSource,
 * and cached under bench/results/cache/data-<size> with a marker so later runs reuse them. A fresh
 * clone builds them on first use. The build runs in its own process so its peak memory is its own.
 *
 *   node bench/dataset.ts <size> <dir>   builds one data dir and prints its stats as JSON
 */
import fs from 'node:fs';
import path from 'node:path';
import { Core } from '../desktop/src/core/Core.ts';
import { embeddingInput } from '../desktop/src/core/index/SearchIndex.ts';
import { INDEX_SCHEMA_VERSION } from '../desktop/src/core/index/indexSchema.ts';
import { CachingEmbedderSource, loadBaseVectors } from './cachingEmbedder.ts';
import { CORPUS_VERSION, baseSentences, generateCaptures, type GeneratedCapture } from './corpus.ts';
import { CACHE_DIR, isMain, lastJsonLine, peakRssMB, runNode, sizeLabel } from './report.ts';

const MARKER = 'bench-dataset.json';
const BATCH = 1000;
const SEED = 20_260_101;

export interface BuildStats {
  size: number;
  captures: number;
  embedded: number;
  shards: number;
  captureS: number;
  indexS: number;
  embedS: number;
  totalS: number;
  embedderHits: number;
  embedderMisses: number;
  peakRssMB: number;
  diskMB: { docs: number; index: number };
}

interface Marker {
  corpusVersion: number;
  indexSchema: string;
  seed: number;
  size: number;
  builtAt: string;
  stats: BuildStats;
}

export interface Dataset {
  dir: string;
  size: number;
  /** Set when this call built the data dir; undefined when a cached one was reused. */
  built?: BuildStats;
  stats: BuildStats;
  builtAt: string;
}

export function dataDirFor(size: number): string {
  return path.join(CACHE_DIR, `data-${sizeLabel(size)}`);
}

function readMarker(dir: string): Marker | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

/** The cached data dir of `size` captures, built (in a child process) when missing or outdated. */
export async function ensureDataDir(size: number, log: (m: string) => void): Promise<Dataset> {
  const dir = dataDirFor(size);
  const marker = readMarker(dir);
  if (
    marker &&
    marker.corpusVersion === CORPUS_VERSION &&
    marker.indexSchema === INDEX_SCHEMA_VERSION &&
    marker.seed === SEED &&
    marker.size === size &&
    !fs.existsSync(path.join(dir, 'lock'))
  ) {
    log(`reusing ${path.relative(process.cwd(), dir)} (built ${marker.builtAt})`);
    return { dir, size, stats: marker.stats, builtAt: marker.builtAt };
  }
  log(`building ${sizeLabel(size)}-capture data dir in ${path.relative(process.cwd(), dir)} (first run only)`);
  const out = await runNode(import.meta.filename, [String(size), dir]);
  if (out.code !== 0) throw new Error(`building the ${sizeLabel(size)} data dir failed (exit ${out.code})`);
  const stats = lastJsonLine<BuildStats>(out.stdout);
  return { dir, size, built: stats, stats, builtAt: new Date().toISOString() };
}

async function build(size: number, dir: string): Promise<BuildStats> {
  const log = (m: string): void => void process.stderr.write(`  [build ${sizeLabel(size)}] ${m}\n`);
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  const vectors = await loadBaseVectors(baseSentences(), CACHE_DIR, log);
  const source = new CachingEmbedderSource(vectors);

  const t0 = performance.now();
  const core = await Core.open({ dataDir: partial, background: false, embedder: source, deviceName: 'bench' });
  let indexDoneAt = 0;
  let indexJobs = 0;
  core.on((e) => {
    if (e.type === 'job' && e.event.job.kind === 'index-shard' && e.event.outcome === 'done') {
      indexDoneAt = performance.now();
      if (++indexJobs % 10 === 0) log(`indexed ${indexJobs} shards`);
    }
  });
  let lastLog = 0;
  core.on((e) => {
    if (e.type === 'progress' && e.task === 'embed' && (performance.now() - lastLog > 15_000 || e.done === e.total)) {
      lastLog = performance.now();
      log(`embedded ${e.done.toLocaleString('en-US')} / ${e.total.toLocaleString('en-US')}`);
    }
  });

  let batch: GeneratedCapture[] = [];
  let stored = 0;
  const flush = async (): Promise<void> => {
    const captures = await core.captureMany(batch.map((b) => b.input));
    captures.forEach((c, i) => source.register(embeddingInput(c.title, c.text), batch[i]!.base));
    stored += captures.length;
    batch = [];
    if (stored % 10_000 === 0 || stored === size) log(`stored ${stored.toLocaleString('en-US')} captures (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  };
  for (const g of generateCaptures({ seed: SEED, count: size })) {
    batch.push(g);
    if (batch.length === BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  const t1 = performance.now();
  log('draining jobs (index, then embeddings)');
  await core.drain();
  const t2 = performance.now();
  const stats = core.stats();
  await core.close();
  if (stats.captures !== size || stats.embedder.embedded !== size) {
    throw new Error(`data dir incomplete: ${stats.captures} indexed, ${stats.embedder.embedded} embedded of ${size}`);
  }
  const result: BuildStats = {
    size,
    captures: stats.captures,
    embedded: stats.embedder.embedded,
    shards: stats.shards,
    captureS: (t1 - t0) / 1000,
    indexS: (Math.max(indexDoneAt, t1) - t1) / 1000,
    embedS: (t2 - Math.max(indexDoneAt, t1)) / 1000,
    totalS: (t2 - t0) / 1000,
    embedderHits: source.hits,
    embedderMisses: source.misses,
    peakRssMB: peakRssMB(),
    diskMB: { docs: stats.disk.docs / 2 ** 20, index: stats.disk.index / 2 ** 20 },
  };
  const marker: Marker = { corpusVersion: CORPUS_VERSION, indexSchema: INDEX_SCHEMA_VERSION, seed: SEED, size, builtAt: new Date().toISOString(), stats: result };
  fs.writeFileSync(path.join(partial, MARKER), JSON.stringify(marker, null, 2));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
  log(`done in ${result.totalS.toFixed(0)} s: ${result.shards} shards, docs ${result.diskMB.docs.toFixed(0)} MB, index ${result.diskMB.index.toFixed(0)} MB`);
  return result;
}

if (isMain(import.meta.filename)) {
  const [size, dir] = [Number(process.argv[2]), process.argv[3]];
  if (!Number.isInteger(size) || size <= 0 || !dir) {
    process.stderr.write('usage: node bench/dataset.ts <size> <dir>\n');
    process.exit(2);
  }
  const stats = await build(size, dir);
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}
