import fs from 'node:fs';
import path from 'node:path';
import { encodeFields, NONCE_LENGTH, PROTOCOL_VERSION, randomBytes, sealFrame, toBase64Url, type Capture } from '@lva/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// A test may start the real relay; the desktop code itself never imports it.
import { startRelay, type RelayFixture } from '../../../test/relayFixture.ts';
import { Core } from '../Core.ts';
import { RelayConnection } from './RelayConnection.ts';
import { docStoreTarget, SyncEngine, type SyncEvent } from './SyncEngine.ts';
import { finishJoin } from './Joining.ts';
import { createInvite, redeemInvite } from './Pairing.ts';
import { initSync, readSyncKeys } from './SyncKeys.ts';

const TEXTS = ['the heron waits in the reeds at dawn', 'quarterly budget draft for the garden club', 'recipe: lentil soup with smoked paprika'];
const B_TEXT = 'phone note about the violin lesson on friday';

async function syncOnce(core: Core, dataDir: string, events: SyncEvent[] = []): Promise<void> {
  const engine = new SyncEngine(dataDir, docStoreTarget(await core.documents()));
  engine.on((e) => events.push(e));
  await engine.syncOnce();
}

async function captures(core: Core): Promise<unknown[]> {
  const all = [];
  for await (const c of core.allCaptures()) all.push(c);
  return all;
}

async function found(core: Core, capture: Capture): Promise<boolean> {
  await core.drain();
  const result = await core.search({ query: capture.text.split(' ').slice(-3).join(' ') });
  return result.hits.some((hit) => hit.id === capture.id);
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('sync through the real relay', () => {
  let relay: RelayFixture;
  let root: string;
  let relayDir: string;
  let relayUrl: string;

  beforeAll(async () => {
    relay = await startRelay('lva-sync-');
    ({ root, url: relayUrl, relayDir } = relay);
  });

  afterAll(() => relay.close());

  it('converges two devices of one account, refuses a tampered chunk, and leaves only ciphertext on the relay', async () => {
    const dirA = path.join(root, 'a');
    const dirB = path.join(root, 'b');

    // Device A: a new account with three captures.
    const a = await Core.open({ dataDir: dirA, background: false, deviceName: 'laptop' });
    const keysA = await initSync(dirA, relayUrl);
    expect(fs.statSync(path.join(dirA, 'sync.json')).mode & 0o777).toBe(0o600);
    const fromA: Capture[] = [];
    for (const text of TEXTS) fromA.push(await a.capture({ text }));
    const statusA: SyncEvent[] = [];
    await syncOnce(a, dirA, statusA);
    expect(statusA.map((e) => (e.type === 'status' ? e.status.split(' ')[0] : e.type))).toEqual(expect.arrayContaining(['connected', 'syncing', 'offline']));

    // Device B pairs with a one-time invite from A, then pulls everything in its first sync.
    const invite = await createInvite(dirA);
    const keysB = await redeemInvite(dirB, invite.code, { relayUrl, deviceName: 'phone' });
    expect(keysB.accountId).toBe(keysA.accountId);
    await finishJoin(dirB);
    const b = await Core.open({ dataDir: dirB, background: false });
    const firstB: SyncEvent[] = [];
    await syncOnce(b, dirB, firstB);
    // The bootstrap pulled everything and marked it as on the relay: nothing is pushed back or pulled twice.
    expect(firstB).toEqual([
      { type: 'status', status: 'connected' },
      { type: 'status', status: 'connected' },
      { type: 'status', status: 'offline' },
    ]);
    for (const capture of fromA) expect(await found(b, capture)).toBe(true);

    // B captures; A receives it.
    const fromB = await b.capture({ text: B_TEXT });
    await syncOnce(b, dirB);
    await syncOnce(a, dirA);
    expect(await found(a, fromB)).toBe(true);
    expect(await captures(a)).toHaveLength(4);
    expect(await captures(b)).toEqual(await captures(a));

    // A chunk sealed with another key (what tampering or a foreign device looks like) is refused.
    const docsB = await b.documents();
    const accountDocId = docsB.account.documentId;
    const snapshot = async () => ({
      account: docsB.account.heads(),
      shards: await Promise.all(docsB.shardIds().map(async (id) => (await docsB.shard(id)).heads())),
    });
    const before = await snapshot();
    const raw = await RelayConnection.open(relayUrl, keysA);
    const framed = sealFrame(randomBytes(32), randomBytes(64), encodeFields('lva-chunk-v1', keysA.accountId, accountDocId));
    const ack = await raw.request({
      v: PROTOCOL_VERSION,
      type: 'push',
      docId: accountDocId,
      chunk: { nonce: toBase64Url(framed.subarray(1, 1 + NONCE_LENGTH)), ciphertext: toBase64Url(framed.subarray(1 + NONCE_LENGTH)) },
      clientChunkId: 'tampered1',
    });
    expect(ack.type).toBe('ack');
    raw.close();
    const eventsB: SyncEvent[] = [];
    await syncOnce(b, dirB, eventsB);
    expect(eventsB).toContainEqual(expect.objectContaining({ type: 'rejected', docId: accountDocId }));
    expect(await snapshot()).toEqual(before);
    expect(await captures(b)).toEqual(await captures(a));

    // Live: both stay connected; A's new capture is pushed on change (debounced) and fanned out to B.
    const liveA = new SyncEngine(dirA, docStoreTarget(await a.documents()));
    const liveB = new SyncEngine(dirB, docStoreTarget(docsB));
    await liveA.connect();
    await liveB.connect();
    const live = await a.capture({ text: 'live capture about tidal pools and anemones' });
    const deadline = Date.now() + 10_000;
    while (!(await b.get(live.id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await found(b, live)).toBe(true);
    liveA.close();
    liveB.close();

    await a.close();
    await b.close();
    expect(readSyncKeys(dirB)?.deviceId).toBe(keysB.deviceId);

    // The relay holds ciphertext only.
    for (const file of filesUnder(relayDir)) {
      const content = fs.readFileSync(file);
      for (const text of [...TEXTS, B_TEXT]) expect(content.includes(text), `${file} contains "${text}"`).toBe(false);
    }
  });

  it('syncs conversations: turns and feedback two devices add while offline all arrive on both', async () => {
    const dirA = path.join(root, 'conv-a');
    const dirB = path.join(root, 'conv-b');
    const a = await Core.open({ dataDir: dirA, background: false, deviceName: 'laptop' });
    await initSync(dirA, relayUrl);
    const onA = await a.conversations();
    const conversation = await onA.start('enzymes');
    const question = await onA.addTurn(conversation.id, { role: 'user', mode: 'ask', text: 'what do enzymes do?' });
    const reply = await onA.addTurn(conversation.id, { role: 'assistant', mode: 'ask', text: 'They lower activation energy.' });
    await syncOnce(a, dirA);

    const invite = await createInvite(dirA);
    await redeemInvite(dirB, invite.code, { relayUrl, deviceName: 'tablet' });
    await finishJoin(dirB);
    const b = await Core.open({ dataDir: dirB, background: false });
    await syncOnce(b, dirB);
    const onB = await b.conversations();
    expect(await onB.get(conversation.id)).toEqual(await onA.get(conversation.id));

    // Offline on both: A follows up, B rates the reply and adds a note of its own.
    const followUp = await onA.addTurn(conversation.id, { role: 'user', mode: 'ask', text: 'which enzyme digests starch?' });
    await onB.feedback(conversation.id, reply.id, { rating: 'up' });
    const fromB = await onB.addTurn(conversation.id, { role: 'user', mode: 'capture', text: 'amylase is in saliva' });
    await syncOnce(a, dirA);
    await syncOnce(b, dirB);
    await syncOnce(a, dirA);

    const merged = await onA.get(conversation.id);
    expect(merged).toEqual(await onB.get(conversation.id));
    expect(Object.keys(merged!.turns).sort()).toEqual([question.id, reply.id, followUp.id, fromB.id].sort());
    expect(merged!.turns[reply.id]!.feedback).toMatchObject({ rating: 'up' });
    expect((await onA.list()).map((c) => c.id)).toEqual([conversation.id]);
    await a.close();
    await b.close();
  });
});
