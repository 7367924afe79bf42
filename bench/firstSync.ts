/**
 * First sync of a new device: device A holds N realistic captures (importCaptures in batches of
 * 1,000; A's own index is not built, only its documents matter), pushes them once, and syncs again
 * so it may send snapshots. Then a new device pairs with an invite and, in its own process (see
 * firstSyncJoin.ts), pulls everything (finishJoin), opens and builds its keyword index. The relay
 * runs in this process on loopback, so its CPU during the join is this process's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInvite } from '../desktop/src/core/sync/Pairing.ts';
import { generateCaptures } from './corpus.ts';
import { BENCH_DIR, lastJsonLine, row, runNode, sizeLabel, type BenchContext, type BenchResult, type Row } from './report.ts';
import { openFirstDevice, relayMetrics, startRelayInProcess, syncOnce } from './syncRig.ts';

const TARGET_S = 20;
const BATCH = 1000;

interface JoinResult {
  redeemMs: number;
  finishJoinMs: number;
  openMs: number;
  catchUpIndexMs: number;
  firstSyncOnceMs: number;
  totalMs: number;
  pulledItems: number;
  pullBatches: number;
  secondSync: { pushed: number; pulled: number };
  indexedCaptures: number;
  documentCaptures: number;
  shards: number;
  docsMB: number;
  indexMB: number;
  probeHits: number;
  probeMode: string;
  peakRssAfterJoinMB: number;
  peakRssMB: number;
}

const MB = 2 ** 20;

export async function run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> {
  const n = ctx.quick ? 1000 : 10_000;
  const label = sizeLabel(n);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-bench-firstsync-'));
  const relay = await startRelayInProcess(path.join(root, 'relay'));
  const dirA = path.join(root, 'a');
  const dirB = path.join(root, 'b');
  try {
    ctx.log(`firstSync: device A imports ${label} captures`);
    const a = await openFirstDevice(dirA, relay.url, false);
    const tImport = performance.now();
    let chars = 0;
    let batch = [];
    for (const g of generateCaptures({ seed: 31, count: n, months: 24 })) {
      batch.push(g.input);
      chars += (g.input.text ?? '').length;
      if (batch.length === BATCH) {
        await a.core.importCaptures(batch);
        batch = [];
      }
    }
    if (batch.length) await a.core.importCaptures(batch);
    const importS = (performance.now() - tImport) / 1000;
    const docsA = await a.core.documents();
    const shardsA = docsA.shardIds().length;

    ctx.log('firstSync: A pushes (syncOnce), then syncs again (snapshots)');
    const tPush = performance.now();
    const first = await syncOnce(a.core, dirA);
    const pushS = (performance.now() - tPush) / 1000;
    const afterPush = await relay.storage.stats();
    const tSecond = performance.now();
    await syncOnce(a.core, dirA);
    const secondS = (performance.now() - tSecond) / 1000;
    const metrics = await relayMetrics(relay.url);
    const snapshots = metrics.get('lva_relay_sync_frames_total{type="snapshot"}') ?? 0;
    const relayStats = await relay.storage.stats();
    const relayDisk = fs.readdirSync(path.join(root, 'relay'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((s, e) => s + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
    const invite = await createInvite(dirA);
    await a.core.close();

    ctx.log('firstSync: a new device pairs and pulls everything (own process)');
    const cpu0 = process.cpuUsage();
    const out = await runNode(path.join(BENCH_DIR, 'firstSyncJoin.ts'), [dirB, invite.code, relay.url]);
    const relayCpu = process.cpuUsage(cpu0);
    if (out.code !== 0) throw new Error(`the joining device failed (exit ${out.code})`);
    const j = lastJsonLine<JoinResult>(out.stdout);
    if (j.indexedCaptures !== n || j.documentCaptures !== n) throw new Error(`the new device holds ${j.documentCaptures} captures (${j.indexedCaptures} indexed), expected ${n}`);

    const setup = `${label} captures (avg ${Math.round(chars / n)} chars, ${shardsA} shards), loopback relay`;
    const rows: Row[] = [
      row(`first sync of a new device holding ${label} captures`, `${setup}; redeem + finishJoin + Core.open + catchUpIndex`, j.totalMs / 1000, 's', { op: '<=', value: TARGET_S }),
      row('  redeem invite', 'HTTP, one round trip + key unwrap', j.redeemMs, 'ms'),
      row('  finishJoin: pull and store every document', `${j.pulledItems} items in ${j.pullBatches} pull batches`, j.finishJoinMs / 1000, 's'),
      row('  Core.open', 'documents loaded (await mode)', j.openMs / 1000, 's'),
      row('  catchUpIndex (keyword index of everything)', `${j.shards} shards`, j.catchUpIndexMs / 1000, 's'),
      row('  relay CPU during the join', 'relay in the parent process, user+system', (relayCpu.user + relayCpu.system) / 1000, 'ms'),
      row('captures on the new device', 'documents (allCaptures) / keyword index', `${j.documentCaptures} / ${j.indexedCaptures}`, ''),
      row('keyword search finds synced captures', '"photosynthesis chlorophyll"', j.probeHits, 'hits'),
      row('next syncOnce on the new device', 'nothing should go up or come down twice', `${j.firstSyncOnceMs.toFixed(0)} ms, pushed ${j.secondSync.pushed}, pulled ${j.secondSync.pulled}`, ''),
      row('new device peak RSS', 'after finishJoin / at the end', `${j.peakRssAfterJoinMB.toFixed(0)} / ${j.peakRssMB.toFixed(0)}`, 'MB'),
      row('new device disk', 'documents / keyword index', `${j.docsMB.toFixed(1)} / ${j.indexMB.toFixed(1)}`, 'MB'),
      row('A: importCaptures', `${label} in batches of ${BATCH}, documents only`, importS, 's'),
      row('A: first syncOnce (push everything)', `${first.pushed} documents → ${afterPush.chunksAppended} chunks`, pushS, 's'),
      row('A: second syncOnce (pull; snapshots of documents with ≥ 64 chunks)', `${snapshots} snapshots sent`, secondS, 's'),
      row('relay: bytes held', `${relayStats.chunksAppended} chunks, ${snapshots} snapshots (storage stats bytesUsed)`, relayStats.bytesUsed / MB, 'MB'),
      row('relay: data dir on disk', 'SQLite + WAL + blob dir', relayDisk / MB, 'MB'),
    ];
    return {
      name: 'firstSync',
      title: 'first sync of a new device, through the real relay',
      quick: ctx.quick,
      rows,
      details: {
        captures: n,
        avgChars: chars / n,
        shardsA,
        importS,
        pushS,
        secondS,
        firstPush: first,
        relay: { afterPush, final: relayStats, snapshots, diskBytes: relayDisk, cpuMsDuringJoin: (relayCpu.user + relayCpu.system) / 1000 },
        join: j,
        embedder: 'keyword-only on both devices (USE not loaded)',
      },
    };
  } finally {
    await relay.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
