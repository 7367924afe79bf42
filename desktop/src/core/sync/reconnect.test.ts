import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// A test may start the real relay; the desktop code itself never imports it.
import { startRelay, type RelayFixture } from '../../../test/relayFixture.ts';
import { Core } from '../Core.ts';
import { backoffDelay, docStoreTarget, SyncEngine, type SyncEvent } from './SyncEngine.ts';
import { finishJoin } from './Joining.ts';
import { createInvite, redeemInvite } from './Pairing.ts';
import { initSync } from './SyncKeys.ts';

const FAST = { initialDelayMs: 20, maxDelayMs: 200 };

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('backoffDelay', () => {
  it('doubles per attempt, stays within [half, full] and is capped', () => {
    const opts = { initialDelayMs: 500, maxDelayMs: 30_000 };
    expect(backoffDelay(0, { ...opts, random: () => 0 })).toBe(250);
    expect(backoffDelay(0, { ...opts, random: () => 0.999999 })).toBe(500);
    expect(backoffDelay(3, { ...opts, random: () => 1 - Number.EPSILON })).toBe(4000);
    expect(backoffDelay(50, { ...opts, random: () => 0.5 })).toBe(22_500);
    for (let i = 0; i < 100; i++) expect(backoffDelay(i, { ...opts, random: Math.random })).toBeLessThanOrEqual(30_000);
  });
});

describe('watch mode through a relay that goes away and comes back', () => {
  let relay: RelayFixture;
  let root: string;
  let relayUrl: string;

  beforeAll(async () => {
    relay = await startRelay('lva-reconnect-');
    ({ root, url: relayUrl } = relay);
  });

  afterAll(() => relay.close());

  it('reconnects with backoff, pushes what was captured offline, and the other device receives it', async () => {
    const dirA = path.join(root, 'a');
    const dirB = path.join(root, 'b');
    const a = await Core.open({ dataDir: dirA, background: false, deviceName: 'laptop' });
    const keysA = await initSync(dirA, relayUrl);
    await a.capture({ text: 'before the outage: notes on glacier retreat' });
    const eventsA: SyncEvent[] = [];
    const engineA = new SyncEngine(dirA, docStoreTarget(await a.documents()));
    engineA.on((e) => eventsA.push(e));
    await engineA.watch(FAST);
    expect(engineA.connected).toBe(true);

    const invite = await createInvite(dirA);
    const keysB = await redeemInvite(dirB, invite.code, { relayUrl, deviceName: 'phone' });
    expect(keysB.accountId).toBe(keysA.accountId);
    await finishJoin(dirB);
    const b = await Core.open({ dataDir: dirB, background: false });
    const eventsB: SyncEvent[] = [];
    const engineB = new SyncEngine(dirB, docStoreTarget(await b.documents()));
    engineB.on((e) => eventsB.push(e));
    await engineB.watch(FAST);

    // The relay goes away: both go offline and keep retrying.
    const port = Number(new URL(relayUrl).port);
    await relay.stopServer();
    await until('both offline', () => !engineA.connected && !engineB.connected);
    expect(eventsA).toContainEqual({ type: 'status', status: 'offline' });
    await until('a few failed retries', () => eventsA.filter((e) => e.type === 'retry').length >= 2);
    const retries = eventsA.filter((e) => e.type === 'retry');
    for (const r of retries) expect(r.delayMs).toBeLessThanOrEqual(FAST.maxDelayMs);

    // Captured while offline.
    const offline = await a.capture({ text: 'during the outage: sketch of the heron nest' });

    // Same data dir, same port: both reconnect, A pushes, B receives.
    expect(await relay.startServer(port)).toBe(relayUrl);
    await until('A reconnected', () => engineA.connected);
    await until('B received the offline capture', async () => (await b.get(offline.id)) !== undefined);
    expect((await b.get(offline.id))?.text).toBe(offline.text);
    expect(eventsA.filter((e) => e.type === 'error')).toEqual([]);

    engineA.close();
    engineB.close();
    // Closed means closed: no reconnect after close.
    await new Promise((r) => setTimeout(r, 3 * FAST.maxDelayMs));
    expect(engineA.connected || engineB.connected).toBe(false);

    // Nothing lost: a fresh round on B finds the same captures as A.
    const all = async (core: Core) => {
      const ids: string[] = [];
      for await (const c of core.allCaptures()) ids.push(c.id);
      return ids.sort();
    };
    await new SyncEngine(dirB, docStoreTarget(await b.documents())).syncOnce();
    expect(await all(b)).toEqual(await all(a));
    expect(await all(a)).toHaveLength(2);
    await a.close();
    await b.close();
  });
});
