import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_FRAME_BYTES,
  newDeviceKeyPair,
  PROTOCOL_VERSION,
  randomBytes,
  sealFrame,
  toBase64Url,
  utf8Encode,
} from '@lva/shared';
import type { DeviceKeyPair } from '@lva/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { relayConfig } from '../config.ts';
import { createRelayLogger } from '../http/logger.ts';
import { createRelayServer } from '../http/server.ts';
import type { RelayServer } from '../http/server.ts';
import { SqliteRelayStorage } from '../storage/SqliteRelayStorage.ts';
import { SyncTestClient } from './syncTestClient.ts';

const v = PROTOCOL_VERSION;

function chunk(ciphertext: Uint8Array = randomBytes(40)) {
  return { nonce: toBase64Url(randomBytes(24)), ciphertext: toBase64Url(ciphertext) };
}

function push(rid: string, docId: string, clientChunkId: string, body = chunk()) {
  return { v, type: 'push', rid, docId, clientChunkId, chunk: body };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('sync socket', () => {
  let dataDir: string;
  let storage: SqliteRelayStorage;
  let server: RelayServer;
  let baseUrl: string;
  let syncUrl: string;
  const clients: SyncTestClient[] = [];
  const keys: Record<'a1' | 'a2' | 'b1', DeviceKeyPair> = { a1: newDeviceKeyPair(), a2: newDeviceKeyPair(), b1: newDeviceKeyPair() };

  async function start(extraFlags: string[] = []): Promise<void> {
    const config = relayConfig(['--port', '0', '--data-dir', dataDir, ...extraFlags], {});
    server = createRelayServer({ storage, logger: createRelayLogger({ level: 'silent' }), config });
    baseUrl = await server.listen();
    syncUrl = `${baseUrl.replace(/^http/, 'ws')}/v1/sync`;
  }

  function register(accountId: string, deviceId: string, publicKey: Uint8Array | string) {
    return fetch(`${baseUrl}/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        accountId,
        device: { id: deviceId, name: 'laptop', publicKey: typeof publicKey === 'string' ? publicKey : toBase64Url(publicKey) },
        recoveryPublicKey: toBase64Url(newDeviceKeyPair().publicKey),
        inboxPublicKey: toBase64Url(newDeviceKeyPair().publicKey),
      }),
    });
  }

  async function connect(): Promise<SyncTestClient> {
    const client = await SyncTestClient.connect(syncUrl);
    clients.push(client);
    return client;
  }

  async function device(accountId: string, deviceId: string, key: DeviceKeyPair, subscribe = false): Promise<SyncTestClient> {
    const client = await connect();
    expect(await client.authenticate(accountId, deviceId, key.secretKey)).toMatchObject({ type: 'welcome', accountId, deviceId });
    if (subscribe) {
      client.send({ v, type: 'subscribe' });
      await client.roundTrip();
    }
    return client;
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lva-relay-sync-'));
    storage = SqliteRelayStorage.open(dataDir);
    await start();
    expect((await register('acctA', 'a1', keys.a1.publicKey)).status).toBe(201);
    await storage.addDevice('acctA', { id: 'a2', name: 'phone', publicKey: keys.a2.publicKey, createdAt: Date.now() });
    expect((await register('acctB', 'b1', keys.b1.publicKey)).status).toBe(201);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.close();
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('registers accounts with clear errors for duplicates and bad bodies', async () => {
    const again = await register('acctA', 'a9', newDeviceKeyPair().publicKey);
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ error: { code: 'account-exists', message: expect.any(String) as string } });
    const badKey = await register('acctC', 'c1', 'not base64url!');
    expect(badKey.status).toBe(400);
    expect(await badKey.json()).toMatchObject({ error: { code: 'invalid-body', message: expect.stringContaining('device.publicKey') as string } });
    const shortKey = await register('acctC', 'c1', randomBytes(16));
    expect(shortKey.status).toBe(400);
    const notJson = await fetch(`${baseUrl}/v1/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: 'bad-request' } });
    expect(await storage.getAccount('acctC')).toBeUndefined();
  });

  it('authenticates, acks pushes with a seq and fans out to the other subscribed devices only', async () => {
    const a1 = await device('acctA', 'a1', keys.a1, true);
    const a2 = await device('acctA', 'a2', keys.a2, true);
    const b1 = await device('acctB', 'b1', keys.b1, true);

    const body = chunk();
    a1.send(push('r1', 'doc1', 'c1', body));
    const ack = await a1.expect('ack');
    expect(ack).toMatchObject({ rid: 'r1', docId: 'doc1' });
    const fanned = await a2.expect('chunks');
    expect(fanned.rid).toBeUndefined();
    expect(fanned.items).toEqual([{ docId: 'doc1', seq: ack.seq, fromDevice: 'a1', ...body }]);

    // A retry after a lost ack: same seq, and nobody is sent the chunk twice.
    a1.send(push('r2', 'doc1', 'c1', body));
    expect(await a1.expect('ack')).toMatchObject({ rid: 'r2', seq: ack.seq });
    await a1.roundTrip();
    await a2.roundTrip();
    await b1.roundTrip();
    expect(a1.pending).toEqual([]);
    expect(a2.pending).toEqual([]);
    expect(b1.pending).toEqual([]);
  });

  it('pages a pull with cursor, limit and more, in seq order', async () => {
    const a1 = await device('acctA', 'a1', keys.a1);
    const seqs: number[] = [];
    for (let i = 0; i < 7; i++) {
      a1.send(push(`p${i}`, i % 2 ? 'docOdd' : 'docEven', `k${i}`));
      seqs.push((await a1.expect('ack')).seq);
    }
    const a2 = await device('acctA', 'a2', keys.a2);
    const seen: number[] = [];
    let cursor = 0;
    for (let page = 0; ; page++) {
      a2.send({ v, type: 'pull', rid: `q${page}`, cursor, limit: 3 });
      const batch = await a2.expect('chunks');
      expect(batch.rid).toBe(`q${page}`);
      seen.push(...batch.items.map((item) => item.seq));
      cursor = batch.cursor;
      if (!batch.more) break;
      expect(batch.items).toHaveLength(3);
    }
    expect(seen).toEqual(seqs);

    a2.send({ v, type: 'pull', rid: 'odd', docId: 'docOdd', cursor: 0, limit: 500 });
    const odd = await a2.expect('chunks');
    expect(odd.items.map((item) => item.seq)).toEqual(seqs.filter((_, i) => i % 2));
    expect(odd.more).toBe(false);
  });

  it('pulls a snapshot at its coversSeq in place of the chunks it compacted', async () => {
    const a1 = await device('acctA', 'a1', keys.a1);
    const yBody = chunk();
    for (const [rid, docId, seq, body] of [
      ['x1', 'docX', 1, chunk()],
      ['x2', 'docX', 2, chunk()],
      ['x3', 'docX', 3, chunk()],
      ['y1', 'docY', 4, yBody],
    ] as const) {
      a1.send(push(rid, docId, rid, body));
      expect(await a1.expect('ack')).toMatchObject({ rid, seq });
    }
    const snapshot = chunk();
    a1.send({ v, type: 'snapshot', rid: 's1', docId: 'docX', coversSeq: 3, snapshot });
    expect(await a1.expect('snapshotAck')).toMatchObject({ rid: 's1', docId: 'docX', coversSeq: 3 });

    const a2 = await device('acctA', 'a2', keys.a2);
    async function pull(cursor: number, docId?: string) {
      a2.send({ v, type: 'pull', rid: `from${cursor}`, cursor, limit: 500, ...(docId === undefined ? {} : { docId }) });
      const batch = await a2.expect('chunks');
      return { items: batch.items, cursor: batch.cursor, more: batch.more };
    }
    const snapshotItem = { docId: 'docX', seq: 3, fromDevice: 'a1', snapshot: true, ...snapshot };
    const yItem = { docId: 'docY', seq: 4, fromDevice: 'a1', ...yBody };
    expect(await pull(0)).toEqual({ items: [snapshotItem, yItem], cursor: 4, more: false });
    // A device that saw seq 1 has not seen what the snapshot folded in after it.
    expect(await pull(1)).toEqual({ items: [snapshotItem, yItem], cursor: 4, more: false });
    expect(await pull(3)).toEqual({ items: [yItem], cursor: 4, more: false });

    expect(await pull(0, 'docX')).toEqual({ items: [snapshotItem], cursor: 3, more: false });
    expect(await pull(3, 'docX')).toEqual({ items: [], cursor: 3, more: false });
  });

  it("refuses a snapshot at another document's seq, so every item of a pull has its own position", async () => {
    const a1 = await device('acctA', 'a1', keys.a1);
    for (const [rid, docId] of [['r1', 'docX'], ['r2', 'docZ'], ['r3', 'docY']] as const) {
      a1.send(push(rid, docId, rid));
      await a1.expect('ack');
    }
    a1.send({ v, type: 'snapshot', rid: 's1', docId: 'docX', coversSeq: 3, snapshot: chunk() });
    const refused = await a1.expect('error');
    expect(refused).toMatchObject({ rid: 's1', code: 'BAD_FRAME' });
    expect(refused.message).toMatch(/not the seq of a chunk of this document/);

    a1.send({ v, type: 'snapshot', rid: 's2', docId: 'docX', coversSeq: 1, snapshot: chunk() });
    await a1.expect('snapshotAck');
    const a2 = await device('acctA', 'a2', keys.a2);
    const seen: [string, number, boolean][] = [];
    let cursor = 0;
    for (let page = 0; ; page++) {
      a2.send({ v, type: 'pull', rid: `p${page}`, cursor, limit: 1 });
      const batch = await a2.expect('chunks');
      seen.push(...batch.items.map((item): [string, number, boolean] => [item.docId, item.seq, item.snapshot === true]));
      expect(batch.head).toBe(3);
      cursor = batch.cursor;
      if (!batch.more) break;
    }
    expect(seen).toEqual([
      ['docX', 1, true],
      ['docZ', 2, false],
      ['docY', 3, false],
    ]);
  });

  it('ends a pull before a snapshot that would not fit the frame', async () => {
    const a1 = await device('acctA', 'a1', keys.a1);
    const big = () => chunk(randomBytes(450 * 1024));
    a1.send(push('r1', 'docX', 'r1', big()));
    a1.send(push('r2', 'docY', 'r2', big()));
    await a1.expect('ack');
    await a1.expect('ack');
    a1.send({ v, type: 'snapshot', rid: 's1', docId: 'docY', coversSeq: 2, snapshot: big() });
    await a1.expect('snapshotAck');
    a1.send(push('r3', 'docZ', 'r3'));
    await a1.expect('ack');

    const a2 = await device('acctA', 'a2', keys.a2);
    const pages: [string, number][][] = [];
    let cursor = 0;
    for (let page = 0; ; page++) {
      a2.send({ v, type: 'pull', rid: `p${page}`, cursor, limit: 500 });
      const batch = await a2.expect('chunks');
      pages.push(batch.items.map((item) => [item.docId, item.seq]));
      cursor = batch.cursor;
      if (!batch.more) break;
    }
    expect(pages).toEqual([
      [['docX', 1]],
      [
        ['docY', 2],
        ['docZ', 3],
      ],
    ]);
  });

  it('refuses a bad signature and closes the socket', async () => {
    const client = await connect();
    const answer = await client.authenticate('acctA', 'a1', newDeviceKeyPair().secretKey);
    expect(answer).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED' });
    expect(await client.closed).toBe(4401);
  });

  it('closes a socket that sends anything but hello and auth first', async () => {
    const client = await connect();
    await client.expect('challenge');
    client.send({ v, type: 'pull', rid: 'r', cursor: 0, limit: 10 });
    expect(await client.expect('error')).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await client.closed).toBe(4401);
  });

  it('refuses a revoked device, and closes its open socket when revoked', async () => {
    const a2 = await device('acctA', 'a2', keys.a2);
    await storage.revokeDevice('acctA', 'a2', Date.now());
    expect(server.sync.closeDevice('acctA', 'a2')).toBe(1);
    expect(await a2.expect('error')).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await a2.closed).toBe(4401);

    const again = await connect();
    expect(await again.authenticate('acctA', 'a2', keys.a2.secretKey)).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await again.closed).toBe(4401);
  });

  it('keeps accounts apart: no pulls across accounts, no auth as another account device', async () => {
    const a1 = await device('acctA', 'a1', keys.a1);
    a1.send(push('r1', 'docA', 'c1'));
    await a1.expect('ack');

    const b1 = await device('acctB', 'b1', keys.b1);
    b1.send({ v, type: 'pull', rid: 'steal', docId: 'docA', cursor: 0, limit: 500 });
    expect(await b1.expect('chunks')).toMatchObject({ items: [], more: false });
    b1.send({ v, type: 'pull', rid: 'all', cursor: 0, limit: 500 });
    expect(await b1.expect('chunks')).toMatchObject({ items: [], more: false });

    for (const [accountId, deviceId] of [
      ['acctA', 'a1'],
      ['acctA', 'b1'],
    ] as const) {
      const impostor = await connect();
      expect(await impostor.authenticate(accountId, deviceId, keys.b1.secretKey)).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(await impostor.closed).toBe(4401);
    }
  });

  it('answers malformed JSON with BAD_FRAME and keeps the session', async () => {
    const a1 = await device('acctA', 'a1', keys.a1);
    a1.send('{not json');
    expect(await a1.expect('error')).toMatchObject({ code: 'BAD_FRAME' });
    a1.send({ v, type: 'push', rid: 'r1', docId: 'doc1' });
    expect(await a1.expect('error')).toMatchObject({ code: 'BAD_FRAME' });
    a1.send(push('r2', 'doc1', 'c1'));
    expect(await a1.expect('ack')).toMatchObject({ rid: 'r2' });
  });

  it('drops a client sending an oversized frame while others keep working', async () => {
    const a1 = await device('acctA', 'a1', keys.a1);
    const big = await device('acctA', 'a2', keys.a2);
    big.send('x'.repeat(MAX_FRAME_BYTES + 1));
    expect(await big.closed).toBe(1009);
    await a1.roundTrip();
    a1.send(push('r1', 'doc1', 'c1'));
    expect(await a1.expect('ack')).toMatchObject({ rid: 'r1' });
  });

  it('answers another protocol version with UNSUPPORTED_VERSION and closes', async () => {
    const a1 = await device('acctA', 'a1', keys.a1);
    a1.send({ v: PROTOCOL_VERSION + 1, type: 'ping' });
    expect(await a1.expect('error')).toMatchObject({ code: 'UNSUPPORTED_VERSION' });
    expect(await a1.closed).toBe(4426);
  });

  it('answers a push over quota with QUOTA_EXCEEDED and its rid', async () => {
    const key = newDeviceKeyPair();
    await storage.createAccount({ id: 'tiny', createdAt: Date.now(), quotaBytes: 50 });
    await storage.addDevice('tiny', { id: 't1', name: 'x', publicKey: key.publicKey, createdAt: Date.now() });
    const t1 = await device('tiny', 't1', key);
    t1.send(push('big', 'doc1', 'c1'));
    expect(await t1.expect('error')).toMatchObject({ code: 'QUOTA_EXCEEDED', rid: 'big' });
    await t1.roundTrip();
  });

  it('stores only ciphertext: the plaintext phrase is in no file under the data dir', async () => {
    const phrase = utf8Encode('the secret phrase is purple elephant 42');
    const ciphertext = sealFrame(randomBytes(32), phrase, utf8Encode('doc1'));
    const a1 = await device('acctA', 'a1', keys.a1);
    a1.send(push('r1', 'doc1', 'c1', chunk(ciphertext)));
    await a1.expect('ack');
    await storage.close();
    storage = SqliteRelayStorage.open(dataDir);

    const contents = await Promise.all((await filesUnder(dataDir)).map((file) => readFile(file)));
    expect(contents.length).toBeGreaterThan(0);
    // The control: the ciphertext did reach disk, so the search looked in the right place.
    expect(contents.some((bytes) => bytes.includes(Buffer.from(ciphertext)))).toBe(true);
    expect(contents.some((bytes) => bytes.includes(Buffer.from(phrase)))).toBe(false);
  });
});

describe('sync socket limits', () => {
  let dataDir: string;
  let storage: SqliteRelayStorage;
  let server: RelayServer;
  let syncUrl: string;
  const key = newDeviceKeyPair();

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lva-relay-sync-limits-'));
    storage = SqliteRelayStorage.open(dataDir);
    const flags = ['--port', '0', '--sync-frames-per-second', '1', '--sync-frame-burst', '5', '--sync-auth-timeout-ms', '300'];
    server = createRelayServer({ storage, logger: createRelayLogger({ level: 'silent' }), config: relayConfig(flags, {}) });
    syncUrl = `${(await server.listen()).replace(/^http/, 'ws')}/v1/sync`;
    await storage.createAccount({ id: 'acct', createdAt: Date.now(), quotaBytes: 1e6 });
    await storage.addDevice('acct', { id: 'd1', name: 'x', publicKey: key.publicKey, createdAt: Date.now() });
  });

  afterEach(async () => {
    await server.close();
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('rate-limits frames with retryAfterMs', async () => {
    const client = await SyncTestClient.connect(syncUrl);
    try {
      expect(await client.authenticate('acct', 'd1', key.secretKey)).toMatchObject({ type: 'welcome' });
      for (let i = 0; i < 5; i++) client.send({ v, type: 'ping' });
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await client.next());
      const limited = answers.find((frame) => frame.type === 'error');
      expect(limited).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) as number });
    } finally {
      client.close();
    }
  });

  it('closes a socket that does not authenticate in time', async () => {
    const client = await SyncTestClient.connect(syncUrl);
    await client.expect('challenge');
    expect(await client.expect('error')).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await client.closed).toBe(4401);
  });
});
