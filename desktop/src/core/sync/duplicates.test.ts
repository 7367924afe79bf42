import path from 'node:path';
import fs from 'node:fs';
import * as A from '@automerge/automerge';
import { deriveSubkeys, encodeFields, NONCE_LENGTH, PROTOCOL_VERSION, sealFrame, toBase64Url } from '@lva/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// A test may start the real relay; the desktop code itself never imports it.
import { startRelay, type RelayFixture } from '../../../test/relayFixture.ts';
import { Core } from '../Core.ts';
import { finishJoin } from './Joining.ts';
import { createInvite, redeemInvite } from './Pairing.ts';
import { RelayConnection } from './RelayConnection.ts';
import { docStoreTarget, SyncEngine } from './SyncEngine.ts';
import { initSync } from './SyncKeys.ts';

async function all(core: Core): Promise<{ id: string; text: string }[]> {
  const out: { id: string; text: string }[] = [];
  for await (const c of core.allCaptures()) out.push({ id: c.id, text: c.text });
  return out.sort((x, y) => x.id.localeCompare(y.id));
}

describe('duplicated and reordered chunks', () => {
  let relay: RelayFixture;

  beforeAll(async () => {
    relay = await startRelay('lva-dup-');
  });

  afterAll(() => relay.close());

  it('converge to the same captures, each once, however often and in whatever order they arrive', async () => {
    const dirA = path.join(relay.root, 'a');
    const dirB = path.join(relay.root, 'b');
    const a = await Core.open({ dataDir: dirA, background: false, deviceName: 'laptop' });
    const keysA = await initSync(dirA, relay.url);
    await a.capture({ text: 'first: the kestrel hovers over the verge' });
    const docsA = await a.documents();
    await new SyncEngine(dirA, docStoreTarget(docsA)).syncOnce();
    const invite = await createInvite(dirA);
    await redeemInvite(dirB, invite.code, { relayUrl: relay.url, deviceName: 'tablet' });
    await finishJoin(dirB);
    const b = await Core.open({ dataDir: dirB, background: false });

    // Three more captures on A, each its own change; A's engine does not push them.
    const shardId = docsA.shardIds()[0]!;
    const before = A.getHeads((await docsA.shard(shardId)).doc());
    const texts = ['second: starlings murmurate at dusk', 'third: the heron stands in the shallows', 'fourth: swifts sleep on the wing'];
    for (const text of texts) await a.capture({ text });
    const shard = (await docsA.shard(shardId)).doc();
    const changes = A.getChangesSince(shard, before);
    expect(changes).toHaveLength(3);

    // Pushed by hand as A: last change first, then every change twice more, under fresh chunk ids,
    // so the relay stores each as a new chunk.
    const chunkKey = deriveSubkeys(keysA.accountKey).chunkKey;
    const conn = await RelayConnection.open(relay.url, keysA);
    let n = 0;
    for (const change of [...changes].reverse().concat(changes, changes)) {
      const framed = sealFrame(chunkKey, change, encodeFields('lva-chunk-v1', keysA.accountId, shardId));
      const reply = await conn.request({
        v: PROTOCOL_VERSION,
        type: 'push',
        docId: shardId,
        chunk: { nonce: toBase64Url(framed.subarray(1, 1 + NONCE_LENGTH)), ciphertext: toBase64Url(framed.subarray(1 + NONCE_LENGTH)) },
        clientChunkId: `dup${n++}`,
      });
      expect(reply.type).toBe('ack');
    }
    conn.close();

    await new SyncEngine(dirB, docStoreTarget(await b.documents())).syncOnce();
    await b.catchUpIndex();
    const expected = await all(a);
    expect(await all(b)).toEqual(expected);
    expect(expected).toHaveLength(4);
    const heron = expected.find((c) => c.text.includes('heron'))!;
    const hits = (await b.search({ query: 'heron shallows' })).hits;
    expect(hits[0]?.id).toBe(heron.id);
    expect(hits.filter((h) => h.id === heron.id)).toHaveLength(1);

    // Pulling the whole log again from the start changes nothing.
    await b.close();
    const stateFile = path.join(dirB, 'sync-state.json');
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { cursor: number };
    fs.writeFileSync(stateFile, JSON.stringify({ ...state, cursor: 0 }));
    const again = await Core.open({ dataDir: dirB, background: false });
    await new SyncEngine(dirB, docStoreTarget(await again.documents())).syncOnce();
    await again.catchUpIndex();
    expect(await all(again)).toEqual(expected);
    expect(again.stats().captures).toBe(4);
    await Promise.all([a.close(), again.close()]);
  });
});
