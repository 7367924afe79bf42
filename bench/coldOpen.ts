/**
 * Cold open on the 100k data dir: a fresh Node process opens the Core and runs one hybrid search
 * (waitForModel: true). Three runs per `documents` mode of Core.open ('await', the default, and
 * 'background', which read-only CLI commands use), medians reported. "Cold" is the process (module loading, WASM,
 * model, SQLite connections); the OS page cache is warm, as it is when a person reopens the app.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import * as sqliteVec from 'sqlite-vec';
import { ensureDataDir } from './dataset.ts';
import { BENCH_DIR, lastJsonLine, median, row, runNode, sizeLabel, type BenchContext, type BenchResult, type Row } from './report.ts';

const RUNS = 3;
const QUERY = 'how does sleep help memory';
const TARGET_FIRST_RESULT_MS = 1000;

interface ChildTimes {
  processStartToScript: number;
  importCoreMs: number;
  openMs: number;
  openCallMs: number;
  modelReadyMs: number;
  firstResultMs: number;
  firstAnyResultMs: number;
  firstAnyMode: string;
  firstAnyHits: number;
  closeMs: number;
  cpuMsToFirstResult: number;
  mode: string;
  hits: number;
  peakRssMB: number;
}

function fileMB(file: string): number {
  return ['', '-wal'].reduce((n, s) => n + (fs.existsSync(file + s) ? fs.statSync(file + s).size : 0), 0) / 2 ** 20;
}

export async function run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> {
  const size = ctx.quick ? 3000 : 100_000;
  const label = sizeLabel(size);
  const ds = await ensureDataDir(size, ctx.log);
  const rows: Row[] = [];

  const runsByMode: Record<string, (ChildTimes & { wallMs: number })[]> = {};
  for (const documents of ['await', 'background'] as const) {
    const runs: (ChildTimes & { wallMs: number })[] = (runsByMode[documents] = []);
    for (let i = 0; i < RUNS; i++) {
      const out = await runNode(path.join(BENCH_DIR, 'coldOpenChild.ts'), [ds.dir, QUERY, documents]);
      if (out.code !== 0) throw new Error(`cold-open child exited with ${out.code}`);
      const times = lastJsonLine<ChildTimes>(out.stdout);
      runs.push({ ...times, wallMs: out.wallMs });
      ctx.log(
        `coldOpen (documents: ${documents}) run ${i + 1}: open ${times.openMs.toFixed(0)} ms, first result ${times.firstResultMs.toFixed(0)} ms (${times.mode}, ${times.hits} hits), wall ${out.wallMs.toFixed(0)} ms`,
      );
    }
    const med = (f: (r: (typeof runs)[number]) => number): number => median(runs.map(f));
    const setup = `${label}, fresh process, documents: '${documents}'${documents === 'await' ? ' (default)' : ' (lva search)'}, median of ${RUNS}`;
    rows.push(row('process start → Core.open done', setup, med((r) => r.openMs), 'ms'));
    rows.push(
      row('process start → first search result (keyword-first, while the model loads)', setup, med((r) => r.firstAnyResultMs), 'ms', { op: '<=', value: TARGET_FIRST_RESULT_MS }),
    );
    rows.push(row('  its mode / hits', setup, `${runs[0]!.firstAnyMode} / ${runs[0]!.firstAnyHits}`, ''));
    rows.push(row('process start → first search result (hybrid)', setup, med((r) => r.firstResultMs), 'ms', { op: '<=', value: TARGET_FIRST_RESULT_MS }));
    rows.push(row('child wall time (spawn → exit, incl. close)', setup, med((r) => r.wallMs), 'ms'));
    rows.push(row('  part: node start → bench script', setup, med((r) => r.processStartToScript), 'ms'));
    rows.push(row('  part: import Core module graph', setup, med((r) => r.importCoreMs), 'ms'));
    rows.push(row('  part: Core.open call', setup, med((r) => r.openCallMs), 'ms'));
    rows.push(row('  part: process start → USE model ready', setup, med((r) => r.modelReadyMs), 'ms'));
    rows.push(row('  part: USE model ready → first result', setup, med((r) => r.firstResultMs - r.modelReadyMs), 'ms'));
    rows.push(row('  part: Core.close', setup, med((r) => r.closeMs), 'ms'));
    rows.push(row('  CPU time (user+sys) to first result', setup, med((r) => r.cpuMsToFirstResult), 'ms'));
    if (runs.some((r) => r.mode !== 'hybrid')) rows.push(row('WARNING: first search not hybrid', setup, runs.filter((r) => r.mode !== 'hybrid').length, 'runs'));
    rows.push(row('peak RSS, cold-open process', setup, med((r) => r.peakRssMB), 'MB'));
  }

  // What Core.open's integrity check costs on its own (page cache warm, as above).
  const indexFile = path.join(ds.dir, 'index.sqlite');
  const checks: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const db = new Database(indexFile, { readonly: true });
    db.pragma('mmap_size = 536870912');
    sqliteVec.load(db);
    db.pragma('quick_check(1)', { simple: true });
    db.close();
    checks.push(performance.now() - t);
  }
  rows.push(row('diagnostic: PRAGMA quick_check(1) alone (full page check)', `index.sqlite ${fileMB(indexFile).toFixed(0)} MB, median of ${RUNS}`, median(checks), 'ms'));

  return {
    name: 'coldOpen',
    title: 'cold open and first search result in a fresh process',
    quick: ctx.quick,
    rows,
    details: { dataDir: ds.dir, query: QUERY, runs: runsByMode, quickCheckMs: checks, docsMB: fileMB(path.join(ds.dir, 'docs.sqlite')), indexMB: fileMB(indexFile) },
  };
}
