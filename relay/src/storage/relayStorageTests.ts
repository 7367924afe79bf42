import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QuotaExceededError } from './errors.ts';
import type { NewChunk, RelayStorage } from './RelayStorage.ts';

export interface RelayStorageFixture {
  readonly storage: RelayStorage;
  /** Closes the current instance and opens a new one over the same data. */
  reopen(): Promise<RelayStorage>;
  /** Closes whichever instance is current and removes its data. */
  teardown(): Promise<void>;
}

const A = 'acct-A';
const B = 'acct-B';
const QUOTA = 10_000;
const T0 = 1_700_000_000_000;
const PROOF = new Uint8Array(32).fill(1);
const OTHER_PROOF = new Uint8Array(32).fill(2);

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function chunk(clientChunkId: string, ciphertext = `ct:${clientChunkId}`): NewChunk {
  return { clientChunkId, fromDevice: 'dev-1', nonce: bytes('n'.repeat(24)), ciphertext: bytes(ciphertext) };
}

function sizeOf(c: NewChunk): number {
  return c.nonce.byteLength + c.ciphertext.byteLength;
}

function publicKey(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

/**
 * The acceptance suite every RelayStorage implementation runs (STYLE.md, item 5). `setup` gives a
 * fresh, empty storage each time; the reopen test uses the fixture's `reopen` to check durability.
 */
export function runRelayStorageTests(name: string, setup: () => Promise<RelayStorageFixture>): void {
  describe(`RelayStorage acceptance: ${name}`, () => {
    let fixture: RelayStorageFixture;
    let storage: RelayStorage;

    beforeEach(async () => {
      fixture = await setup();
      storage = fixture.storage;
      await storage.createAccount({ id: A, createdAt: T0, quotaBytes: QUOTA });
      await storage.createAccount({ id: B, createdAt: T0 + 1, quotaBytes: QUOTA });
    });

    afterEach(async () => {
      await fixture.teardown();
    });

    describe('accounts', () => {
      it('creates an account with nothing used and refuses a second one with the same id', async () => {
        expect(await storage.getAccount(A)).toEqual({ id: A, createdAt: T0, quotaBytes: QUOTA, usedBytes: 0, lastSeq: 0 });
        await expect(storage.createAccount({ id: A, createdAt: T0, quotaBytes: 1 })).rejects.toMatchObject({
          code: 'account-exists',
        });
        expect(await storage.getAccount('nobody')).toBeUndefined();
      });

      it('keeps the recovery and inbox public keys given at creation, and has none when none were given', async () => {
        const keys = { recoveryPublicKey: publicKey(9), inboxPublicKey: publicKey(8) };
        const created = await storage.createAccount({ id: 'recoverable', createdAt: T0, quotaBytes: QUOTA, ...keys });
        const expected = { id: 'recoverable', createdAt: T0, quotaBytes: QUOTA, usedBytes: 0, lastSeq: 0, ...keys };
        expect(created).toEqual(expected);
        expect(await storage.getAccount('recoverable')).toEqual(expected);
        expect(await storage.getAccount(A)).not.toHaveProperty('recoveryPublicKey');
        expect(await storage.getAccount(A)).not.toHaveProperty('inboxPublicKey');
      });

      it('refuses a recovery or inbox public key that is not 32 bytes, creating nothing', async () => {
        for (const key of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
          await expect(
            storage.createAccount({ id: 'badkey', createdAt: T0, quotaBytes: QUOTA, recoveryPublicKey: key }),
          ).rejects.toMatchObject({ code: 'invalid-argument' });
          await expect(
            storage.createAccount({ id: 'badkey', createdAt: T0, quotaBytes: QUOTA, inboxPublicKey: key }),
          ).rejects.toMatchObject({ code: 'invalid-argument' });
        }
        expect(await storage.getAccount('badkey')).toBeUndefined();
      });

      it('refuses account ids that are not base64url, since they name directories', async () => {
        for (const id of ['../x', 'a/b', '.', '', 'a.b']) {
          await expect(storage.createAccount({ id, createdAt: T0, quotaBytes: 1 })).rejects.toMatchObject({
            code: 'invalid-id',
          });
        }
      });
    });

    describe('devices', () => {
      it('registers, lists and revokes devices, keeping the first revocation time', async () => {
        const laptop = await storage.addDevice(A, { id: 'd1', name: 'laptop', publicKey: publicKey(1), createdAt: T0 });
        await storage.addDevice(A, { id: 'd2', name: 'phone', publicKey: publicKey(2), createdAt: T0 + 5 });
        expect(laptop).toEqual({ id: 'd1', accountId: A, name: 'laptop', publicKey: publicKey(1), createdAt: T0 });
        expect(await storage.getDevice(A, 'd1')).toEqual(laptop);
        expect((await storage.getDevice(A, 'd1'))?.revokedAt).toBeUndefined();

        expect(await storage.revokeDevice(A, 'd2', T0 + 10)).toBe(true);
        expect(await storage.revokeDevice(A, 'd2', T0 + 20)).toBe(true);
        expect((await storage.getDevice(A, 'd2'))?.revokedAt).toBe(T0 + 10);
        expect((await storage.listDevices(A)).map((d) => [d.id, d.revokedAt])).toEqual([
          ['d1', undefined],
          ['d2', T0 + 10],
        ]);
        expect(await storage.revokeDevice(A, 'nope', T0)).toBe(false);
      });

      it('renames a device, revoked or not, and answers undefined for an unknown one', async () => {
        await storage.addDevice(A, { id: 'd1', name: 'laptop', publicKey: publicKey(1), createdAt: T0 });
        await storage.addDevice(A, { id: 'd2', name: 'phone', publicKey: publicKey(2), createdAt: T0 + 5 });
        const renamed = await storage.renameDevice(A, 'd1', 'work laptop');
        expect(renamed).toEqual({ id: 'd1', accountId: A, name: 'work laptop', publicKey: publicKey(1), createdAt: T0 });
        expect(await storage.getDevice(A, 'd1')).toEqual(renamed);

        await storage.revokeDevice(A, 'd2', T0 + 10);
        expect(await storage.renameDevice(A, 'd2', 'lost phone')).toMatchObject({ name: 'lost phone', revokedAt: T0 + 10 });
        expect((await storage.listDevices(A)).map((d) => d.name)).toEqual(['work laptop', 'lost phone']);
        expect(await storage.renameDevice(A, 'nope', 'x')).toBeUndefined();
        expect(await storage.getDevice(A, 'nope')).toBeUndefined();
      });

      it('refuses a duplicate device, a malformed key and an unknown account', async () => {
        await storage.addDevice(A, { id: 'd1', name: 'laptop', publicKey: publicKey(1), createdAt: T0 });
        await expect(
          storage.addDevice(A, { id: 'd1', name: 'again', publicKey: publicKey(1), createdAt: T0 }),
        ).rejects.toMatchObject({ code: 'device-exists' });
        await expect(
          storage.addDevice(A, { id: 'd3', name: 'short', publicKey: new Uint8Array(31), createdAt: T0 }),
        ).rejects.toMatchObject({ code: 'invalid-argument' });
        await expect(
          storage.addDevice('nobody', { id: 'd4', name: 'x', publicKey: publicKey(4), createdAt: T0 }),
        ).rejects.toMatchObject({ code: 'unknown-account' });
      });
    });

    describe('chunk logs', () => {
      it('numbers chunks per account across documents, independently for each account', async () => {
        expect(await storage.appendChunk(A, 'doc-1', chunk('a1'))).toEqual({ seq: 1, duplicate: false });
        expect(await storage.appendChunk(A, 'doc-2', chunk('a2'))).toEqual({ seq: 2, duplicate: false });
        expect(await storage.appendChunk(B, 'doc-1', chunk('b1'))).toEqual({ seq: 1, duplicate: false });
        expect(await storage.appendChunk(A, 'doc-1', chunk('a3'))).toEqual({ seq: 3, duplicate: false });
        expect(await storage.appendChunk(B, 'doc-9', chunk('b2'))).toEqual({ seq: 2, duplicate: false });
      });

      it('stores the chunk exactly and charges its nonce and ciphertext to the account', async () => {
        const c = chunk('a1', 'opaque-bytes');
        await storage.appendChunk(A, 'doc-1', c);
        expect(await storage.readChunks(A, { afterSeq: 0, limit: 10 })).toEqual([{ ...c, seq: 1, docId: 'doc-1' }]);
        expect((await storage.getAccount(A))?.usedBytes).toBe(sizeOf(c));
      });

      it('answers a retried clientChunkId with its original seq and stores nothing more', async () => {
        await storage.appendChunk(A, 'doc-1', chunk('a1'));
        await storage.appendChunk(A, 'doc-1', chunk('a2'));
        const used = (await storage.getAccount(A))?.usedBytes;
        expect(await storage.appendChunk(A, 'doc-1', chunk('a1'))).toEqual({ seq: 1, duplicate: true });
        expect(await storage.readChunks(A, { afterSeq: 0, limit: 10 })).toHaveLength(2);
        expect((await storage.getAccount(A))?.usedBytes).toBe(used);
        // The same client id in another account is that account's own chunk.
        expect(await storage.appendChunk(B, 'doc-1', chunk('a1'))).toEqual({ seq: 1, duplicate: false });
        expect(await storage.appendChunk(A, 'doc-1', chunk('a3'))).toEqual({ seq: 3, duplicate: false });
      });

      it('reads in seq order, pages with limit and the cursor, and filters by document', async () => {
        for (let i = 1; i <= 7; i++) await storage.appendChunk(A, i % 2 ? 'odd' : 'even', chunk(`c${i}`));
        await storage.appendChunk(B, 'odd', chunk('other'));

        const pages: number[][] = [];
        let cursor = 0;
        for (;;) {
          const page = await storage.readChunks(A, { afterSeq: cursor, limit: 3 });
          if (page.length === 0) break;
          pages.push(page.map((c) => c.seq));
          cursor = page.at(-1)?.seq ?? cursor;
        }
        expect(pages).toEqual([[1, 2, 3], [4, 5, 6], [7]]);

        const odd = await storage.readChunks(A, { afterSeq: 1, docId: 'odd', limit: 2 });
        expect(odd.map((c) => [c.seq, c.docId, c.clientChunkId])).toEqual([
          [3, 'odd', 'c3'],
          [5, 'odd', 'c5'],
        ]);
        expect(await storage.readChunks(A, { afterSeq: 7, limit: 10 })).toEqual([]);
      });

      it('refuses a malformed query and an append to an unknown account', async () => {
        await expect(storage.readChunks(A, { afterSeq: 0, limit: 0 })).rejects.toMatchObject({ code: 'invalid-argument' });
        await expect(storage.readChunks(A, { afterSeq: -1, limit: 1 })).rejects.toMatchObject({ code: 'invalid-argument' });
        await expect(storage.appendChunk('nobody', 'doc-1', chunk('x'))).rejects.toMatchObject({ code: 'unknown-account' });
      });
    });

    describe('snapshots', () => {
      it("compacts the document's chunks up to coversSeq and leaves the rest", async () => {
        await storage.appendChunk(A, 'doc-1', chunk('a1')); // 1
        await storage.appendChunk(A, 'doc-2', chunk('a2')); // 2
        await storage.appendChunk(A, 'doc-1', chunk('a3')); // 3
        await storage.appendChunk(A, 'doc-1', chunk('a4')); // 4
        const before = (await storage.getAccount(A))?.usedBytes ?? 0;

        const snap = { nonce: bytes('s'.repeat(24)), ciphertext: bytes('snapshot-1') };
        expect(await storage.putSnapshot(A, 'doc-1', 3, snap.nonce, snap.ciphertext, 'dev-1')).toEqual({
          stored: true,
          compactedChunks: 2,
        });
        expect(await storage.getSnapshot(A, 'doc-1')).toEqual({ docId: 'doc-1', fromDevice: 'dev-1', coversSeq: 3, ...snap });
        expect((await storage.readChunks(A, { afterSeq: 0, limit: 10 })).map((c) => c.seq)).toEqual([2, 4]);
        const snapSize = snap.nonce.byteLength + snap.ciphertext.byteLength;
        expect((await storage.getAccount(A))?.usedBytes).toBe(before - 2 * sizeOf(chunk('a1')) + snapSize);
        expect(await storage.getSnapshot(A, 'doc-2')).toBeUndefined();
      });

      it("takes only a seq of one of the document's own chunks, and a retry of the same snapshot changes nothing", async () => {
        await storage.appendChunk(A, 'doc-1', chunk('a1')); // 1
        await storage.appendChunk(A, 'doc-2', chunk('a2')); // 2
        await storage.appendChunk(A, 'doc-1', chunk('a3')); // 3
        // Seq 2 is doc-2's: a doc-1 snapshot there would share its position in a pull.
        await expect(storage.putSnapshot(A, 'doc-1', 2, bytes('n'), bytes('snap'), 'dev-1')).rejects.toMatchObject({ code: 'invalid-argument' });
        expect(await storage.putSnapshot(A, 'doc-1', 3, bytes('n'), bytes('snap'), 'dev-1')).toEqual({ stored: true, compactedChunks: 2 });
        const used = (await storage.getAccount(A))?.usedBytes;
        expect(await storage.putSnapshot(A, 'doc-1', 3, bytes('n'), bytes('snap'), 'dev-1')).toEqual({ stored: false, compactedChunks: 0 });
        expect((await storage.getAccount(A))?.usedBytes).toBe(used);
      });

      it('replaces an older snapshot, keeps a newer one and refuses seqs not yet assigned', async () => {
        for (let i = 1; i <= 4; i++) await storage.appendChunk(A, 'doc-1', chunk(`a${i}`));
        await storage.putSnapshot(A, 'doc-1', 2, bytes('n1'), bytes('first'), 'dev-1');
        await storage.putSnapshot(A, 'doc-1', 4, bytes('n2'), bytes('second'), 'dev-1');
        expect(await storage.putSnapshot(A, 'doc-1', 3, bytes('n3'), bytes('stale'), 'dev-1')).toEqual({
          stored: false,
          compactedChunks: 0,
        });
        expect((await storage.getSnapshot(A, 'doc-1'))?.ciphertext).toEqual(bytes('second'));
        expect((await storage.getAccount(A))?.usedBytes).toBe(bytes('n2second').byteLength);
        await expect(storage.putSnapshot(A, 'doc-1', 5, bytes('n'), bytes('future'), 'dev-1')).rejects.toMatchObject({
          code: 'invalid-argument',
        });
      });

      it('records which device uploaded the snapshot, and the latest uploader when replaced', async () => {
        for (let i = 1; i <= 2; i++) await storage.appendChunk(A, 'doc-1', chunk(`a${i}`));
        await storage.putSnapshot(A, 'doc-1', 1, bytes('n1'), bytes('first'), 'laptop');
        expect((await storage.getSnapshot(A, 'doc-1'))?.fromDevice).toBe('laptop');
        await storage.putSnapshot(A, 'doc-1', 2, bytes('n2'), bytes('second'), 'phone');
        expect(await storage.getSnapshot(A, 'doc-1')).toEqual({
          docId: 'doc-1',
          fromDevice: 'phone',
          coversSeq: 2,
          nonce: bytes('n2'),
          ciphertext: bytes('second'),
        });
        // A stale snapshot is not stored, so it does not take over the uploader either.
        await storage.putSnapshot(A, 'doc-1', 1, bytes('n3'), bytes('stale'), 'tablet');
        expect((await storage.getSnapshot(A, 'doc-1'))?.fromDevice).toBe('phone');
      });

      it('refuses a snapshot whose fromDevice is not an id, storing nothing', async () => {
        await storage.appendChunk(A, 'doc-1', chunk('a1'));
        for (const fromDevice of ['', '../x', 'a b', 'x'.repeat(129)]) {
          await expect(storage.putSnapshot(A, 'doc-1', 1, bytes('n'), bytes('snap'), fromDevice)).rejects.toMatchObject({
            code: 'invalid-id',
          });
        }
        expect(await storage.getSnapshot(A, 'doc-1')).toBeUndefined();
        expect(await storage.readChunks(A, { afterSeq: 0, limit: 10 })).toHaveLength(1);
      });

      it('lists the account snapshots covering more than the cursor, by coversSeq, a page at a time', async () => {
        // seqs 1..6 over three documents; doc-b's snapshot is the lowest although it was stored last.
        for (const [i, doc] of ['doc-a', 'doc-b', 'doc-c', 'doc-a', 'doc-c', 'doc-b'].entries()) {
          await storage.appendChunk(A, doc, chunk(`c${i + 1}`));
        }
        await storage.putSnapshot(A, 'doc-c', 5, bytes('nc'), bytes('snap-c'), 'dev-1');
        await storage.putSnapshot(A, 'doc-a', 4, bytes('na'), bytes('snap-a'), 'dev-2');
        await storage.putSnapshot(A, 'doc-b', 2, bytes('nb'), bytes('snap-b'), 'dev-1');

        const all = await storage.listSnapshots(A, { afterSeq: 0, limit: 10 });
        expect(all.map((s) => [s.docId, s.coversSeq, s.fromDevice])).toEqual([
          ['doc-b', 2, 'dev-1'],
          ['doc-a', 4, 'dev-2'],
          ['doc-c', 5, 'dev-1'],
        ]);
        expect(all[1]).toEqual(await storage.getSnapshot(A, 'doc-a'));
        expect((await storage.listSnapshots(A, { afterSeq: 0, limit: 2 })).map((s) => s.coversSeq)).toEqual([2, 4]);
        expect((await storage.listSnapshots(A, { afterSeq: 2, limit: 2 })).map((s) => s.coversSeq)).toEqual([4, 5]);
        expect((await storage.listSnapshots(A, { afterSeq: 4, limit: 10 })).map((s) => s.coversSeq)).toEqual([5]);
        expect(await storage.listSnapshots(A, { afterSeq: 5, limit: 10 })).toEqual([]);

        // A replacement moves the document's snapshot to where its new coversSeq puts it.
        await storage.putSnapshot(A, 'doc-b', 6, bytes('nb'), bytes('snap-b2'), 'dev-1');
        expect((await storage.listSnapshots(A, { afterSeq: 0, limit: 10 })).map((s) => [s.docId, s.coversSeq])).toEqual([
          ['doc-a', 4],
          ['doc-c', 5],
          ['doc-b', 6],
        ]);
      });

      it('lists nothing for an account without snapshots and refuses a malformed query', async () => {
        expect(await storage.listSnapshots(A, { afterSeq: 0, limit: 10 })).toEqual([]);
        expect(await storage.listSnapshots('nobody', { afterSeq: 0, limit: 10 })).toEqual([]);
        await expect(storage.listSnapshots(A, { afterSeq: 0, limit: 0 })).rejects.toMatchObject({ code: 'invalid-argument' });
        await expect(storage.listSnapshots(A, { afterSeq: -1, limit: 1 })).rejects.toMatchObject({
          code: 'invalid-argument',
        });
        await expect(storage.listSnapshots(A, { afterSeq: 0.5, limit: 1 })).rejects.toMatchObject({
          code: 'invalid-argument',
        });
      });

      it('still recognises a retried chunk after compaction dropped it', async () => {
        await storage.appendChunk(A, 'doc-1', chunk('a1'));
        await storage.putSnapshot(A, 'doc-1', 1, bytes('n'), bytes('snap'), 'dev-1');
        expect(await storage.appendChunk(A, 'doc-1', chunk('a1'))).toEqual({ seq: 1, duplicate: true });
        expect(await storage.readChunks(A, { afterSeq: 0, limit: 10 })).toEqual([]);
      });
    });

    describe('blobs', () => {
      it('stores, reads and charges a blob once, however often it is put', async () => {
        const blob = bytes('encrypted-audio');
        expect(await storage.hasBlob(A, 'blob_1-x')).toBe(false);
        expect(await storage.getBlob(A, 'blob_1-x')).toBeUndefined();
        await storage.putBlob(A, 'blob_1-x', blob);
        await storage.putBlob(A, 'blob_1-x', blob);
        expect(await storage.hasBlob(A, 'blob_1-x')).toBe(true);
        expect(await storage.getBlob(A, 'blob_1-x')).toEqual(blob);
        expect((await storage.getAccount(A))?.usedBytes).toBe(blob.byteLength);
      });

      it('refuses blob ids that could leave the account directory', async () => {
        for (const id of ['../acct-B/x', '..', '.', 'a/b', 'a\\b', '', 'x'.repeat(129)]) {
          await expect(storage.putBlob(A, id, bytes('x'))).rejects.toMatchObject({ code: 'invalid-id' });
          await expect(storage.getBlob(A, id)).rejects.toMatchObject({ code: 'invalid-id' });
          await expect(storage.hasBlob(A, id)).rejects.toMatchObject({ code: 'invalid-id' });
        }
        await expect(storage.getBlob('../acct-A', 'x')).rejects.toMatchObject({ code: 'invalid-id' });
        await expect(storage.putBlob('nobody', 'x', bytes('x'))).rejects.toMatchObject({ code: 'unknown-account' });
      });
    });

    describe('isolation', () => {
      it("never returns another account's chunks, snapshots, blobs or devices, even given their ids", async () => {
        await storage.addDevice(A, { id: 'd1', name: 'laptop', publicKey: publicKey(1), createdAt: T0 });
        await storage.appendChunk(A, 'shared-doc', chunk('a1'));
        await storage.putSnapshot(A, 'shared-doc', 1, bytes('n'), bytes('snap'), 'dev-1');
        await storage.appendChunk(A, 'shared-doc', chunk('a2'));
        await storage.putBlob(A, 'blob1', bytes('blob'));

        expect(await storage.readChunks(B, { afterSeq: 0, limit: 10 })).toEqual([]);
        expect(await storage.readChunks(B, { afterSeq: 0, docId: 'shared-doc', limit: 10 })).toEqual([]);
        expect(await storage.getSnapshot(B, 'shared-doc')).toBeUndefined();
        expect(await storage.hasBlob(B, 'blob1')).toBe(false);
        expect(await storage.getBlob(B, 'blob1')).toBeUndefined();
        expect(await storage.getDevice(B, 'd1')).toBeUndefined();
        expect(await storage.listDevices(B)).toEqual([]);
        expect(await storage.revokeDevice(B, 'd1', T0)).toBe(false);
        expect((await storage.getDevice(A, 'd1'))?.revokedAt).toBeUndefined();
        expect(await storage.renameDevice(B, 'd1', 'stolen')).toBeUndefined();
        expect((await storage.getDevice(A, 'd1'))?.name).toBe('laptop');
        expect(await storage.listSnapshots(B, { afterSeq: 0, limit: 10 })).toEqual([]);
        expect((await storage.getAccount(B))?.usedBytes).toBe(0);

        // B's own writes under the same ids stay B's and leave A's untouched.
        await storage.putBlob(B, 'blob1', bytes('other'));
        expect(await storage.getBlob(A, 'blob1')).toEqual(bytes('blob'));
        expect(await storage.getBlob(B, 'blob1')).toEqual(bytes('other'));
        await storage.addDevice(B, { id: 'd1', name: 'tablet', publicKey: publicKey(2), createdAt: T0 });
        await storage.renameDevice(B, 'd1', 'renamed by B');
        expect((await storage.getDevice(A, 'd1'))?.name).toBe('laptop');
        await storage.appendChunk(B, 'shared-doc', chunk('b1'));
        await storage.putSnapshot(B, 'shared-doc', 1, bytes('n'), bytes('b-snap'), 'd1');
        expect((await storage.listSnapshots(A, { afterSeq: 0, limit: 10 })).map((s) => s.ciphertext)).toEqual([bytes('snap')]);
        expect((await storage.listSnapshots(B, { afterSeq: 0, limit: 10 })).map((s) => s.ciphertext)).toEqual([bytes('b-snap')]);
      });
    });

    describe('quota', () => {
      async function expectNothingWritten(accountId: string, usedBefore: number): Promise<void> {
        expect((await storage.getAccount(accountId))?.usedBytes).toBe(usedBefore);
      }

      it('refuses a chunk past the quota without writing it or using up a seq', async () => {
        await storage.createAccount({ id: 'small', createdAt: T0, quotaBytes: 100 });
        const fits = chunk('c1', 'x'.repeat(100 - 24));
        expect(await storage.appendChunk('small', 'doc-1', fits)).toEqual({ seq: 1, duplicate: false });
        const error: unknown = await storage.appendChunk('small', 'doc-1', chunk('c2', 'y')).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(QuotaExceededError);
        expect(error).toMatchObject({ code: 'quota-exceeded', accountId: 'small', quotaBytes: 100 });
        expect((await storage.readChunks('small', { afterSeq: 0, limit: 10 })).map((c) => c.seq)).toEqual([1]);
        await expectNothingWritten('small', 100);
        // A retry of the stored chunk is still answered, since it costs nothing.
        expect(await storage.appendChunk('small', 'doc-1', fits)).toEqual({ seq: 1, duplicate: true });
      });

      it('refuses a blob past the quota and leaves no blob behind', async () => {
        await storage.createAccount({ id: 'small', createdAt: T0, quotaBytes: 10 });
        await expect(storage.putBlob('small', 'big', new Uint8Array(11))).rejects.toBeInstanceOf(QuotaExceededError);
        expect(await storage.hasBlob('small', 'big')).toBe(false);
        expect(await storage.getBlob('small', 'big')).toBeUndefined();
        await expectNothingWritten('small', 0);
        await storage.putBlob('small', 'fits', new Uint8Array(10));
        expect((await storage.getAccount('small'))?.usedBytes).toBe(10);
      });

      it('refuses a snapshot that grows usage past the quota but allows one that shrinks it', async () => {
        await storage.createAccount({ id: 'small', createdAt: T0, quotaBytes: 100 });
        await storage.appendChunk('small', 'doc-1', chunk('c1', 'x'.repeat(26))); // 50 bytes
        await storage.appendChunk('small', 'doc-2', chunk('c2', 'y')); // 25 bytes
        // Replacing doc-2's 25 bytes with 61 would make 111.
        await expect(
          storage.putSnapshot('small', 'doc-2', 2, bytes('n'), new Uint8Array(60), 'dev-1'),
        ).rejects.toBeInstanceOf(QuotaExceededError);
        expect(await storage.getSnapshot('small', 'doc-2')).toBeUndefined();
        await expectNothingWritten('small', 75);
        // Folding doc-1's 50 bytes into a 60-byte snapshot nets 85, under the quota.
        await storage.putSnapshot('small', 'doc-1', 1, new Uint8Array(10), new Uint8Array(50), 'dev-1');
        expect((await storage.getAccount('small'))?.usedBytes).toBe(85);
      });
    });

    describe('invites', () => {
      it('hands an invite out once, and only for the right proof', async () => {
        await storage.putInvite('inv-1', A, bytes('wrapped-key'), T0 + 1000, PROOF);
        // A wrong proof gets nothing and leaves the invite for the device that has the code.
        expect(await storage.takeInvite('inv-1', T0, OTHER_PROOF)).toBeUndefined();
        expect(await storage.takeInvite('inv-1', T0, new Uint8Array(3))).toBeUndefined();
        expect(await storage.takeInvite('inv-1', T0, PROOF)).toEqual({
          inviteId: 'inv-1',
          accountId: A,
          wrapped: bytes('wrapped-key'),
          expiresAt: T0 + 1000,
        });
        expect(await storage.takeInvite('inv-1', T0, PROOF)).toBeUndefined();
        expect(await storage.takeInvite('never', T0, PROOF)).toBeUndefined();
        await expect(storage.putInvite('inv-2', A, bytes('w'), T0 + 1000, new Uint8Array(31))).rejects.toMatchObject({ code: 'invalid-argument' });
      });

      it('treats an invite as gone from its expiry time on', async () => {
        await storage.putInvite('inv-1', A, bytes('w1'), T0 + 1000, PROOF);
        await storage.putInvite('inv-2', A, bytes('w2'), T0 + 1000, PROOF);
        expect(await storage.takeInvite('inv-1', T0 + 1000, PROOF)).toBeUndefined();
        // Still gone when asked again at a time before its expiry: expired invites are deleted.
        expect(await storage.takeInvite('inv-2', T0 + 2000, PROOF)).toBeUndefined();
        expect(await storage.takeInvite('inv-2', T0, PROOF)).toBeUndefined();
        await expect(storage.putInvite('inv-3', 'nobody', bytes('w'), T0, PROOF)).rejects.toMatchObject({
          code: 'unknown-account',
        });
      });
    });

    describe('stats', () => {
      it('totals accounts, appended and duplicate chunks, and bytes', async () => {
        const empty = await storage.stats();
        expect(empty).toEqual({ accounts: 2, chunksAppended: 0, duplicateChunks: 0, bytesWritten: 0, bytesUsed: 0 });
        await storage.appendChunk(A, 'doc-1', chunk('a1'));
        await storage.appendChunk(A, 'doc-1', chunk('a1'));
        await storage.appendChunk(B, 'doc-1', chunk('b1'));
        await storage.putSnapshot(A, 'doc-1', 1, bytes('n'), bytes('s'), 'dev-1');
        await storage.putBlob(B, 'blob', bytes('1234'));
        expect(await storage.stats()).toEqual({
          accounts: 2,
          chunksAppended: 2,
          duplicateChunks: 1,
          bytesWritten: 2 * sizeOf(chunk('a1')) + 2 + 4,
          bytesUsed: sizeOf(chunk('b1')) + 2 + 4,
        });
      });
    });

    describe('durability', () => {
      it('keeps everything across a reopen and carries on numbering', async () => {
        await storage.createAccount({ id: 'recoverable', createdAt: T0, quotaBytes: QUOTA, recoveryPublicKey: publicKey(9) });
        await storage.addDevice(A, { id: 'd1', name: 'laptop', publicKey: publicKey(1), createdAt: T0 });
        await storage.renameDevice(A, 'd1', 'old laptop');
        await storage.revokeDevice(A, 'd1', T0 + 1);
        await storage.appendChunk(A, 'doc-1', chunk('a1'));
        await storage.appendChunk(A, 'doc-1', chunk('a2'));
        await storage.putSnapshot(A, 'doc-1', 1, bytes('n'), bytes('snap'), 'dev-1');
        await storage.putBlob(A, 'blob1', bytes('blob'));
        await storage.putInvite('inv-1', A, bytes('w'), T0 + 1000, PROOF);
        const account = await storage.getAccount(A);

        storage = await fixture.reopen();

        expect(await storage.getAccount(A)).toEqual(account);
        expect((await storage.getAccount('recoverable'))?.recoveryPublicKey).toEqual(publicKey(9));
        expect(await storage.getDevice(A, 'd1')).toMatchObject({ name: 'old laptop', revokedAt: T0 + 1 });
        expect((await storage.readChunks(A, { afterSeq: 0, limit: 10 })).map((c) => c.clientChunkId)).toEqual(['a2']);
        expect((await storage.getSnapshot(A, 'doc-1'))?.ciphertext).toEqual(bytes('snap'));
        expect((await storage.listSnapshots(A, { afterSeq: 0, limit: 10 })).map((s) => [s.coversSeq, s.fromDevice])).toEqual([
          [1, 'dev-1'],
        ]);
        expect(await storage.getBlob(A, 'blob1')).toEqual(bytes('blob'));
        expect(await storage.appendChunk(A, 'doc-1', chunk('a1'))).toEqual({ seq: 1, duplicate: true });
        expect(await storage.appendChunk(A, 'doc-1', chunk('a3'))).toEqual({ seq: 3, duplicate: false });
        expect((await storage.takeInvite('inv-1', T0, PROOF))?.wrapped).toEqual(bytes('w'));
      });
    });
  });
}
