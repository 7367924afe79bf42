/**
 * Sync end to end with nothing in-process: the relay is `node relay/src/main.ts` and every device is
 * `lva` run as its own process with its own data dir, all on loopback. The relay is stopped,
 * SIGKILLed and restarted on the same port and data dir; devices are SIGKILLed mid-sync. What is
 * asserted is what a user relies on: every device ends with the same captures, each once, search
 * answers the same everywhere, pairing and recovery behave, and the relay never sees plaintext.
 *
 * Random choices (when to kill) come from E2E_SEED, printed with each such test, to replay a failure.
 */
import path from 'node:path';
import { accountKeyToPhrase, newAccountKey, phraseToAccountKey } from '@lva/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../shared/test/seededRandom.ts';
import {
  chunksAppended,
  describeRun,
  exportAll,
  filesContaining,
  httpRequests,
  killLeftovers,
  lva,
  lvaJson,
  relaySuite,
  sleep,
  startLva,
  startRelay,
  startWatch,
  waitUntil,
  writeJsonl,
  type Exported,
  type ImportLine,
  type Run,
  type WatchProcess,
} from './processes.ts';

interface InitOut {
  accountId: string;
  deviceId: string;
  relayUrl: string;
  recoveryPhrase: string;
}
interface InviteOut {
  code: string;
  link: string;
  expiresAt: number;
  relayUrl: string;
}
interface JoinOut {
  accountId: string;
  deviceId: string;
  relayUrl: string;
  captures: number;
}
interface SyncOut {
  pushed: number;
  pulled: number;
  rejected: number;
}
type ImportOut = { line: number; id: string; existing?: boolean }[];
interface SearchOut {
  hits: { id: string; title: string; matched: string[] }[];
  mode: string;
}
interface StatsOut {
  captures: number;
}
interface ReindexOut {
  captures: number;
  embedded: number;
}
interface DevicesOut {
  devices: { id: string; name: string; createdAt: number; revokedAt?: number; current: boolean }[];
}

const SEED = Number(process.env.E2E_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** A failed command as the README promises it: the given exit code and one line on stderr, no stack. */
function expectOneLineFailure(r: Run, args: readonly string[], status = 1): string {
  const what = describeRun(args, r);
  expect(r.status, what).toBe(status);
  expect(r.stderr, what).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
  return r.stderr;
}

async function fails(dataDir: string, args: readonly string[], status = 1): Promise<string> {
  return expectOneLineFailure(await lva(dataDir, args), args, status);
}

/** A new account on A, with its account document synced, and the other devices paired to it by invite codes. */
async function pairedDevices(root: string, relayUrl: string, names: readonly string[]): Promise<{ dirs: string[]; init: InitOut; joins: JoinOut[] }> {
  const dirs = names.map((n) => path.join(root, n));
  const init = await lvaJson<InitOut>(dirs[0]!, ['init', '--relay', relayUrl]);
  const codes: string[] = [];
  for (let i = 1; i < dirs.length; i++) codes.push((await lvaJson<InviteOut>(dirs[0]!, ['pair', 'invite'])).code);
  const joins = await Promise.all(dirs.slice(1).map((dir, i) => lvaJson<JoinOut>(dir, ['pair', 'join', codes[i]!, '--relay', relayUrl, '--name', names[i + 1]!])));
  for (const join of joins) expect(join.accountId).toBe(init.accountId);
  return { dirs, init, joins };
}

function ids(captures: readonly Exported[]): string[] {
  return captures.map((c) => c.id);
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

/** `count` captures spread over `months` months from January of `firstYear`, so they fill many (new) shard documents. */
function spreadLines(prefix: string, start: number, count: number, months: number, firstYear = 2023): ImportLine[] {
  return Array.from({ length: count }, (_, i) => {
    const n = start + i;
    const at = new Date(Date.UTC(firstYear, n % months, 1 + (n % 27), 8, n % 60, 0));
    return { text: `${prefix} note ${n}: the tide table for pier ${n % 13} (token ${prefix}${n}x)`, createdAt: at.toISOString(), tags: ['e2e'] };
  });
}

afterAll(() => killLeftovers());

describe('three devices converge through a relay that goes down and comes back', () => {
  const suite = relaySuite('lva-e2e-converge-');

  it('captures made offline on A, B and C reach every device once; export and search agree everywhere; the relay holds no plaintext', { timeout: 300_000 }, async () => {
    const url = suite.relay.url;
    const {
      dirs: [A, B, C],
    } = await pairedDevices(suite.root, url, ['laptop', 'tablet', 'phone']);
    const devices = [A!, B!, C!];

    // Offline for real: the relay process is gone while the devices capture.
    await suite.relay.stop();
    expect(await fails(A!, ['sync', '--once'])).toContain(`127.0.0.1:${suite.port}`);

    // Each device writes into the same month (March 2025, and today): the shards they share are edited concurrently.
    const batches: ImportLine[][] = [
      [
        { text: 'Octopuses have three hearts and blue, copper-based blood', tags: ['biology'] },
        { text: 'Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen' },
        { text: 'The Treaty of Westphalia in 1648 ended the Thirty Years War' },
        { text: 'Binary search halves the interval on every comparison' },
      ],
      [
        { text: 'Bread rises because yeast ferments sugar and releases carbon dioxide', tags: ['baking'] },
        { text: 'Mitochondria turn glucose into ATP, the energy currency of the cell', tags: ['biology'] },
        { text: 'An octopus keeps two thirds of its neurons in its arms' },
        { text: 'Hash maps give constant-time lookup on average' },
      ],
      [
        { text: 'Solar panels turn sunlight into electric energy with photovoltaic cells' },
        { text: 'Sourdough starter is a culture of wild yeast and lactobacilli', tags: ['baking'] },
        { text: 'The Peace of Augsburg in 1555 let princes choose the religion of their realm' },
        { text: 'Quicksort partitions around a pivot and averages n log n comparisons' },
      ],
    ];
    const notes = ['laptop note: a kiwi egg weighs a fifth of the bird', 'tablet note: honeybees dance to point the hive at flowers', 'phone note: the Moon drifts 3.8 cm further from Earth every year'];
    const expected = new Map<string, string>();
    await Promise.all(
      devices.map(async (dir, d) => {
        const lines = batches[d]!.map((l, i) => ({ ...l, createdAt: new Date(Date.UTC(2025, 2, 3 + 2 * d, 9 + i)).toISOString() }));
        const imported = await lvaJson<ImportOut>(dir, ['import', writeJsonl(path.join(suite.root, `offline-${d}.jsonl`), lines), '--no-wait']);
        expect(imported.map((o) => o.line)).toEqual([1, 2, 3, 4]);
        imported.forEach((o, i) => expected.set(o.id, lines[i]!.text));
        const { id } = await lvaJson<{ id: string }>(dir, ['capture', notes[d]!, '--no-wait']);
        expected.set(id, notes[d]!);
      }),
    );
    expect(expected.size).toBe(15);

    suite.relay = await startRelay(suite.port, suite.relayDir);
    // Round one, all at once: everyone pushes what they captured offline and pulls what is there.
    const round1 = await Promise.all(devices.map((dir) => lvaJson<SyncOut>(dir, ['sync', '--once'])));
    for (const r of round1) {
      expect(r.pushed).toBeGreaterThan(0);
      expect(r.rejected).toBe(0);
    }
    // Round two: everything pushed in round one comes down.
    const round2 = await Promise.all(devices.map((dir) => lvaJson<SyncOut>(dir, ['sync', '--once'])));
    for (const r of round2) expect(r.rejected).toBe(0);

    // The same captures everywhere, each exactly once, with the text it was captured with.
    const exports = await Promise.all(devices.map((dir) => exportAll(dir)));
    for (const [d, exported] of exports.entries()) {
      const has = new Set(ids(exported));
      const missing = [...expected].filter(([id]) => !has.has(id)).map(([, text]) => text);
      expect(missing, `device ${path.basename(devices[d]!)} lacks captures`).toEqual([]);
      expect(has.size, `device ${path.basename(devices[d]!)} lists a capture twice`).toBe(exported.length);
      expect(Object.fromEntries(exported.map((c) => [c.id, c.text])), path.basename(devices[d]!)).toEqual(Object.fromEntries(expected));
    }
    expect(exports[1]).toEqual(exports[0]);
    expect(exports[2]).toEqual(exports[0]);

    // Synced captures are searchable by keyword right after the sync, before anything is re-embedded.
    const octopus = await lvaJson<SearchOut>(C!, ['search', 'octopus']);
    const octopusIds = [...expected].filter(([, text]) => /\boctopus\b/i.test(text)).map(([id]) => id);
    expect(sorted(octopus.hits.filter((h) => h.matched.includes('keyword')).map((h) => h.id))).toEqual(sorted(octopusIds));

    // Once every device has embedded everything, search gives the same hits in the same order on each.
    const reindexed = await Promise.all(devices.map((dir) => lvaJson<ReindexOut>(dir, ['reindex'])));
    for (const r of reindexed) expect(r).toMatchObject({ captures: 15, embedded: 15 });
    for (const query of ['octopus', 'energy from sunlight']) {
      const results = await Promise.all(devices.map((dir) => lvaJson<SearchOut>(dir, ['search', query, '--limit', '20'])));
      expect(results[0]!.hits.length, query).toBeGreaterThan(0);
      for (const r of results) {
        expect(r.mode, query).toBe('hybrid');
        expect(r.hits.map((h) => h.id), query).toEqual(results[0]!.hits.map((h) => h.id));
      }
    }

    // The relay stores ciphertext only: no captured phrase is in any of its files.
    expect(filesContaining(suite.relayDir, [...expected.values()])).toEqual([]);
  });
});

describe('interrupted syncs: the relay or a device is SIGKILLed mid-sync', () => {
  const suite = relaySuite('lva-e2e-kill-');

  it('the relay dies while A pushes and B watches; after a restart on the same port A syncs and B catches up by itself', { timeout: 300_000 }, async () => {
    const url = suite.relay.url;
    const {
      dirs: [A, B],
    } = await pairedDevices(path.join(suite.root, 'restart'), url, ['laptop', 'tablet']);

    let watch: WatchProcess = startWatch(B!);
    await watch.waitFor(/connected \(/);

    const lines = spreadLines('rr', 0, 300, 30);
    const imported = await lvaJson<ImportOut>(A!, ['import', writeJsonl(path.join(suite.root, 'restart.jsonl'), lines), '--no-wait']);
    expect(imported).toHaveLength(300);

    // A starts pushing; the relay is SIGKILLed as soon as it has stored anything of it.
    const before = await chunksAppended(url);
    const sync = startLva(A!, ['sync', '--once', '--json']);
    let exited = false;
    void sync.done.then(() => (exited = true));
    await waitUntil(async () => exited || (await chunksAppended(url)) > before, 120_000, 'the relay to store a chunk from A', 20);
    const killedAt = watch.stderr().length;
    await suite.relay.kill();
    const interrupted = await sync.done;
    const context = `A's interrupted sync: ${describeRun(['sync', '--once', '--json'], interrupted)}`;
    console.log(context);
    // It may have finished just before the kill; if not, it fails cleanly instead of hanging or crashing.
    if (interrupted.status !== 0) expectOneLineFailure(interrupted, ['sync', '--once', '--json']);

    // B notices and keeps retrying on its own.
    const retrying = await watch.waitFor(/retrying in/, killedAt);

    suite.relay = await startRelay(suite.port, suite.relayDir);
    const again = await lvaJson<SyncOut>(A!, ['sync', '--once']);
    expect(again.rejected).toBe(0);
    const reconnected = await watch.waitFor(/connected \(/, retrying, 120_000);
    // Pacing only: give B's catch-up a chance to finish before the first look (a pull prints "syncing", then "connected").
    await watch.waitFor(/syncing \d+ \([^)]*\)\nlva: connected \(/, reconnected, 15_000).catch(() => undefined);

    const fromA = await exportAll(A!);
    expect(sorted(ids(fromA))).toEqual(sorted(imported.map((o) => o.id)));
    // B's data dir is locked while it watches: stop it (like Ctrl-C) to look; if it is not all there yet, watch again.
    let onB: Exported[];
    let looks = 0;
    let watchLog = '';
    const deadline = Date.now() + 90_000;
    for (;;) {
      expect(await watch.stop(), watch.stderr()).toBe(0);
      watchLog += watch.stderr();
      onB = await exportAll(B!);
      looks++;
      if (onB.length >= fromA.length || Date.now() > deadline) break;
      watch = startWatch(B!);
      await watch.waitFor(/connected \(/);
      await sleep(2000);
    }
    const seen = `B looked ${looks} time(s); its watch log:\n${watchLog}`;
    console.log(seen);
    expect(sorted(ids(onB)), seen).toEqual(sorted(ids(fromA)));
    expect(onB, seen).toEqual(fromA);
    expect(filesContaining(suite.relayDir, lines.map((l) => l.text))).toEqual([]);
  });

  it(`A is SIGKILLed mid-push several times; the next sync completes and B gets every capture once (E2E_SEED=${SEED})`, { timeout: 300_000 }, async () => {
    const url = suite.relay.url;
    const random = seededRandom(SEED);
    const {
      dirs: [A, B],
    } = await pairedDevices(path.join(suite.root, 'device-kill'), url, ['laptop', 'tablet']);

    const all: string[] = [];
    const log: string[] = [];
    let killed = 0;
    let failedBetween = 0;
    for (let round = 0; round < 3; round++) {
      // New months each round, so the account document changes too (it lists the new shards).
      const lines = spreadLines(`dk${round}r`, round * 100, 100, 16, 2010 + 2 * round);
      const imported = await lvaJson<ImportOut>(A!, ['import', writeJsonl(path.join(suite.root, `kill-${round}.jsonl`), lines), '--no-wait']);
      expect(imported).toHaveLength(100);
      all.push(...imported.map((o) => o.id));

      const before = await chunksAppended(url);
      const target = before + 1 + Math.floor(random() * 6);
      const sync = startLva(A!, ['sync', '--once', '--json']);
      let exited = false;
      void sync.done.then(() => (exited = true));
      await waitUntil(async () => exited || (await chunksAppended(url)) >= target, 120_000, `the relay to hold ${target} chunks`, 10);
      if (!exited) sync.child.kill('SIGKILL');
      const r = await sync.done;
      if (r.signal === 'SIGKILL') killed++;
      // Not killed means it finished before the kill: then it must have succeeded.
      else expect(r.status, describeRun(['sync', '--once', '--json'], r)).toBe(0);
      log.push(`round ${round}: kill at ${target - before} chunk(s) → ${r.signal ?? `exit ${r.status}`}, relay holds ${(await chunksAppended(url)) - before} new chunk(s)`);
      // Meanwhile B syncs and gets whatever part of A's push reached the relay.
      const partial = await lva(B!, ['sync', '--once', '--json']);
      log.push(`  B syncs in between → exit ${partial.status}${partial.status === 0 ? '' : `: ${partial.stderr.trim()}`}`);
      if (partial.status !== 0) failedBetween++;
    }
    const context = `E2E_SEED=${SEED}\n${log.join('\n')}`;
    console.log(context);
    expect(killed, context).toBeGreaterThan(0);

    // The next sync resumes (taking over the dead process's lock) and pushes everything.
    const resumed = await lvaJson<SyncOut>(A!, ['sync', '--once']);
    expect(resumed.rejected, context).toBe(0);
    expect((await lvaJson<StatsOut>(A!, ['stats'])).captures, context).toBe(300);
    const fromA = await exportAll(A!);
    expect(sorted(ids(fromA)), context).toEqual(sorted(all));

    // B syncs after A has pushed everything. It must have been able to sync all along, too.
    const finalB = await lva(B!, ['sync', '--once', '--json']);
    const full = `${context}\nB's final sync: ${describeRun(['sync', '--once', '--json'], finalB)}`;
    expect(failedBetween, full).toBe(0);
    expect(finalB.status, full).toBe(0);
    expect((JSON.parse(finalB.stdout) as SyncOut).rejected, full).toBe(0);
    const exportedB = await exportAll(B!);
    expect(new Set(ids(exportedB)).size, context).toBe(exportedB.length);
    expect(exportedB, context).toEqual(fromA);
  });
});

describe('pairing, devices and recovery through the CLI', () => {
  const suite = relaySuite('lva-e2e-pair-');

  it('a code works once, a mistyped code is caught before the relay, devices are listed and a revoked one can no longer sync', { timeout: 240_000 }, async () => {
    const url = suite.relay.url;
    const [A, B, C] = ['laptop', 'tablet', 'phone'].map((n) => path.join(suite.root, 'pair', n)) as [string, string, string];
    const init = await lvaJson<InitOut>(A, ['init', '--relay', url]);
    await lvaJson<SyncOut>(A, ['sync', '--once']);

    const first = await lvaJson<InviteOut>(A, ['pair', 'invite']);
    expect(first.relayUrl).toBe(url);
    const b = await lvaJson<JoinOut>(B, ['pair', 'join', first.code, '--relay', url, '--name', 'tablet']);
    expect(b.accountId).toBe(init.accountId);

    // The same code again: refused by the relay, and the new device is told to make a new one.
    expect(await fails(C, ['pair', 'join', first.code, '--relay', url, '--name', 'phone'])).toMatch(/unknown, already used or expired/);

    // One character wrong: reported as a typo without asking the relay, and the code still works afterwards.
    const second = await lvaJson<InviteOut>(A, ['pair', 'invite', '--ttl', '600']);
    const chars = [...second.code];
    const at = chars.findIndex((ch) => ch !== '-');
    chars[at] = chars[at] === 'A' ? 'B' : 'A';
    const redeemsBefore = await httpRequests(url, 'redeem');
    expect(redeemsBefore).toBeGreaterThan(0);
    expect(await fails(C, ['pair', 'join', chars.join(''), '--relay', url, '--name', 'phone'])).toMatch(/typo/);
    expect(await httpRequests(url, 'redeem')).toBe(redeemsBefore);
    const c = await lvaJson<JoinOut>(C, ['pair', 'join', second.code, '--relay', url, '--name', 'phone']);
    expect(c.accountId).toBe(init.accountId);

    // Every device sees the same list, with itself marked.
    const listed = await lvaJson<DevicesOut>(A, ['devices']);
    expect(sorted(listed.devices.map((d) => d.id))).toEqual(sorted([init.deviceId, b.deviceId, c.deviceId]));
    expect(listed.devices.filter((d) => d.current).map((d) => d.id)).toEqual([init.deviceId]);
    expect(listed.devices.find((d) => d.id === b.deviceId)).toMatchObject({ name: 'tablet' });
    expect(listed.devices.find((d) => d.id === c.deviceId)).toMatchObject({ name: 'phone' });
    const fromB = await lvaJson<DevicesOut>(B, ['devices']);
    expect(fromB.devices.filter((d) => d.current).map((d) => d.id)).toEqual([b.deviceId]);

    // A revokes B: B is refused, A and C carry on.
    const revoked = await lvaJson<{ id: string; revokedAt?: number }>(A, ['devices', 'revoke', b.deviceId]);
    expect(revoked.id).toBe(b.deviceId);
    expect(revoked.revokedAt).toEqual(expect.any(Number));
    expect(await fails(B, ['sync', '--once'])).toMatch(/does not accept this device: it was revoked/);
    await lvaJson<SyncOut>(A, ['sync', '--once']);
    await lvaJson<SyncOut>(C, ['sync', '--once']);
    const after = await lvaJson<DevicesOut>(A, ['devices']);
    expect(after.devices.find((d) => d.id === b.deviceId)?.revokedAt).toEqual(expect.any(Number));
    expect(after.devices.find((d) => d.id === c.deviceId)?.revokedAt).toBeUndefined();
  });

  it('right after init, an invite and a join work without a separate sync: the invite pushes first', { timeout: 240_000 }, async () => {
    const url = suite.relay.url;
    const [A, B] = ['laptop', 'tablet'].map((n) => path.join(suite.root, 'early', n)) as [string, string];
    const init = await lvaJson<InitOut>(A, ['init', '--relay', url]);
    const { id } = await lvaJson<{ id: string }>(A, ['capture', 'Early note: a group of crows is called a murder', '--no-wait']);
    const invite = await lvaJson<InviteOut>(A, ['pair', 'invite']);
    await lvaJson(B, ['pair', 'join', invite.code, '--relay', url, '--name', 'tablet']);
    expect(ids(await exportAll(B))).toEqual([id]);
    const listed = await lvaJson<DevicesOut>(B, ['devices']);
    expect(listed.devices.find((d) => d.current)?.id).not.toBe(init.deviceId);
    expect(listed.devices).toHaveLength(2);
  });

  it('the recovery phrase from init restores the account into a new data dir; a wrong phrase is refused clearly', { timeout: 240_000 }, async () => {
    const url = suite.relay.url;
    const A = path.join(suite.root, 'recover', 'laptop');
    const init = await lvaJson<InitOut>(A, ['init', '--relay', url]);
    const words = init.recoveryPhrase.trim().split(/\s+/);
    expect(words).toHaveLength(24);
    const text = 'Recovered note: the axolotl regrows its limbs (token rcv7x)';
    const { id } = await lvaJson<{ id: string }>(A, ['capture', text, '--no-wait']);
    await lvaJson<{ id: string }>(A, ['capture', 'Recovered note: tardigrades survive the vacuum of space', '--no-wait']);
    await lvaJson<SyncOut>(A, ['sync', '--once']);

    const restored = path.join(suite.root, 'recover', 'new-laptop');
    const recovered = await lvaJson<JoinOut>(restored, ['recover', '--relay', url, '--name', 'new laptop'], { input: `${init.recoveryPhrase}\n` });
    expect(recovered.accountId).toBe(init.accountId);
    expect(recovered.captures).toBe(2);
    const found = await lvaJson<SearchOut>(restored, ['search', 'axolotl']);
    expect(found.hits[0]?.id).toBe(id);
    expect((await lvaJson<{ phrase: string }>(restored, ['recovery-phrase'])).phrase).toBe(init.recoveryPhrase);
    // The restored device is a full member: what it captures reaches A.
    const { id: later } = await lvaJson<{ id: string }>(restored, ['capture', 'After recovery: the narwhal tusk is a tooth', '--no-wait']);
    await lvaJson<SyncOut>(restored, ['sync', '--once']);
    await lvaJson<SyncOut>(A, ['sync', '--once']);
    expect(ids(await exportAll(A))).toContain(later);

    // One word swapped for another valid word: the checksum catches it.
    let wrong: string | undefined;
    for (let j = 1; j < words.length && !wrong; j++) {
      if (words[j] === words[0]) continue;
      const candidate = [words[j]!, ...words.slice(1)].join(' ');
      try {
        phraseToAccountKey(candidate);
      } catch {
        wrong = candidate;
      }
    }
    expect(wrong).toBeDefined();
    const wrongArgs = ['recover', '--relay', url];
    const bad = await lva(path.join(suite.root, 'recover', 'typo'), wrongArgs, { input: `${wrong}\n` });
    expect(expectOneLineFailure(bad, wrongArgs)).toMatch(/does not check out/);

    // A well-formed phrase of an account this relay does not have.
    const stranger = await lva(path.join(suite.root, 'recover', 'stranger'), wrongArgs, { input: `${accountKeyToPhrase(newAccountKey())}\n` });
    expect(expectOneLineFailure(stranger, wrongArgs)).toMatch(/no account for this recovery phrase/);
  });
});
