import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { QuotaExceededError } from './errors.ts';
import { runRelayStorageTests } from './relayStorageTests.ts';
import type { RelayStorageFixture } from './relayStorageTests.ts';
import { UNKNOWN_SNAPSHOT_DEVICE } from './sqliteSchema.ts';
import { SqliteRelayStorage } from './SqliteRelayStorage.ts';

// The schema as version 1 shipped it, copied rather than imported so that later edits to the live
// schema cannot change what this test migrates from.
const SCHEMA_V1 = `
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  quota_bytes INTEGER NOT NULL,
  used_bytes INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  duplicate_chunks INTEGER NOT NULL DEFAULT 0,
  bytes_written INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE devices (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  public_key BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  PRIMARY KEY (account_id, id)
) STRICT;

CREATE TABLE chunks (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  seq INTEGER NOT NULL,
  doc_id TEXT NOT NULL,
  client_chunk_id TEXT NOT NULL,
  from_device TEXT NOT NULL,
  nonce BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (account_id, seq)
) STRICT;
CREATE INDEX chunks_by_doc ON chunks (account_id, doc_id, seq);

CREATE TABLE chunk_ids (
  account_id TEXT NOT NULL,
  client_chunk_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (account_id, client_chunk_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE snapshots (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  doc_id TEXT NOT NULL,
  covers_seq INTEGER NOT NULL,
  nonce BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (account_id, doc_id)
) STRICT;

CREATE TABLE blobs (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  blob_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (account_id, blob_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE invites (
  invite_id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  wrapped BLOB NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX invites_by_expiry ON invites (expires_at);
`;

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

async function sqliteFixture(): Promise<RelayStorageFixture & { dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lva-relay-storage-'));
  let current = SqliteRelayStorage.open(dataDir);
  return {
    dataDir,
    storage: current,
    async reopen() {
      await current.close();
      current = SqliteRelayStorage.open(dataDir);
      return current;
    },
    async teardown() {
      await current.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

runRelayStorageTests('SqliteRelayStorage', sqliteFixture);

describe('SqliteRelayStorage blob files', () => {
  let fixture: Awaited<ReturnType<typeof sqliteFixture>> | undefined;
  afterEach(async () => {
    await fixture?.teardown();
  });

  it("keeps each blob at blobs/<accountId>/<blobId> and leaves no temp file when it refuses one", async () => {
    fixture = await sqliteFixture();
    const { storage, dataDir } = fixture;
    await storage.createAccount({ id: 'acct', createdAt: 0, quotaBytes: 8 });
    await storage.putBlob('acct', 'b1', new Uint8Array(8));
    await expect(storage.putBlob('acct', 'b2', new Uint8Array(1))).rejects.toBeInstanceOf(QuotaExceededError);
    expect(await readdir(join(dataDir, 'blobs', 'acct'))).toEqual(['b1']);
  });
});

describe('SqliteRelayStorage schema migration', () => {
  let dataDir: string | undefined;
  let storage: SqliteRelayStorage | undefined;
  afterEach(async () => {
    await storage?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  /** A data dir as a version-1 relay left it: one account, a device, a snapshot of seq 1..2 and chunk 3. */
  async function versionOneDataDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'lva-relay-v1-'));
    const db = new Database(join(dir, 'relay.sqlite'));
    try {
      db.exec(SCHEMA_V1);
      db.pragma('user_version = 1');
      db.prepare('INSERT INTO accounts (id, created_at, quota_bytes, used_bytes, last_seq, bytes_written) VALUES (?, ?, ?, ?, ?, ?)').run(
        'acct', 1000, 10_000, 4 + 4 + 5 + 5, 3, 30,
      );
      db.prepare('INSERT INTO devices (account_id, id, name, public_key, created_at) VALUES (?, ?, ?, ?, ?)').run(
        'acct', 'd1', 'laptop', Buffer.alloc(32, 1), 1000,
      );
      for (const [seq, id] of [[1, 'c1'], [2, 'c2'], [3, 'c3']] as const) {
        db.prepare('INSERT INTO chunk_ids (account_id, client_chunk_id, seq) VALUES (?, ?, ?)').run('acct', id, seq);
      }
      db.prepare(
        'INSERT INTO chunks (account_id, seq, doc_id, client_chunk_id, from_device, nonce, ciphertext, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run('acct', 3, 'doc-1', 'c3', 'd1', Buffer.from('non3'), Buffer.from('chunk'), 9);
      db.prepare('INSERT INTO snapshots (account_id, doc_id, covers_seq, nonce, ciphertext, size) VALUES (?, ?, ?, ?, ?, ?)').run(
        'acct', 'doc-1', 2, Buffer.from('nonS'), Buffer.from('snaps'), 9,
      );
      db.prepare('INSERT INTO invites (invite_id, account_id, wrapped, expires_at) VALUES (?, ?, ?, ?)').run('inv-old', 'acct', Buffer.from('w'), Date.now() + 60_000);
    } finally {
      db.close();
    }
    return dir;
  }

  it('migrates a version-1 database in place, keeping its data and filling the new columns', async () => {
    dataDir = await versionOneDataDir();
    storage = SqliteRelayStorage.open(dataDir);

    expect(await storage.getAccount('acct')).toEqual({ id: 'acct', createdAt: 1000, quotaBytes: 10_000, usedBytes: 18, lastSeq: 3 });
    expect(await storage.getDevice('acct', 'd1')).toMatchObject({ name: 'laptop', publicKey: new Uint8Array(32).fill(1) });
    const snapshot = { docId: 'doc-1', fromDevice: UNKNOWN_SNAPSHOT_DEVICE, coversSeq: 2, nonce: bytes('nonS'), ciphertext: bytes('snaps') };
    expect(await storage.getSnapshot('acct', 'doc-1')).toEqual(snapshot);
    expect(await storage.listSnapshots('acct', { afterSeq: 0, limit: 10 })).toEqual([snapshot]);
    expect((await storage.readChunks('acct', { afterSeq: 0, limit: 10 })).map((c) => c.seq)).toEqual([3]);
    expect(await storage.appendChunk('acct', 'doc-1', { clientChunkId: 'c2', fromDevice: 'd1', nonce: bytes('n'), ciphertext: bytes('x') })).toEqual({
      seq: 2,
      duplicate: true,
    });

    // The new features work on the migrated file.
    expect(await storage.renameDevice('acct', 'd1', 'old laptop')).toMatchObject({ name: 'old laptop' });
    expect(await storage.putSnapshot('acct', 'doc-1', 3, bytes('nonT'), bytes('snap2'), 'd1')).toEqual({ stored: true, compactedChunks: 1 });
    expect(await storage.listSnapshots('acct', { afterSeq: 2, limit: 10 })).toMatchObject([{ coversSeq: 3, fromDevice: 'd1' }]);
    // An invite from before redeem proofs cannot be redeemed safely, so it is gone; new ones work.
    const proofHash = new Uint8Array(32).fill(4);
    expect(await storage.takeInvite('inv-old', Date.now(), proofHash)).toBeUndefined();
    await storage.putInvite('inv-new', 'acct', bytes('w'), Date.now() + 60_000, proofHash);
    expect((await storage.takeInvite('inv-new', Date.now(), proofHash))?.accountId).toBe('acct');
    const recoveryPublicKey = new Uint8Array(32).fill(7);
    await storage.createAccount({ id: 'acct2', createdAt: 2000, quotaBytes: 1, recoveryPublicKey });
    expect((await storage.getAccount('acct2'))?.recoveryPublicKey).toEqual(recoveryPublicKey);

    // Opening the migrated file again leaves it as it is.
    await storage.close();
    storage = SqliteRelayStorage.open(dataDir);
    expect((await storage.getDevice('acct', 'd1'))?.name).toBe('old laptop');
    await storage.close();
    storage = undefined;
    const db = new Database(join(dataDir, 'relay.sqlite'), { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(3);
      const indexes = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'snapshots'").all();
      expect(indexes.map((index) => index.name)).toContain('snapshots_by_seq');
    } finally {
      db.close();
    }
  });

  it('refuses a database from a newer relay without touching it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lva-relay-v9-'));
    dataDir = dir;
    const db = new Database(join(dir, 'relay.sqlite'));
    db.pragma('user_version = 9');
    db.close();
    expect(() => SqliteRelayStorage.open(dir)).toThrow(/schema version 9/);
  });
});
