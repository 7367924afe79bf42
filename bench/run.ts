/**
 * Benchmarks: `npm run bench` (all), `npm run bench -- --only searchLatency`, `npm run bench -- --quick`.
 *
 * Each benchmark runs in its own Node process, so its peak RSS is its own; heavy sub-steps (building a
 * data dir, each cold start) run in further processes and report their own peaks. One table per
 * benchmark goes to stdout, progress to stderr; JSON goes to bench/results/<name>.json and
 * bench/results/summary.json (bench/results/quick/ for --quick). Targets are reported, never enforced:
 * a missed target shows as "NO" and the exit code stays 0.
 *
 * Internal: `node bench/run.ts --child <name> --out <file> [--quick]` runs one benchmark in-process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, RESULTS_DIR, formatTable, lastJsonLine, peakRssMB, row, runNode, type BenchContext, type BenchResult } from './report.ts';

type BenchModule = { run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> };

const BENCHES: Record<string, () => Promise<BenchModule>> = {
  importThroughput: () => import('./importThroughput.ts'),
  searchLatency: () => import('./searchLatency.ts'),
  coldOpen: () => import('./coldOpen.ts'),
  syncLatency: () => import('./syncLatency.ts'),
  firstSync: () => import('./firstSync.ts'),
  relayFanIn: () => import('./relayFanIn.ts'),
  voiceTurn: () => import('./voiceTurn.ts'),
  retrieval: () => import('./retrieval.ts'),
};

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    child: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = values.quick ?? false;
const log = (message: string): void => void process.stderr.write(`${message}\n`);

async function runChild(name: string, out: string): Promise<void> {
  const load = BENCHES[name];
  if (!load) throw new Error(`unknown benchmark ${name}`);
  const started = new Date();
  const t0 = performance.now();
  const loadBefore = os.loadavg()[0]!;
  const mod = await load();
  const result = await mod.run({ quick, log });
  result.rows.push(row('peak RSS, benchmark process', `${name} (excl. its child processes)`, peakRssMB(), 'MB'));
  // Other work on the machine skews every timing here; the load average says how much there was.
  result.rows.push(row('machine load (1-min avg) start → end', `${os.cpus().length} CPUs`, `${loadBefore.toFixed(2)} → ${os.loadavg()[0]!.toFixed(2)}`, ''));
  const full: BenchResult = { ...result, startedAt: started.toISOString(), durationS: (performance.now() - t0) / 1000 };
  fs.writeFileSync(out, JSON.stringify(full, null, 2));
  process.stdout.write(`${JSON.stringify({ done: name })}\n`);
}

async function main(): Promise<void> {
  const only = (values.only ?? []).flatMap((o) => o.split(',')).filter(Boolean);
  for (const name of only) {
    if (!BENCHES[name]) {
      log(`unknown benchmark "${name}"; choose from ${Object.keys(BENCHES).join(', ')}`);
      process.exit(2);
    }
  }
  const names = only.length ? only : Object.keys(BENCHES);
  const outDir = quick ? path.join(RESULTS_DIR, 'quick') : RESULTS_DIR;
  fs.mkdirSync(outDir, { recursive: true });
  const summaryFile = path.join(outDir, 'summary.json');
  let summary: Record<string, BenchResult> = {};
  try {
    summary = (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { results?: Record<string, BenchResult> }).results ?? {};
  } catch {
    // first run
  }

  const tables: string[] = [];
  let failures = 0;
  for (const name of names) {
    log(`\n== ${name}${quick ? ' (--quick)' : ''} ==`);
    const file = path.join(outDir, `${name}.json`);
    const tmp = `${file}.tmp`;
    fs.rmSync(tmp, { force: true });
    const outcome = await runNode(path.join(BENCH_DIR, 'run.ts'), ['--child', name, '--out', tmp, ...(quick ? ['--quick'] : [])]);
    if (outcome.code !== 0 || !fs.existsSync(tmp)) {
      // A crash is not a missed target: it is reported and the run goes on to the next benchmark.
      failures++;
      log(`${name} crashed (exit ${outcome.code}); see the output above`);
      tables.push(`### ${name}: CRASHED (exit ${outcome.code})`);
      continue;
    }
    lastJsonLine<{ done: string }>(outcome.stdout);
    const result = JSON.parse(fs.readFileSync(tmp, 'utf8')) as BenchResult;
    fs.renameSync(tmp, file);
    summary[name] = result;
    const table = formatTable(result);
    tables.push(table);
    process.stdout.write(`\n${table}\n`);
  }

  fs.writeFileSync(
    summaryFile,
    JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: os.cpus().length,
        results: summary,
        targets: Object.values(summary).flatMap((r) => r.rows.filter((x) => x.target).map((x) => ({ bench: r.name, measure: x.measure, setup: x.setup, value: x.value, unit: x.unit, target: x.target, ok: x.ok }))),
      },
      null,
      2,
    ),
  );
  log(`\nresults: ${path.relative(process.cwd(), outDir)}/{${names.join(',')},summary}.json`);
  // Crashes fail the run; missed targets do not.
  if (failures > 0) process.exitCode = 1;
}

if (values.child) {
  if (!values.out) throw new Error('--child needs --out');
  await runChild(values.child, values.out);
} else {
  await main();
}
