/**
 * Real processes for the end-to-end sync tests: the relay (`relay/src/main.ts`) and `lva` devices,
 * each its own Node process on loopback. Nothing here reaches into either program: the tests see
 * what a user sees (exit codes, stdout, stderr) plus the relay's public /metrics.
 * E2E_TRACE=1 prints each finished `lva` command with its wall time to stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export const LVA = path.resolve(import.meta.dirname, '../../bin/lva.js');
export const RELAY_MAIN = path.resolve(import.meta.dirname, '../../../relay/src/main.ts');

/** Every child started here that has not exited yet, so a failed test leaves nothing running. */
const live = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGKILLs the children of this module that are still running (by their own handle, never by name). */
export function killLeftovers(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** A port nothing listens on right now: bound, read, released. The relay restarts on it later. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- lva ----

export interface Run {
  /** The exit code, or null when a signal ended the process. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface LvaOptions {
  /** Written to stdin, which is then closed (for `lva recover`). */
  input?: string;
  /** A generous safety net against a hung command; never an assertion about speed. */
  timeoutMs?: number;
}

/** A running `lva` command: its process, and its result once it has exited. */
export interface LvaProcess {
  readonly child: ChildProcess;
  readonly done: Promise<Run>;
  /** What it has written to stderr so far. */
  stderr(): string;
}

/** Starts `node desktop/bin/lva.js ARGS --data-dir DIR` without waiting for it. */
export function startLva(dataDir: string, args: readonly string[], options: LvaOptions = {}): LvaProcess {
  const child = track(
    spawn(process.execPath, [LVA, ...args, '--data-dir', dataDir], {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, LVA_DATA_DIR: undefined, LVA_DEBUG: undefined },
      timeout: options.timeoutMs ?? 180_000,
      killSignal: 'SIGKILL',
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (options.input !== undefined) child.stdin!.end(options.input);
  const t0 = Date.now();
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (process.env.E2E_TRACE) process.stderr.write(`[e2e] ${((Date.now() - t0) / 1000).toFixed(1)}s lva ${args.join(' ')} (${path.basename(dataDir)}) → ${signal ?? code}\n`);
      resolve({ status: code, signal, stdout, stderr });
    });
  });
  return { child, done, stderr: () => stderr };
}

/** Runs one `lva` command to its end. The relay is another process, so this may run concurrently. */
export function lva(dataDir: string, args: readonly string[], options: LvaOptions = {}): Promise<Run> {
  return startLva(dataDir, args, options).done;
}

/** Describes a run for assertion messages. */
export function describeRun(args: readonly string[], r: Run): string {
  return `lva ${args.join(' ')} → ${r.signal ?? `exit ${r.status}`}\nstdout: ${r.stdout.trim()}\nstderr: ${r.stderr.trim()}`;
}

/** Runs `lva ARGS --json`, requires exit 0 and returns the parsed stdout. */
export async function lvaJson<T>(dataDir: string, args: readonly string[], options: LvaOptions = {}): Promise<T> {
  const all = [...args, '--json'];
  const r = await lva(dataDir, all, options);
  if (r.status !== 0) throw new Error(`expected success: ${describeRun(all, r)}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON value: ${describeRun(all, r)}`);
  }
}

/**
 * A long-running `lva sync --watch`: its stderr is the status log ("connected (URL)", "offline: …;
 * retrying in …"), which the tests wait on. Stopped with SIGTERM, like Ctrl-C.
 */
export interface WatchProcess {
  readonly child: ChildProcess;
  stderr(): string;
  /** Resolves to the end of the first match of `pattern` at or after `from` in stderr. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<number>;
  /** SIGTERM, then the exit code (0 when it stopped cleanly). */
  stop(): Promise<number | null>;
}

export function startWatch(dataDir: string): WatchProcess {
  const proc = startLva(dataDir, ['sync', '--watch'], { timeoutMs: 600_000 });
  const child = proc.child;
  const waiters = new Set<() => void>();
  child.stderr!.on('data', () => {
    for (const w of waiters) w();
  });
  const matchAt = (pattern: RegExp, from: number): number | undefined => {
    const re = new RegExp(pattern.source, pattern.flags.replace('g', ''));
    const m = re.exec(proc.stderr().slice(from));
    return m ? from + m.index + m[0].length : undefined;
  };
  return {
    child,
    stderr: () => proc.stderr(),
    waitFor: (pattern, from = 0, timeoutMs = 90_000) =>
      new Promise<number>((resolve, reject) => {
        const check = (): void => {
          const at = matchAt(pattern, from);
          if (at !== undefined) finish(() => resolve(at));
          else if (child.exitCode !== null || child.signalCode !== null) finish(() => reject(new Error(`lva sync --watch exited before printing ${pattern}:\n${proc.stderr()}`)));
        };
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', check);
          settle();
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`lva sync --watch did not print ${pattern} within ${timeoutMs} ms:\n${proc.stderr()}`))), timeoutMs);
        waiters.add(check);
        child.on('exit', check);
        check();
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return (await proc.done).status;
    },
  };
}

// ---- the relay ----

export interface RelayProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Its JSON log lines so far. */
  log(): string;
  /** SIGTERM: the relay finishes what it is answering and closes its storage. */
  stop(): Promise<void>;
  /** SIGKILL: the relay dies wherever it is. */
  kill(): Promise<void>;
}

function spawnRelay(port: number, dataDir: string): Promise<RelayProcess> {
  const child = track(
    spawn(process.execPath, [RELAY_MAIN, '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LVA_RELAY_PUBLIC_ORIGIN: undefined },
    }),
  );
  let log = '';
  const url = `http://127.0.0.1:${port}`;
  const relay: RelayProcess = {
    url,
    port,
    dataDir,
    child,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exitOf(child);
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitOf(child);
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the relay did not start within 60 s:\n${log}`));
    }, 60_000);
    const onData = (d: string): void => {
      log += d;
      if (log.includes('"relay listening"')) {
        clearTimeout(timer);
        resolve(relay);
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the relay exited (${signal ?? code}) before listening:\n${log}`));
    });
  });
}

/**
 * Starts `node relay/src/main.ts` on PORT with DATA_DIR and waits for its "relay listening" line.
 * Right after a SIGKILL the port may not be free for a moment, so a start that fails is tried again.
 */
export async function startRelay(port: number, dataDir: string): Promise<RelayProcess> {
  fs.mkdirSync(dataDir, { recursive: true });
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await spawnRelay(port, dataDir);
    } catch (err) {
      last = err;
      await sleep(500);
    }
  }
  throw last;
}

/** The relay's Prometheus text. */
export async function relayMetrics(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  return res.text();
}

/** `lva_relay_chunks_appended_total`: encrypted chunks the relay has stored since it was created. */
export async function chunksAppended(url: string): Promise<number> {
  const m = /^lva_relay_chunks_appended_total (\d+)$/m.exec(await relayMetrics(url));
  if (!m) throw new Error('the relay exposes no lva_relay_chunks_appended_total');
  return Number(m[1]);
}

/** The sum of `lva_relay_http_requests_total` over the routes whose pattern contains `routePart`. */
export async function httpRequests(url: string, routePart: string): Promise<number> {
  let total = 0;
  for (const m of (await relayMetrics(url)).matchAll(/^lva_relay_http_requests_total\{route="([^"]*)",status="\d+"\} (\d+)$/gm)) {
    if (m[1]!.includes(routePart)) total += Number(m[2]);
  }
  return total;
}

// ---- data ----

export interface ImportLine {
  text: string;
  title?: string;
  createdAt?: string;
  tags?: string[];
}

export function writeJsonl(file: string, lines: readonly ImportLine[]): string {
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

/** One line of `lva export --format jsonl`. */
export interface Exported {
  id: string;
  text: string;
  title?: string;
  createdAt: string | number;
  source?: string;
  tags?: string[];
}

/** Every capture of a device, in the export's own order (by creation time, then id). */
export async function exportAll(dataDir: string): Promise<Exported[]> {
  const args = ['export', '--format', 'jsonl'];
  const r = await lva(dataDir, args);
  if (r.status !== 0) throw new Error(`expected success: ${describeRun(args, r)}`);
  return r.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Exported);
}

/** Files under `dir` (recursively) whose bytes contain one of `needles` as UTF-8: should be none on a relay. */
export function filesContaining(dir: string, needles: readonly string[]): { file: string; needle: string }[] {
  const found: { file: string; needle: string }[] = [];
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const bytes = fs.readFileSync(file);
    for (const needle of needles) if (bytes.includes(Buffer.from(needle, 'utf8'))) found.push({ file, needle });
  }
  return found;
}

/** Polls `ready` until it is true or the (generous) deadline passes; the deadline is a hang guard, not a speed check. */
export async function waitUntil(ready: () => Promise<boolean> | boolean, timeoutMs: number, what: string, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export interface RelaySuite {
  root: string;
  port: number;
  relayDir: string;
  /** Replaced when a test restarts the relay on the same port and data dir. */
  relay: RelayProcess;
}

/** A temp root and one relay process on a free port for a describe block; both go afterwards. */
export function relaySuite(prefix: string): RelaySuite {
  const suite = {} as RelaySuite;
  beforeAll(async () => {
    suite.root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    suite.port = await freePort();
    suite.relayDir = path.join(suite.root, 'relay');
    suite.relay = await startRelay(suite.port, suite.relayDir);
  });
  afterAll(async () => {
    await suite.relay?.stop();
    fs.rmSync(suite.root, { recursive: true, force: true });
  });
  return suite;
}
