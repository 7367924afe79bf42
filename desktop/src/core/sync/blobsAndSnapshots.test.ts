import fs from 'node:fs';
import path from 'node:path';
import * as A from '@automerge/automerge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// A test may start the real relay; the desktop code itself never imports it.
import { startRelay, type RelayFixture } from '../../../test/relayFixture.ts';
import { Core } from '../Core.ts';
import { BlobSync } from './BlobSync.ts';
import { finishJoin } from './Joining.ts';
import { createInvite, redeemInvite } from './Pairing.ts';
import { docStoreTarget, splitChanges, SyncEngine, type SyncEvent } from './SyncEngine.ts';
import { initSync, readSyncKeys } from './SyncKeys.ts';

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

async function pair(from: string, to: string, relayUrl: string, name: string): Promise<void> {
  const invite = await createInvite(from);
  await redeemInvite(to, invite.code, { relayUrl, deviceName: name });
  await finishJoin(to);
}

async function ids(core: Core): Promise<string[]> {
  const all: string[] = [];
  for await (const c of core.allCaptures()) all.push(c.id);
  return all.sort();
}

describe('splitChanges', () => {
  it('keeps causal order, never exceeds the limit, and refuses a single change that is too large', () => {
    let doc = A.from<{ notes: string[] }>({ notes: [] });
    for (let i = 0; i < 20; i++) doc = A.change(doc, (d) => void d.notes.push(`note ${i} `.repeat(40)));
    const changes = A.getAllChanges(doc);
    const limit = Math.max(...changes.map((c) => c.length)) * 3;
    const pieces = splitChanges(changes, limit);
    expect(pieces.length).toBeGreaterThan(1);
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(limit);
    let rebuilt = A.init<{ notes: string[] }>();
    for (const piece of pieces) rebuilt = A.loadIncremental(rebuilt, piece);
    expect(rebuilt.notes).toEqual(doc.notes);
    expect(() => splitChanges(changes, 10)).toThrow(/more than/);
  });
});

describe('files and snapshots through the real relay', () => {
  let relay: RelayFixture;
  let root: string;
  let relayUrl: string;

  beforeAll(async () => {
    relay = await startRelay('lva-blobs-');
    ({ root, url: relayUrl } = relay);
  });

  afterAll(() => relay.close());

  it('uploads a file once, sealed under a keyed name, and another device fetches it on demand', async () => {
    const dirA = path.join(root, 'blob-a');
    const dirB = path.join(root, 'blob-b');
    const a = await Core.open({ dataDir: dirA, background: false, deviceName: 'laptop' });
    await initSync(dirA, relayUrl);
    // A PNG signature so the capture is accepted as an image, then a phrase to look for on the relay.
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('WHITEBOARD-SECRET-PIXELS '.repeat(200))]);
    const file = path.join(root, 'board.png');
    fs.writeFileSync(file, png);
    const capture = await a.captureFile(file);
    const sha = capture.blobs[0]!.sha256;
    const engineA = new SyncEngine(dirA, docStoreTarget(await a.documents(), a.blobs));
    const eventsA: SyncEvent[] = [];
    engineA.on((e) => eventsA.push(e));
    await engineA.syncOnce();
    expect(eventsA.filter((e) => e.type === 'error')).toEqual([]);
    const keysA = readSyncKeys(dirA)!;
    const relayId = new BlobSync(dirA, keysA, a.blobs).relayIdOf(sha);
    expect(relayId).not.toContain(sha);
    expect(await relay.storage.hasBlob(keysA.accountId, relayId)).toBe(true);
    // Uploaded once: a second sync has nothing to send.
    const before = (await relay.storage.stats()).bytesWritten;
    await new SyncEngine(dirA, docStoreTarget(await a.documents(), a.blobs)).syncOnce();
    expect((await relay.storage.stats()).bytesWritten).toBe(before);

    await pair(dirA, dirB, relayUrl, 'tablet');
    const b = await Core.open({ dataDir: dirB, background: false });
    const onB = await b.get(capture.id);
    expect(onB?.blobs[0]?.sha256).toBe(sha);
    expect(b.blobs.has(sha)).toBe(false);
    expect(Buffer.compare(await b.blob(sha), png)).toBe(0);
    expect(b.blobs.has(sha)).toBe(true);

    // Nothing of the file is readable on the relay.
    for (const f of filesUnder(relay.relayDir)) expect(fs.readFileSync(f).includes('WHITEBOARD-SECRET-PIXELS'), f).toBe(false);

    // A damaged copy on the relay is refused and nothing is stored.
    const dirC = path.join(root, 'blob-c');
    await pair(dirA, dirC, relayUrl, 'phone');
    const blobFile = filesUnder(relay.relayDir).find((f) => path.basename(f).includes(relayId));
    expect(blobFile).toBeDefined();
    const bytes = fs.readFileSync(blobFile!);
    bytes[bytes.length - 1]! ^= 0xff;
    fs.writeFileSync(blobFile!, bytes);
    const c = await Core.open({ dataDir: dirC, background: false });
    await expect(c.blob(sha)).rejects.toThrow(/damaged or tampered/);
    expect(c.blobs.has(sha)).toBe(false);
    await expect(c.blob('0'.repeat(64))).rejects.toThrow(/not yet on the relay/);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('sends a snapshot after many chunks, the relay compacts, and a new device starts from it', async () => {
    const dirA = path.join(root, 'snap-a');
    const dirB = path.join(root, 'snap-b');
    const a = await Core.open({ dataDir: dirA, background: false, deviceName: 'laptop' });
    const keysA = await initSync(dirA, relayUrl);
    const docs = await a.documents();
    for (let i = 0; i < 6; i++) {
      await a.capture({ text: `snapshot round ${i}: the otter keeps a favourite stone` });
      await new SyncEngine(dirA, docStoreTarget(docs), { snapshotEvery: 3 }).syncOnce();
    }
    const shardId = docs.shardIds()[0]!;
    const snapshot = await relay.storage.getSnapshot(keysA.accountId, shardId);
    expect(snapshot).toBeDefined();
    expect(snapshot!.fromDevice).toBe(keysA.deviceId);
    // Chunks up to the snapshot are gone from the log.
    const remaining = await relay.storage.readChunks(keysA.accountId, { afterSeq: 0, docId: shardId, limit: 100 });
    expect(remaining.every((chunk) => chunk.seq > snapshot!.coversSeq)).toBe(true);

    const invite = await createInvite(dirA);
    await redeemInvite(dirB, invite.code, { relayUrl, deviceName: 'tablet' });
    const progress: SyncEvent[] = [];
    await finishJoin(dirB, (e) => progress.push(e));
    // The first sync reports how far along it is, ending at the relay's head, and started from the snapshot.
    const last = progress.filter((e) => e.type === 'progress').at(-1);
    expect(last).toMatchObject({ type: 'progress' });
    expect(last?.type === 'progress' && last.head !== undefined && last.cursor === last.head).toBe(true);
    const b = await Core.open({ dataDir: dirB, background: false });
    expect(await ids(b)).toEqual(await ids(a));
    expect(await ids(b)).toHaveLength(6);
    await Promise.all([a.close(), b.close()]);
  });
});
