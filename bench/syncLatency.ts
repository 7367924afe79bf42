/**
 * Sync latency: a capture on device A until a keyword search on device B finds it. Two Cores in
 * this process, each with its own data dir, paired through the real relay on loopback (also in this
 * process), both engines in watch mode; B runs its jobs in the background as the app does. A captures
 * a unique text, waits until B finds it, then the next. Each round is also split at the points the
 * path passes: A's push sent and acked, the change applied to B's document, B's index job done.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Core } from '../desktop/src/core/Core.ts';
import { docStoreTarget, SyncEngine } from '../desktop/src/core/sync/SyncEngine.ts';
import { generateCaptures, Rng } from './corpus.ts';
import { median, percentile, row, type BenchContext, type BenchResult, type Row } from './report.ts';
import { joinDevice, keywordOnlyEmbedder, openFirstDevice, startRelayInProcess, syncOnce } from './syncRig.ts';

const TARGET_P95_MS = 300;
const POLL_MS = 5;
const ROUND_TIMEOUT_MS = 15_000;
const WARMUP = 3;

interface Round {
  /** All in ms from just before `a.capture()`. */
  stored: number;
  pushSent?: number;
  pushAcked?: number;
  applied?: number;
  getOnB?: number;
  indexed?: number;
  searchable: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A word no generated capture contains, so only the probe can match it. */
function probeWord(rng: Rng, i: number): string {
  const letters = 'bcdfghjklmnpqrstvwxz';
  let w = 'zq';
  for (let k = 0; k < 8; k++) w += rng.pick([...letters]);
  return `${w}${i}`;
}

export async function run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> {
  const n = ctx.quick ? 10 : 50;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-bench-synclat-'));
  const relay = await startRelayInProcess(path.join(root, 'relay'));
  const dirA = path.join(root, 'a');
  const dirB = path.join(root, 'b');
  let b: Core | undefined;
  let a: Core | undefined;
  const engines: SyncEngine[] = [];
  try {
    ctx.log(`syncLatency: pairing two devices through ${relay.url}`);
    const devA = await openFirstDevice(dirA, relay.url, false);
    a = devA.core;
    // A few captures so B's first index and A's documents are not empty.
    await a.captureMany([...generateCaptures({ seed: 11, count: 20, months: 2 })].map((g) => g.input));
    await syncOnce(a, dirA);
    await joinDevice(dirA, dirB, relay.url);
    b = await Core.open({ dataDir: dirB, background: true, deviceName: 'bench-b', embedder: keywordOnlyEmbedder() });
    const docsA = await a.documents();
    const docsB = await b.documents();
    const engA = new SyncEngine(dirA, docStoreTarget(docsA));
    const engB = new SyncEngine(dirB, docStoreTarget(docsB));
    engines.push(engA, engB);
    const errors: string[] = [];
    for (const e of engines) e.on((ev) => ev.type === 'error' && errors.push(ev.message));
    await engB.watch();
    await engA.watch();
    await b.catchUpIndex();

    // Timestamps of the path's stages, taken by listeners and reset each round.
    let t0 = 0;
    let current: Partial<Round> = {};
    const since = (): number => performance.now() - t0;
    engA.on((ev) => {
      if (ev.type !== 'status') return;
      if (ev.status.startsWith('syncing')) current.pushSent ??= since();
      else if (ev.status === 'connected' && current.pushSent !== undefined) current.pushAcked ??= since();
    });
    docsB.onShardChange(() => (current.applied ??= since()));
    b.on((ev) => {
      if (ev.type === 'job' && ev.event.job.kind === 'index-shard' && ev.event.outcome === 'done' && current.applied !== undefined) current.indexed ??= since();
    });

    const rng = new Rng(4242);
    const texts = [...generateCaptures({ seed: 12, count: n + WARMUP, months: 1, shortOnly: true })].map((g) => g.input.text);
    const rounds: Round[] = [];
    // What one poll costs bounds how precisely the pieces are timed.
    const pollGet: number[] = [];
    const pollSearch: number[] = [];
    ctx.log(`syncLatency: ${WARMUP} warm-up rounds, then ${n} measured`);
    // Both devices and the relay share one event loop: a long synchronous step anywhere delays every stage after it.
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    for (let i = 0; i < n + WARMUP; i++) {
      const word = probeWord(rng, i);
      current = {};
      t0 = performance.now();
      const capture = await a.capture({ text: `${texts[i]} ${word}` });
      current.stored = since();
      let found = false;
      while (since() < ROUND_TIMEOUT_MS) {
        const tPoll = performance.now();
        if (current.getOnB === undefined && (await b.get(capture.id))) current.getOnB = since();
        const tGet = performance.now();
        const result = await b.search({ query: word });
        pollGet.push(tGet - tPoll);
        pollSearch.push(performance.now() - tGet);
        if (result.hits.some((h) => h.id === capture.id)) {
          found = true;
          break;
        }
        await sleep(POLL_MS);
      }
      if (!found) throw new Error(`round ${i}: B did not find the capture within ${ROUND_TIMEOUT_MS} ms (sync errors: ${errors.join('; ') || 'none'})`);
      const done = { ...current, searchable: since() } as Round;
      if (i >= WARMUP) rounds.push(done);
      if (i === WARMUP - 1) loopDelay.enable();
      // Lets A's engine settle (its status back to connected) before the next round starts.
      await sleep(20);
    }

    loopDelay.disable();
    const rows: Row[] = [];
    const setup = `${n} captures one after another, 2 devices in one process, loopback relay`;
    const pick = (key: keyof Round): number[] => rounds.flatMap((r) => (r[key] === undefined ? [] : [r[key]]));
    const total = pick('searchable');
    rows.push(row('capture on A → searchable on B, p50', setup, percentile(total, 50), 'ms'));
    rows.push(row('capture on A → searchable on B, p95', setup, percentile(total, 95), 'ms', { op: '<=', value: TARGET_P95_MS }));
    const mp = (xs: number[]): string => (xs.length ? `${median(xs).toFixed(1)} / ${percentile(xs, 95).toFixed(1)}` : 'n/a');
    const pieces = `ms from before a.capture(), median / p95`;
    rows.push(row('  capture stored on A (capture resolved)', pieces, mp(pick('stored')), 'ms'));
    rows.push(row('  A starts its push (50 ms debounce)', pieces, mp(pick('pushSent')), 'ms'));
    rows.push(row('  A\'s push acked by the relay', pieces, mp(pick('pushAcked')), 'ms'));
    rows.push(row('  change applied to B\'s document (fan-out)', pieces, mp(pick('applied')), 'ms'));
    rows.push(row('  b.get(id) returns it (first poll)', pieces, mp(pick('getOnB')), 'ms'));
    rows.push(row('  B\'s index job done', pieces, mp(pick('indexed')), 'ms'));
    rows.push(row('  searchable on B (first poll)', pieces, mp(total), 'ms'));
    rows.push(row('  one poll on B: b.get(id)', 'median / p95 over all polls', mp(pollGet), 'ms'));
    rows.push(row('  one poll on B: b.search(word)', 'median / p95 over all polls', mp(pollSearch), 'ms'));
    rows.push(row('  event loop delay p99 / max (all 3 parties)', 'whole measured run, 1 ms resolution', `${(loopDelay.percentile(99) / 1e6).toFixed(1)} / ${(loopDelay.max / 1e6).toFixed(1)}`, 'ms'));
    rows.push(row('embedder', 'both devices', 'none: keyword search (FTS) only', ''));
    if (errors.length) rows.push(row('WARNING: sync errors', setup, errors.length, ''));
    return {
      name: 'syncLatency',
      title: 'capture on one device until searchable on another, through the real relay',
      quick: ctx.quick,
      rows,
      details: {
        rounds: rounds.length,
        pollMs: POLL_MS,
        warmup: WARMUP,
        embedder: 'keyword-only (USE not loaded; search answers in keyword mode)',
        max: Math.max(...total),
        samples: rounds,
        errors,
      },
    };
  } finally {
    for (const e of engines) e.close();
    await a?.close();
    await b?.close();
    await relay.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
