/**
 * What the relay keeps, behind one interface so that the embedded SQLite-plus-files default and a
 * scaled-out Postgres-plus-object-storage implementation run the same acceptance suite
 * (relayStorageTests.ts). Everything stored is ciphertext or metadata about ciphertext.
 *
 * Every account-scoped call takes the accountId and matches on it, so a docId, blobId or deviceId
 * learned from another account reads as absent. Quota counts payload bytes (nonces, ciphertexts,
 * blobs), not row or file-system overhead. Times are milliseconds since the epoch, chosen by the
 * caller so that tests control the clock.
 */

export interface Account {
  readonly id: string;
  readonly createdAt: number;
  readonly quotaBytes: number;
  readonly usedBytes: number;
  /** The latest seq assigned in this account's log; 0 before the first chunk. */
  readonly lastSeq: number;
  /** Ed25519 key derived from the account key (crypto/accountIdentity.ts); enrols a device when all are lost. */
  readonly recoveryPublicKey?: Uint8Array;
  /** X25519 key of the phone-call inbox: the relay seals call audio to it, only devices can open it. */
  readonly inboxPublicKey?: Uint8Array;
}

export interface NewAccount {
  readonly id: string;
  readonly createdAt: number;
  readonly quotaBytes: number;
  readonly recoveryPublicKey?: Uint8Array;
  readonly inboxPublicKey?: Uint8Array;
}

export interface Device {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  /** Ed25519 public key, checked on every connection. */
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly revokedAt?: number;
}

export interface NewDevice {
  readonly id: string;
  readonly name: string;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
}

export interface NewChunk {
  /** Chosen by the sending device so that a retried push is recognised. */
  readonly clientChunkId: string;
  readonly fromDevice: string;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface AppendResult {
  /** Server sequence number, increasing per account across all its documents. */
  readonly seq: number;
  /** True when this clientChunkId was already stored; seq is then the original one. */
  readonly duplicate: boolean;
}

export interface StoredChunk extends NewChunk {
  readonly seq: number;
  readonly docId: string;
}

export interface ReadChunksQuery {
  /** The cursor: only chunks with a greater seq are returned. 0 reads from the start. */
  readonly afterSeq: number;
  readonly docId?: string;
  /** At most this many chunks; a full page means there may be more. */
  readonly limit: number;
}

export interface Snapshot {
  readonly docId: string;
  /** The device that uploaded it; a new device is told where its document came from. */
  readonly fromDevice: string;
  /** The account seq up to which this document's chunks are folded into the snapshot. */
  readonly coversSeq: number;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface PutSnapshotResult {
  /** False when a stored snapshot already covers a later seq; it is kept and nothing changes. */
  readonly stored: boolean;
  /** Chunks dropped because the snapshot covers them. */
  readonly compactedChunks: number;
}

export interface ListSnapshotsQuery {
  /** Only snapshots covering a greater seq than this are returned. */
  readonly afterSeq: number;
  readonly limit: number;
}

export interface Invite {
  readonly inviteId: string;
  readonly accountId: string;
  /** The account key wrapped for the joining device; opaque to the relay. */
  readonly wrapped: Uint8Array;
  readonly expiresAt: number;
}

/** Totals across all accounts, for /metrics. Counters survive restarts. */
export interface RelayStorageStats {
  readonly accounts: number;
  readonly chunksAppended: number;
  readonly duplicateChunks: number;
  /** Payload bytes ever accepted (chunks, snapshots, blobs), including those since compacted. */
  readonly bytesWritten: number;
  /** Payload bytes held now, the sum of every account's usedBytes. */
  readonly bytesUsed: number;
}

export interface RelayStorage {
  /** Creates an account with nothing used; rejects with `account-exists` if the id is taken. */
  createAccount(account: NewAccount): Promise<Account>;
  /** The account with its current usage, or undefined. */
  getAccount(accountId: string): Promise<Account | undefined>;
  /** Registers a device; rejects with `device-exists` if the account already has that id. */
  addDevice(accountId: string, device: NewDevice): Promise<Device>;
  /** The device, revoked or not, or undefined if the account has no such device. */
  getDevice(accountId: string, deviceId: string): Promise<Device | undefined>;
  /** All the account's devices, revoked ones included, oldest first. */
  listDevices(accountId: string): Promise<Device[]>;
  /** Renames the device (revoked or not); undefined if the account has no such device. */
  renameDevice(accountId: string, deviceId: string, name: string): Promise<Device | undefined>;
  /** Marks the device revoked at `at` (first revocation wins); false if there is no such device. */
  revokeDevice(accountId: string, deviceId: string, at: number): Promise<boolean>;
  /** Appends to the document's log, or returns the original seq for a known clientChunkId. */
  appendChunk(accountId: string, docId: string, chunk: NewChunk): Promise<AppendResult>;
  /** Chunks after the cursor in seq order, across documents unless docId is given. */
  readChunks(accountId: string, query: ReadChunksQuery): Promise<StoredChunk[]>;
  /**
   * Stores the snapshot and drops the document's chunks with seq ≤ coversSeq, unless one covering as
   * much or more is stored. coversSeq must be the seq of a stored chunk of that document
   * (`invalid-argument` otherwise), so that a snapshot takes over a position no other item has.
   */
  putSnapshot(
    accountId: string,
    docId: string,
    coversSeq: number,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    fromDevice: string,
  ): Promise<PutSnapshotResult>;
  /** The document's latest snapshot, or undefined. */
  getSnapshot(accountId: string, docId: string): Promise<Snapshot | undefined>;
  /**
   * The account's snapshots with coversSeq above the cursor, in coversSeq order: a pull merges them
   * with the chunks, so a device behind a compaction gets the snapshot in place of what it replaced.
   */
  listSnapshots(accountId: string, query: ListSnapshotsQuery): Promise<Snapshot[]>;
  /** Stores an encrypted blob; an id already stored is kept as is, since ids name their content. */
  putBlob(accountId: string, blobId: string, bytes: Uint8Array): Promise<void>;
  /** The blob's bytes, or undefined. */
  getBlob(accountId: string, blobId: string): Promise<Uint8Array | undefined>;
  /** Whether the account holds the blob. */
  hasBlob(accountId: string, blobId: string): Promise<boolean>;
  /**
   * Stores a pairing invite until it is taken or expires. `proofHash` is the SHA-256 of a proof only
   * the code's holder can compute, so the invite id alone (in a log, say) cannot redeem it.
   */
  putInvite(inviteId: string, accountId: string, wrapped: Uint8Array, expiresAt: number, proofHash: Uint8Array): Promise<void>;
  /**
   * Returns the invite once and deletes it, if `proofHash` matches; undefined if unknown, taken,
   * expired at `now`, or the proof is wrong (the invite is then kept).
   */
  takeInvite(inviteId: string, now: number, proofHash: Uint8Array): Promise<Invite | undefined>;
  /** Totals for metrics. */
  stats(): Promise<RelayStorageStats>;
  /** Flushes and releases files; the instance is unusable afterwards. */
  close(): Promise<void>;
}
