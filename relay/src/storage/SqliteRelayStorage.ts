import { timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BlobFiles } from './BlobFiles.ts';
import { QuotaExceededError, RelayStorageError } from './errors.ts';
import { assertBase64UrlId, assertNonNegativeInteger } from './ids.ts';
import type {
  Account,
  AppendResult,
  Device,
  Invite,
  ListSnapshotsQuery,
  NewAccount,
  NewChunk,
  NewDevice,
  PutSnapshotResult,
  ReadChunksQuery,
  RelayStorage,
  RelayStorageStats,
  Snapshot,
  StoredChunk,
} from './RelayStorage.ts';
import { prepareDatabase } from './sqliteSchema.ts';
import { prepareStatements } from './sqliteStatements.ts';
import type { AccountRow, ChunkRow, DeviceRow, SnapshotRow, Statements } from './sqliteStatements.ts';

const ED25519_PUBLIC_KEY_BYTES = 32;
const PROOF_HASH_BYTES = 32;

function proofMatches(stored: Buffer, given: Uint8Array): boolean {
  return stored.byteLength === PROOF_HASH_BYTES && given instanceof Uint8Array && given.byteLength === PROOF_HASH_BYTES && timingSafeEqual(stored, given);
}

// better-sqlite3 binds Buffers only; this views the caller's bytes without copying them.
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Callers get plain Uint8Arrays so that results compare equal across implementations.
function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

// The interface is asynchronous for networked implementations; this keeps a synchronous
// failure a rejection, as callers of a Promise-returning method expect.
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function toAccount(row: AccountRow): Account {
  const account = { id: row.id, createdAt: row.created_at, quotaBytes: row.quota_bytes, usedBytes: row.used_bytes, lastSeq: row.last_seq };
  return {
    ...account,
    ...(row.recovery_public_key === null ? {} : { recoveryPublicKey: toBytes(row.recovery_public_key) }),
    ...(row.inbox_public_key === null ? {} : { inboxPublicKey: toBytes(row.inbox_public_key) }),
  };
}

function toDevice(row: DeviceRow): Device {
  const device = {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    publicKey: toBytes(row.public_key),
    createdAt: row.created_at,
  };
  return row.revoked_at === null ? device : { ...device, revokedAt: row.revoked_at };
}

function toSnapshot(row: SnapshotRow): Snapshot {
  return {
    docId: row.doc_id,
    fromDevice: row.from_device,
    coversSeq: row.covers_seq,
    nonce: toBytes(row.nonce),
    ciphertext: toBytes(row.ciphertext),
  };
}

function assertEd25519PublicKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.byteLength !== ED25519_PUBLIC_KEY_BYTES) {
    throw new RelayStorageError('invalid-argument', `${what} must be a 32-byte Ed25519 key`);
  }
}

function assertPageQuery(afterSeq: number, limit: number): void {
  assertNonNegativeInteger(afterSeq, 'afterSeq');
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RelayStorageError('invalid-argument', 'limit must be a positive integer');
  }
}

function toChunk(row: ChunkRow): StoredChunk {
  return {
    seq: row.seq,
    docId: row.doc_id,
    clientChunkId: row.client_chunk_id,
    fromDevice: row.from_device,
    nonce: toBytes(row.nonce),
    ciphertext: toBytes(row.ciphertext),
  };
}

/**
 * The embedded relay storage: SQLite (WAL, synchronous=FULL) at `<dataDir>/relay.sqlite` for
 * accounts, devices, chunk logs, snapshots and invites, and blob files under `<dataDir>/blobs`.
 */
export class SqliteRelayStorage implements RelayStorage {
  readonly #db: Database.Database;
  readonly #blobs: BlobFiles;
  readonly #sql: Statements;

  private constructor(db: Database.Database, blobs: BlobFiles) {
    this.#db = db;
    this.#blobs = blobs;
    this.#sql = prepareStatements(db);
  }

  /** Opens (creating if needed) the relay's data under `dataDir`. */
  static open(dataDir: string): SqliteRelayStorage {
    mkdirSync(join(dataDir, 'blobs'), { recursive: true });
    const db = new Database(join(dataDir, 'relay.sqlite'));
    try {
      prepareDatabase(db);
      return new SqliteRelayStorage(db, new BlobFiles(join(dataDir, 'blobs')));
    } catch (error) {
      db.close();
      throw error;
    }
  }

  createAccount(account: NewAccount): Promise<Account> {
    return settle(() => {
      assertBase64UrlId(account.id, 'accountId');
      assertNonNegativeInteger(account.createdAt, 'createdAt');
      assertNonNegativeInteger(account.quotaBytes, 'quotaBytes');
      const recoveryKey = account.recoveryPublicKey;
      if (recoveryKey !== undefined) assertEd25519PublicKey(recoveryKey, 'recoveryPublicKey');
      const inboxKey = account.inboxPublicKey;
      // X25519 public keys are 32 bytes like Ed25519 ones; the length is what storage can check.
      if (inboxKey !== undefined) assertEd25519PublicKey(inboxKey, 'inboxPublicKey');
      const inserted = this.#sql.insertAccount.run(
        account.id,
        account.createdAt,
        account.quotaBytes,
        recoveryKey === undefined ? null : toBuffer(recoveryKey),
        inboxKey === undefined ? null : toBuffer(inboxKey),
      );
      if (inserted.changes === 0) {
        throw new RelayStorageError('account-exists', `account ${account.id} already exists`);
      }
      // Read back rather than echoed, so the caller gets what getAccount will return and not its own buffer.
      return toAccount(this.#requireAccount(account.id));
    });
  }

  getAccount(accountId: string): Promise<Account | undefined> {
    return settle(() => {
      const row = this.#sql.selectAccount.get(accountId);
      return row && toAccount(row);
    });
  }

  addDevice(accountId: string, device: NewDevice): Promise<Device> {
    return settle(() => {
      assertNonNegativeInteger(device.createdAt, 'createdAt');
      assertEd25519PublicKey(device.publicKey, 'publicKey');
      this.#requireAccount(accountId);
      const inserted = this.#sql.insertDevice.run(
        accountId,
        device.id,
        device.name,
        toBuffer(device.publicKey),
        device.createdAt,
      );
      if (inserted.changes === 0) {
        throw new RelayStorageError('device-exists', `device ${device.id} already exists`);
      }
      return { ...device, accountId };
    });
  }

  getDevice(accountId: string, deviceId: string): Promise<Device | undefined> {
    return settle(() => {
      const row = this.#sql.selectDevice.get(accountId, deviceId);
      return row && toDevice(row);
    });
  }

  listDevices(accountId: string): Promise<Device[]> {
    return settle(() => this.#sql.selectDevices.all(accountId).map(toDevice));
  }

  renameDevice(accountId: string, deviceId: string, name: string): Promise<Device | undefined> {
    return settle(() => {
      const row = this.#sql.renameDevice.get(name, accountId, deviceId);
      return row && toDevice(row);
    });
  }

  revokeDevice(accountId: string, deviceId: string, at: number): Promise<boolean> {
    return settle(() => {
      assertNonNegativeInteger(at, 'at');
      this.#sql.revokeDevice.run(at, accountId, deviceId);
      return this.#sql.selectDevice.get(accountId, deviceId) !== undefined;
    });
  }

  appendChunk(accountId: string, docId: string, chunk: NewChunk): Promise<AppendResult> {
    return settle(() =>
      this.#db.transaction((): AppendResult => {
        const known = this.#sql.selectChunkId.get(accountId, chunk.clientChunkId);
        if (known) {
          this.#sql.countDuplicate.run(accountId);
          return { seq: known.seq, duplicate: true };
        }
        const account = this.#requireAccount(accountId);
        const size = chunk.nonce.byteLength + chunk.ciphertext.byteLength;
        assertWithinQuota(account, account.used_bytes + size);
        const seq = account.last_seq + 1;
        this.#sql.insertChunk.run(
          accountId,
          seq,
          docId,
          chunk.clientChunkId,
          chunk.fromDevice,
          toBuffer(chunk.nonce),
          toBuffer(chunk.ciphertext),
          size,
        );
        this.#sql.insertChunkId.run(accountId, chunk.clientChunkId, seq);
        this.#sql.advanceSeq.run(seq, size, size, accountId);
        return { seq, duplicate: false };
      }).immediate(),
    );
  }

  readChunks(accountId: string, query: ReadChunksQuery): Promise<StoredChunk[]> {
    return settle(() => {
      assertPageQuery(query.afterSeq, query.limit);
      const rows =
        query.docId === undefined
          ? this.#sql.selectChunks.all(accountId, query.afterSeq, query.limit)
          : this.#sql.selectDocChunks.all(accountId, query.docId, query.afterSeq, query.limit);
      return rows.map(toChunk);
    });
  }

  putSnapshot(
    accountId: string,
    docId: string,
    coversSeq: number,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    fromDevice: string,
  ): Promise<PutSnapshotResult> {
    return settle(() =>
      this.#db.transaction((): PutSnapshotResult => {
        assertBase64UrlId(fromDevice, 'fromDevice');
        const account = this.#requireAccount(accountId);
        assertNonNegativeInteger(coversSeq, 'coversSeq');
        // A snapshot claiming seqs not yet assigned would delete chunks appended after it.
        if (coversSeq > account.last_seq) {
          throw new RelayStorageError('invalid-argument', `coversSeq ${coversSeq} is past the last seq ${account.last_seq}`);
        }
        const previous = this.#sql.selectSnapshot.get(accountId, docId);
        // An older snapshot arriving late must not replace one whose chunks are already gone; the
        // same one again (a retry after a lost ack) is already done.
        if (previous && previous.covers_seq >= coversSeq) return { stored: false, compactedChunks: 0 };
        // A snapshot takes the place of one of its own document's chunks, so every item a pull
        // returns has its own seq and a cursor between two of them never skips one.
        if (!this.#sql.selectChunkAt.get(accountId, docId, coversSeq)) {
          throw new RelayStorageError('invalid-argument', `coversSeq ${coversSeq} is not the seq of a chunk of this document`);
        }
        const covered = this.#sql.sumCoveredChunks.get(accountId, docId, coversSeq) ?? { count: 0, size: 0 };
        const size = nonce.byteLength + ciphertext.byteLength;
        assertWithinQuota(account, account.used_bytes - covered.size - (previous?.size ?? 0) + size);
        this.#sql.upsertSnapshot.run(accountId, docId, coversSeq, toBuffer(nonce), toBuffer(ciphertext), size, fromDevice);
        this.#sql.deleteCoveredChunks.run(accountId, docId, coversSeq);
        this.#sql.adjustUsage.run(size - covered.size - (previous?.size ?? 0), size, accountId);
        return { stored: true, compactedChunks: covered.count };
      }).immediate(),
    );
  }

  getSnapshot(accountId: string, docId: string): Promise<Snapshot | undefined> {
    return settle(() => {
      const row = this.#sql.selectSnapshot.get(accountId, docId);
      return row && toSnapshot(row);
    });
  }

  listSnapshots(accountId: string, query: ListSnapshotsQuery): Promise<Snapshot[]> {
    return settle(() => {
      assertPageQuery(query.afterSeq, query.limit);
      return this.#sql.selectSnapshots.all(accountId, query.afterSeq, query.limit).map(toSnapshot);
    });
  }

  async putBlob(accountId: string, blobId: string, bytes: Uint8Array): Promise<void> {
    this.#blobs.pathOf(accountId, blobId);
    if (this.#blobAlreadyStored(accountId, blobId, bytes.byteLength)) return;
    const tempPath = await this.#blobs.stage(accountId, bytes);
    let committed = false;
    try {
      // Checked again: another put may have stored this blob or used the quota while we wrote.
      this.#db
        .transaction(() => {
          if (this.#blobAlreadyStored(accountId, blobId, bytes.byteLength)) return;
          // Rename before the row commits: a crash in between leaves an unlisted file that the
          // next put overwrites, never a listed blob without its file.
          this.#blobs.commit(tempPath, accountId, blobId);
          committed = true;
          this.#sql.insertBlob.run(accountId, blobId, bytes.byteLength);
          this.#sql.adjustUsage.run(bytes.byteLength, bytes.byteLength, accountId);
        })
        .immediate();
    } finally {
      if (!committed) await this.#blobs.discard(tempPath);
    }
  }

  async getBlob(accountId: string, blobId: string): Promise<Uint8Array | undefined> {
    if (!(await this.hasBlob(accountId, blobId))) return undefined;
    return this.#blobs.read(accountId, blobId);
  }

  hasBlob(accountId: string, blobId: string): Promise<boolean> {
    return settle(() => {
      this.#blobs.pathOf(accountId, blobId);
      return this.#sql.selectBlob.get(accountId, blobId) !== undefined;
    });
  }

  putInvite(inviteId: string, accountId: string, wrapped: Uint8Array, expiresAt: number, proofHash: Uint8Array): Promise<void> {
    return settle(() => {
      assertNonNegativeInteger(expiresAt, 'expiresAt');
      if (!(proofHash instanceof Uint8Array) || proofHash.byteLength !== PROOF_HASH_BYTES) {
        throw new RelayStorageError('invalid-argument', `proofHash must be ${PROOF_HASH_BYTES} bytes`);
      }
      this.#requireAccount(accountId);
      const inserted = this.#sql.insertInvite.run(inviteId, accountId, toBuffer(wrapped), expiresAt, toBuffer(proofHash));
      if (inserted.changes === 0) throw new RelayStorageError('invalid-argument', 'invite id already in use');
    });
  }

  takeInvite(inviteId: string, now: number, proofHash: Uint8Array): Promise<Invite | undefined> {
    return settle(() =>
      this.#db.transaction((): Invite | undefined => {
        // Sweeping here keeps the table bounded without a timer, since invites are taken often.
        this.#sql.deleteExpiredInvites.run(now);
        const row = this.#sql.selectInvite.get(inviteId);
        // A wrong proof leaves the invite for the device that has the code.
        if (!row || row.expires_at <= now || !proofMatches(row.proof_hash, proofHash)) return undefined;
        this.#sql.deleteInvite.run(inviteId);
        return { inviteId: row.invite_id, accountId: row.account_id, wrapped: toBytes(row.wrapped), expiresAt: row.expires_at };
      }).immediate(),
    );
  }

  stats(): Promise<RelayStorageStats> {
    return settle(() => {
      const row = this.#sql.selectStats.get();
      return {
        accounts: row?.accounts ?? 0,
        chunksAppended: row?.chunks_appended ?? 0,
        duplicateChunks: row?.duplicate_chunks ?? 0,
        bytesWritten: row?.bytes_written ?? 0,
        bytesUsed: row?.bytes_used ?? 0,
      };
    });
  }

  close(): Promise<void> {
    return settle(() => {
      if (this.#db.open) this.#db.close();
    });
  }

  #requireAccount(accountId: string): AccountRow {
    const row = this.#sql.selectAccount.get(accountId);
    if (!row) throw new RelayStorageError('unknown-account', `no account ${accountId}`);
    return row;
  }

  /** True if the blob is stored; otherwise throws unless `size` more bytes fit the quota. */
  #blobAlreadyStored(accountId: string, blobId: string, size: number): boolean {
    if (this.#sql.selectBlob.get(accountId, blobId)) return true;
    const account = this.#requireAccount(accountId);
    assertWithinQuota(account, account.used_bytes + size);
    return false;
  }
}

// A write that does not raise usage is allowed even over quota, so that an account whose quota
// was lowered can still compact its way back under it.
function assertWithinQuota(account: AccountRow, wouldUseBytes: number): void {
  if (wouldUseBytes > account.quota_bytes && wouldUseBytes > account.used_bytes) {
    throw new QuotaExceededError(account.id, account.quota_bytes, wouldUseBytes);
  }
}
