import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Capture } from '@lva/shared';
import { crashText, crashToken } from '../../test/crash/importer.ts';
import { Core } from './Core.ts';
import { seededRandom } from '../../../shared/test/seededRandom.ts';

const IMPORTER = fileURLToPath(new URL('../../test/crash/importer.ts', import.meta.url));
/** How each round dies: after a random number of acknowledgements, or a random delay after the start (which can land while the core is still opening) or after the first acknowledgement. */
const KILLS = ['acks', 'delay-from-spawn', 'delay-from-first-ack', 'acks', 'delay-from-first-ack'] as const;
const ROUNDS = KILLS.length;
const COUNT = 200;


interface Ack {
  n: number;
  id: string;
  run: string;
}

interface RoundResult {
  acks: Ack[];
  done: boolean;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

type Kill = { afterAcks: number } | { afterMs: number; from: 'spawn' | 'first-ack' };

/** Runs the importer until it finishes or is SIGKILLed as `kill` says. */
function runImporter(dataDir: string, start: number, batch: number, run: string, kill: Kill): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [IMPORTER, dataDir, String(start), String(COUNT), String(batch), run], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let done = false;
    let pending = '';
    let stderr = '';
    const killNow = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    let timer: NodeJS.Timeout | undefined;
    if ('afterMs' in kill && kill.from === 'spawn') timer = setTimeout(killNow, kill.afterMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      // A line cut off by the kill has no newline yet, and is not an acknowledgement.
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const ack = /^ACK (\d+) ([0-9A-Z]{26})$/.exec(line);
        if (ack) acks.push({ n: Number(ack[1]), id: ack[2]!, run });
        else if (line === 'DONE') done = true;
        else reject(new Error(`unexpected importer output: ${JSON.stringify(line)}`));
      }
      if ('afterAcks' in kill && acks.length >= kill.afterAcks) killNow();
      if ('afterMs' in kill && kill.from === 'first-ack' && acks.length > 0) timer ??= setTimeout(killNow, kill.afterMs);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ acks, done, pid: child.pid!, code, signal, stderr });
    });
  });
}

describe('crash durability: SIGKILL at random moments never loses an acknowledged capture', () => {
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-crash-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`keeps and finds every acknowledged capture after ${ROUNDS} killed imports (CRASH_SEED=${seed})`, async () => {
    const random = seededRandom(seed);
    const acked: Ack[] = [];
    const sent = new Map<string, { n: number; run: string }>();
    let next = 0;
    let maxBatch = 0;
    const log: string[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      const run = String(round);
      const batch = 1 + Math.floor(random() * 40);
      maxBatch = Math.max(maxBatch, batch);
      const how = KILLS[round]!;
      const kill: Kill =
        how === 'acks'
          ? { afterAcks: 1 + Math.floor(random() * (COUNT - 1)) }
          : { afterMs: Math.floor(random() * (how === 'delay-from-spawn' ? 2500 : 1000)), from: how === 'delay-from-spawn' ? 'spawn' : 'first-ack' };
      for (let n = next; n < next + COUNT; n++) sent.set(crashToken(n, run), { n, run });

      const result = await runImporter(dir, next, batch, run, kill);
      log.push(`round ${round}: start ${next}, batch ${batch}, kill ${JSON.stringify(kill)} → ${result.acks.length} acks${result.done ? ' and DONE' : ''}, ${result.signal ?? `exit ${result.code}`}`);
      // Either it was killed, or it finished cleanly before the kill came: never any other failure.
      if (result.signal !== 'SIGKILL') expect({ code: result.code, done: result.done, stderr: result.stderr }, log.join('\n')).toEqual({ code: 0, done: true, stderr: '' });
      else if (result.acks.length > 0 && !result.done) {
        // It died holding the lock (it had opened, and not yet begun to close): the next open must take the stale lock over.
        expect(fs.readFileSync(path.join(dir, 'lock'), 'utf8').trim(), log.join('\n')).toBe(String(result.pid));
      }
      expect(result.acks.map((a) => a.n), log.join('\n')).toEqual(result.acks.map((_, i) => next + i));
      acked.push(...result.acks);
      if (result.acks.length > 0) next = result.acks.at(-1)!.n + 1;
    }
    const context = `CRASH_SEED=${seed}\n${log.join('\n')}`;
    console.log(context);
    expect(acked.length, context).toBeGreaterThan(0);

    const core = await Core.open({ dataDir: dir, background: false });
    try {
      await core.drain();

      // Every acknowledged capture is there, with its text intact.
      for (const { n, id, run } of acked) {
        const capture = await core.get(id);
        expect(capture?.text, `${context}\nack ${n} ${id}`).toBe(crashText(n, run));
        expect(capture?.local).toEqual({ indexed: true, embedded: true });
      }

      // Nothing appears that was never sent, nothing twice; only in-flight batches may be there unacknowledged.
      const stored: Capture[] = [];
      for await (const capture of core.allCaptures()) stored.push(capture);
      expect(new Set(stored.map((c) => c.id)).size).toBe(stored.length);
      const ackedIds = new Set(acked.map((a) => a.id));
      for (const capture of stored) {
        const token = /\((zq\d+r\d+x)\)\.$/.exec(capture.text)?.[1];
        const origin = token ? sent.get(token) : undefined;
        expect(origin, `${context}\nunexpected capture ${capture.id}: ${capture.text}`).toBeDefined();
        expect(capture.text).toBe(crashText(origin!.n, origin!.run));
      }
      const unacked = stored.filter((c) => !ackedIds.has(c.id)).length;
      expect(unacked, context).toBeLessThanOrEqual(ROUNDS * maxBatch);

      // The derived index caught up with the documents: every capture indexed and embedded, once.
      const stats = core.stats();
      expect(stats.captures).toBe(stored.length);
      expect(stats.embedder).toMatchObject({ embedded: stored.length, total: stored.length });

      // Every acknowledged capture is found first by its own word, and no hit list repeats a capture.
      for (const { n, id, run } of acked) {
        const { hits } = await core.search({ query: crashToken(n, run), limit: 5 }, { waitForModel: true });
        expect(hits[0]?.id, `${context}\nsearch ${crashToken(n, run)}`).toBe(id);
        expect(hits[0]!.matched).toContain('keyword');
        expect(hits.filter((h) => h.matched.includes('keyword')).map((h) => h.id)).toEqual([id]);
        expect(new Set(hits.map((h) => h.id)).size).toBe(hits.length);
      }
      const { hits } = await core.search({ query: 'flashcard import note', limit: 200 }, { waitForModel: true });
      expect(hits.length).toBeGreaterThan(0);
      expect(new Set(hits.map((h) => h.id)).size).toBe(hits.length);
    } finally {
      await core.close();
    }
    expect(fs.existsSync(path.join(dir, 'lock'))).toBe(false);
  });
});
