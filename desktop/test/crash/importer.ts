/**
 * A child process for the crash-durability test: `node importer.ts DATA_DIR START COUNT BATCH [RUN]`.
 *
 * Stores captures START .. START+COUNT-1 in batches of BATCH, and only after a batch's `captureMany`
 * has resolved (the promise that it is on disk) prints one `ACK <n> <id>` line per capture of it.
 * Between batches it sometimes runs one job, so the index is being written when the kill lands.
 * Each capture carries a made-up word, `zq<n>r<RUN>x`, that keyword search finds in it alone; RUN
 * tells apart a capture stored but not acknowledged before a kill from the copy sent again later.
 * Prints `DONE` after the last batch and closes the core; it never exits early by itself.
 */
import { pathToFileURL } from 'node:url';
import { Core } from '../../src/core/Core.ts';

export function crashToken(n: number, run: string): string {
  return `zq${n}r${run}x`;
}

export function crashText(n: number, run: string): string {
  return `Import ${run}, note ${n}: today I went over flashcard ${n % 7} again (${crashToken(n, run)}).`;
}

async function main(argv: readonly string[]): Promise<void> {
  const [dataDir, startArg, countArg, batchArg, run = '0'] = argv;
  const start = Number(startArg);
  const count = Number(countArg);
  const batch = Number(batchArg);
  if (!dataDir || !Number.isInteger(start) || !Number.isInteger(count) || !Number.isInteger(batch) || batch < 1 || !/^[a-z0-9]+$/.test(run)) {
    throw new Error('usage: node importer.ts DATA_DIR START COUNT BATCH [RUN]');
  }
  const core = await Core.open({ dataDir, background: false });
  let batches = 0;
  for (let first = start; first < start + count; first += batch) {
    const ns = Array.from({ length: Math.min(batch, start + count - first) }, (_, i) => first + i);
    const captures = await core.captureMany(ns.map((n) => ({ text: crashText(n, run), source: 'text' as const, tags: ['crash'] })));
    // One write per batch, and only now: everything acknowledged is already on disk.
    process.stdout.write(captures.map((c, i) => `ACK ${ns[i]} ${c.id}\n`).join(''));
    if (++batches % 3 === 0) await core.runner.runOne();
  }
  process.stdout.write('DONE\n');
  await core.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`importer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
