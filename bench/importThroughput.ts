/**
 * Import throughput: N realistic, varied captures through `captureMany` in batches of 200, then
 * `drain()` (FTS index + USE embeddings), with the real model, into a fresh data dir. Reports the
 * acknowledged-import phase, the indexing+embedding phase (split into its two job kinds) and end to end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NewCapture } from '@lva/shared';
import { Core } from '../desktop/src/core/Core.ts';
import { embeddingInput } from '../desktop/src/core/index/SearchIndex.ts';
import { generateCaptures } from './corpus.ts';
import { row, type BenchContext, type BenchResult, type Row } from './report.ts';

const BATCH = 200;
const TARGET = 100;

interface ImportRun {
  n: number;
  avgChars: number;
  openS: number;
  importS: number;
  drainS: number;
  indexS: number;
  embedS: number;
  captures: number;
  embedded: number;
  mode: string;
}

async function importOnce(inputs: readonly NewCapture[], log: (m: string) => void): Promise<ImportRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-bench-import-'));
  try {
    const tOpen = performance.now();
    const core = await Core.open({ dataDir: dir, background: false, deviceName: 'bench' });
    const t0 = performance.now();
    let lastIndexDone = 0;
    core.on((e) => {
      if (e.type === 'job' && e.event.job.kind === 'index-shard' && e.event.outcome === 'done') lastIndexDone = performance.now();
    });
    let stored = 0;
    let chars = 0;
    for (let i = 0; i < inputs.length; i += BATCH) {
      const captures = await core.captureMany(inputs.slice(i, i + BATCH));
      stored += captures.length;
      for (const c of captures) chars += embeddingInput(c.title, c.text).length;
    }
    const t1 = performance.now();
    log(`  ${stored} captures acknowledged in ${((t1 - t0) / 1000).toFixed(1)} s; draining`);
    let lastLog = 0;
    const off = core.on((e) => {
      if (e.type === 'progress' && e.task === 'embed' && performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`  embedded ${e.done} / ${e.total}`);
      }
    });
    await core.drain();
    off();
    const t2 = performance.now();
    const stats = core.stats();
    const probe = await core.search({ query: 'memory' }, { waitForModel: true });
    await core.close();
    const indexEnd = Math.max(lastIndexDone, t1);
    return {
      n: inputs.length,
      avgChars: chars / stored,
      openS: (t0 - tOpen) / 1000,
      importS: (t1 - t0) / 1000,
      drainS: (t2 - t1) / 1000,
      indexS: (indexEnd - t1) / 1000,
      embedS: (t2 - indexEnd) / 1000,
      captures: stats.captures,
      embedded: stats.embedder.embedded,
      mode: probe.mode,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> {
  const n = ctx.quick ? 400 : 2000;
  const rows: Row[] = [];
  const details: Record<string, unknown> = { batch: BATCH, embedder: 'use-lite-512 (real model)' };
  const variants = [
    { key: 'realistic', label: 'realistic mix', shortOnly: false },
    { key: 'short', label: 'short notes only', shortOnly: true },
  ];
  for (const v of variants) {
    const inputs = [...generateCaptures({ seed: 7, count: n, months: 24, shortOnly: v.shortOnly })].map((g) => g.input);
    ctx.log(`importThroughput: ${n} captures, ${v.label}`);
    const r = await importOnce(inputs, ctx.log);
    details[v.key] = r;
    if (r.captures !== n || r.embedded !== n) throw new Error(`import incomplete: ${r.captures} indexed, ${r.embedded} embedded of ${n}`);
    const setup = `${n} ${v.label} (avg ${Math.round(r.avgChars)} chars), batches of ${BATCH}`;
    const e2e = n / (r.importS + r.drainS);
    if (v.key === 'realistic') {
      rows.push(row('import (ack) phase', setup, n / r.importS, 'captures/s'));
      rows.push(row('index+embed phase (drain)', setup, n / r.drainS, 'captures/s'));
      rows.push(row('  of which FTS indexing', setup, n / r.indexS, 'captures/s'));
      rows.push(row('  of which USE embedding', setup, n / r.embedS, 'captures/s'));
      rows.push(row('end to end (import + drain)', setup, e2e, 'captures/s', { op: '>=', value: TARGET }));
      rows.push(row('end to end wall time', setup, r.importS + r.drainS, 's'));
    } else {
      rows.push(row('end to end (import + drain)', setup, e2e, 'captures/s', { op: '>=', value: TARGET }));
      rows.push(row('  of which USE embedding', setup, n / r.embedS, 'captures/s'));
    }
  }
  return { name: 'importThroughput', title: 'import throughput, captureMany + drain with the real USE embedder', quick: ctx.quick, rows, details };
}
