/** Shared shapes and helpers of the benchmarks: result rows, tables, percentiles, child processes. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const BENCH_DIR = import.meta.dirname;
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
/** Derived, rebuildable things the benchmarks keep between runs (base vectors, data dirs). */
export const CACHE_DIR = path.join(RESULTS_DIR, 'cache');

export interface Target {
  op: '>=' | '<=';
  value: number;
}

export interface Row {
  measure: string;
  setup: string;
  value: number | string;
  unit: string;
  target?: Target;
  /** Only when there is a target: whether the value meets it. A missed target is reported, never fatal. */
  ok?: boolean;
}

export interface BenchContext {
  quick: boolean;
  /** Progress for people watching: stderr, never stdout. */
  log: (message: string) => void;
}

export interface BenchResult {
  name: string;
  title: string;
  quick: boolean;
  startedAt: string;
  durationS: number;
  rows: Row[];
  details: Record<string, unknown>;
}

export function row(measure: string, setup: string, value: number | string, unit: string, target?: Target): Row {
  const r: Row = { measure, setup, value: typeof value === 'number' ? round(value) : value, unit };
  if (target) {
    r.target = target;
    r.ok = typeof value === 'number' && (target.op === '>=' ? value >= target.value : value <= target.value);
  }
  return r;
}

export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const abs = Math.abs(x);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return Number(x.toFixed(digits));
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function peakRssMB(): number {
  // resourceUsage().maxRSS is in kilobytes.
  return process.resourceUsage().maxRSS / 1024;
}

export function sizeLabel(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

function formatValue(r: Row): string {
  return typeof r.value === 'number' ? `${r.value.toLocaleString('en-US')} ${r.unit}`.trim() : `${r.value}${r.unit ? ` ${r.unit}` : ''}`;
}

function formatTarget(r: Row): string {
  return r.target ? `${r.target.op === '>=' ? '≥' : '≤'} ${r.target.value.toLocaleString('en-US')} ${r.unit}`.trim() : '–';
}

export function formatTable(result: BenchResult): string {
  const header = ['measure', 'setup', 'value', 'target', 'ok?'];
  const lines = result.rows.map((r) => [r.measure, r.setup, formatValue(r), formatTarget(r), r.ok === undefined ? '–' : r.ok ? 'yes' : 'NO']);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    `### ${result.name}: ${result.title}${result.quick ? ' (--quick)' : ''}`,
    '',
    fmt(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...lines.map(fmt),
  ].join('\n');
}

export interface ChildOutcome {
  code: number | null;
  stdout: string;
  wallMs: number;
}

/** Runs a .ts file in a fresh Node process; stderr passes through, stdout is captured. */
export function runNode(script: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: options.env ?? process.env });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks).toString('utf8'), wallMs: performance.now() - started }));
  });
}

/** The last line of a child's stdout that parses as JSON: children print their result there. */
export function lastJsonLine<T>(stdout: string): T {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line) as T;
    } catch {
      // not the result line
    }
  }
  throw new Error(`no JSON result in child output: ${stdout.slice(-500)}`);
}

/** True when `file` (import.meta.filename) is the script node was started with. */
export function isMain(file: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === file;
}
