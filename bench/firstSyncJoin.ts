/**
 * The new device's side of firstSync, as a fresh process so its time and memory are its own:
 *   node bench/firstSyncJoin.ts <dataDir> <inviteCode> <relayUrl>
 * Redeems the invite, finishJoin (pulls every document), Core.open, catchUpIndex (keyword index),
 * then counts what it holds. Prints one JSON line; times in ms.
 */
import { Core } from '../desktop/src/core/Core.ts';
import { finishJoin } from '../desktop/src/core/sync/Joining.ts';
import { redeemInvite } from '../desktop/src/core/sync/Pairing.ts';
import { docStoreTarget, SyncEngine } from '../desktop/src/core/sync/SyncEngine.ts';
import { peakRssMB } from './report.ts';
import { keywordOnlyEmbedder } from './syncRig.ts';

const [dataDir, code, relayUrl] = process.argv.slice(2);
if (!dataDir || !code || !relayUrl) {
  process.stderr.write('usage: node bench/firstSyncJoin.ts <dataDir> <inviteCode> <relayUrl>\n');
  process.exit(2);
}
const log = (m: string): void => void process.stderr.write(`  [new device] ${m}\n`);

const t0 = performance.now();
await redeemInvite(dataDir, code, { relayUrl, deviceName: 'bench-new' });
const redeemed = performance.now();
let received = 0;
let pulls = 0;
let lastLog = 0;
await finishJoin(dataDir, (e) => {
  if (e.type !== 'progress') return;
  pulls++;
  received = e.received;
  if (performance.now() - lastLog > 5000) {
    lastLog = performance.now();
    log(`pulled ${e.received} items (cursor ${e.cursor} of ${e.head ?? '?'})`);
  }
});
const joined = performance.now();
log(`finishJoin done in ${((joined - redeemed) / 1000).toFixed(1)} s; opening`);
const rssAfterJoin = peakRssMB();
const core = await Core.open({ dataDir, background: false, deviceName: 'bench-new', embedder: keywordOnlyEmbedder() });
const opened = performance.now();
await core.catchUpIndex();
const indexed = performance.now();
log(`keyword index caught up in ${((indexed - opened) / 1000).toFixed(1)} s; one more syncOnce`);
// The app goes on to sync normally: nothing should be pushed back or pulled twice.
const again = await new SyncEngine(dataDir, docStoreTarget(await core.documents())).syncOnce();
const resynced = performance.now();
const stats = core.stats();
let fromDocuments = 0;
for await (const _ of core.allCaptures()) fromDocuments++;
const probe = await core.search({ query: 'photosynthesis chlorophyll' });
await core.close();

process.stdout.write(
  `${JSON.stringify({
    redeemMs: redeemed - t0,
    finishJoinMs: joined - redeemed,
    openMs: opened - joined,
    catchUpIndexMs: indexed - opened,
    firstSyncOnceMs: resynced - indexed,
    totalMs: indexed - t0,
    pulledItems: received,
    pullBatches: pulls,
    secondSync: again,
    indexedCaptures: stats.captures,
    documentCaptures: fromDocuments,
    shards: stats.shards,
    docsMB: stats.disk.docs / 2 ** 20,
    indexMB: stats.disk.index / 2 ** 20,
    probeHits: probe.hits.length,
    probeMode: probe.mode,
    peakRssAfterJoinMB: rssAfterJoin,
    peakRssMB: peakRssMB(),
  })}\n`,
);
