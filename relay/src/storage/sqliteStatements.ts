import type Database from 'better-sqlite3';

export interface AccountRow {
  id: string;
  created_at: number;
  quota_bytes: number;
  used_bytes: number;
  last_seq: number;
  recovery_public_key: Buffer | null;
  inbox_public_key: Buffer | null;
}

export interface DeviceRow {
  account_id: string;
  id: string;
  name: string;
  public_key: Buffer;
  created_at: number;
  revoked_at: number | null;
}

export interface ChunkRow {
  seq: number;
  doc_id: string;
  client_chunk_id: string;
  from_device: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

export interface SnapshotRow {
  doc_id: string;
  from_device: string;
  covers_seq: number;
  nonce: Buffer;
  ciphertext: Buffer;
  size: number;
}

export interface InviteRow {
  invite_id: string;
  account_id: string;
  wrapped: Buffer;
  expires_at: number;
  proof_hash: Buffer;
}

export interface StatsRow {
  accounts: number;
  chunks_appended: number;
  duplicate_chunks: number;
  bytes_written: number;
  bytes_used: number;
}

export interface Statements {
  insertAccount: Database.Statement<[string, number, number, Buffer | null, Buffer | null]>;
  selectAccount: Database.Statement<[string], AccountRow>;
  insertDevice: Database.Statement<[string, string, string, Buffer, number]>;
  selectDevice: Database.Statement<[string, string], DeviceRow>;
  selectDevices: Database.Statement<[string], DeviceRow>;
  renameDevice: Database.Statement<[string, string, string], DeviceRow>;
  revokeDevice: Database.Statement<[number, string, string]>;
  selectChunkId: Database.Statement<[string, string], { seq: number }>;
  countDuplicate: Database.Statement<[string]>;
  insertChunk: Database.Statement<[string, number, string, string, string, Buffer, Buffer, number]>;
  insertChunkId: Database.Statement<[string, string, number]>;
  advanceSeq: Database.Statement<[number, number, number, string]>;
  adjustUsage: Database.Statement<[number, number, string]>;
  selectChunks: Database.Statement<[string, number, number], ChunkRow>;
  selectDocChunks: Database.Statement<[string, string, number, number], ChunkRow>;
  selectSnapshot: Database.Statement<[string, string], SnapshotRow>;
  selectChunkAt: Database.Statement<[string, string, number], { one: number }>;
  sumCoveredChunks: Database.Statement<[string, string, number], { count: number; size: number }>;
  selectSnapshots: Database.Statement<[string, number, number], SnapshotRow>;
  upsertSnapshot: Database.Statement<[string, string, number, Buffer, Buffer, number, string]>;
  deleteCoveredChunks: Database.Statement<[string, string, number]>;
  selectBlob: Database.Statement<[string, string], { size: number }>;
  insertBlob: Database.Statement<[string, string, number]>;
  insertInvite: Database.Statement<[string, string, Buffer, number, Buffer]>;
  selectInvite: Database.Statement<[string], InviteRow>;
  deleteInvite: Database.Statement<[string]>;
  deleteExpiredInvites: Database.Statement<[number]>;
  selectStats: Database.Statement<[], StatsRow>;
}

/** Every statement the SQLite relay storage runs, prepared once per connection. */
export function prepareStatements(db: Database.Database): Statements {
  return {
    insertAccount: db.prepare<[string, number, number, Buffer | null, Buffer | null]>(
      'INSERT INTO accounts (id, created_at, quota_bytes, recovery_public_key, inbox_public_key) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    selectAccount: db.prepare<[string], AccountRow>(
      'SELECT id, created_at, quota_bytes, used_bytes, last_seq, recovery_public_key, inbox_public_key FROM accounts WHERE id = ?',
    ),
    insertDevice: db.prepare<[string, string, string, Buffer, number]>(
      'INSERT INTO devices (account_id, id, name, public_key, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    selectDevice: db.prepare<[string, string], DeviceRow>('SELECT * FROM devices WHERE account_id = ? AND id = ?'),
    selectDevices: db.prepare<[string], DeviceRow>(
      'SELECT * FROM devices WHERE account_id = ? ORDER BY created_at, rowid',
    ),
    renameDevice: db.prepare<[string, string, string], DeviceRow>(
      'UPDATE devices SET name = ? WHERE account_id = ? AND id = ? RETURNING *',
    ),
    revokeDevice: db.prepare<[number, string, string]>(
      'UPDATE devices SET revoked_at = ? WHERE account_id = ? AND id = ? AND revoked_at IS NULL',
    ),
    selectChunkId: db.prepare<[string, string], { seq: number }>(
      'SELECT seq FROM chunk_ids WHERE account_id = ? AND client_chunk_id = ?',
    ),
    countDuplicate: db.prepare<[string]>(
      'UPDATE accounts SET duplicate_chunks = duplicate_chunks + 1 WHERE id = ?',
    ),
    insertChunk: db.prepare<[string, number, string, string, string, Buffer, Buffer, number]>(
      `INSERT INTO chunks (account_id, seq, doc_id, client_chunk_id, from_device, nonce, ciphertext, size)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertChunkId: db.prepare<[string, string, number]>(
      'INSERT INTO chunk_ids (account_id, client_chunk_id, seq) VALUES (?, ?, ?)',
    ),
    advanceSeq: db.prepare<[number, number, number, string]>(
      'UPDATE accounts SET last_seq = ?, used_bytes = used_bytes + ?, bytes_written = bytes_written + ? WHERE id = ?',
    ),
    adjustUsage: db.prepare<[number, number, string]>(
      'UPDATE accounts SET used_bytes = used_bytes + ?, bytes_written = bytes_written + ? WHERE id = ?',
    ),
    selectChunks: db.prepare<[string, number, number], ChunkRow>(
      `SELECT seq, doc_id, client_chunk_id, from_device, nonce, ciphertext FROM chunks
       WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    selectDocChunks: db.prepare<[string, string, number, number], ChunkRow>(
      `SELECT seq, doc_id, client_chunk_id, from_device, nonce, ciphertext FROM chunks
       WHERE account_id = ? AND doc_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    selectChunkAt: db.prepare<[string, string, number], { one: number }>(
      'SELECT 1 AS one FROM chunks WHERE account_id = ? AND doc_id = ? AND seq = ?',
    ),
    selectSnapshot: db.prepare<[string, string], SnapshotRow>(
      'SELECT doc_id, from_device, covers_seq, nonce, ciphertext, size FROM snapshots WHERE account_id = ? AND doc_id = ?',
    ),
    // doc_id breaks ties so that pages of snapshots covering one seq come back in the same order.
    selectSnapshots: db.prepare<[string, number, number], SnapshotRow>(
      `SELECT doc_id, from_device, covers_seq, nonce, ciphertext, size FROM snapshots
       WHERE account_id = ? AND covers_seq > ? ORDER BY covers_seq, doc_id LIMIT ?`,
    ),
    sumCoveredChunks: db.prepare<[string, string, number], { count: number; size: number }>(
      `SELECT count(*) AS count, coalesce(sum(size), 0) AS size FROM chunks
       WHERE account_id = ? AND doc_id = ? AND seq <= ?`,
    ),
    upsertSnapshot: db.prepare<[string, string, number, Buffer, Buffer, number, string]>(
      `INSERT INTO snapshots (account_id, doc_id, covers_seq, nonce, ciphertext, size, from_device)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (account_id, doc_id) DO UPDATE SET
         covers_seq = excluded.covers_seq, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
         size = excluded.size, from_device = excluded.from_device`,
    ),
    deleteCoveredChunks: db.prepare<[string, string, number]>(
      'DELETE FROM chunks WHERE account_id = ? AND doc_id = ? AND seq <= ?',
    ),
    selectBlob: db.prepare<[string, string], { size: number }>(
      'SELECT size FROM blobs WHERE account_id = ? AND blob_id = ?',
    ),
    insertBlob: db.prepare<[string, string, number]>('INSERT INTO blobs (account_id, blob_id, size) VALUES (?, ?, ?)'),
    insertInvite: db.prepare<[string, string, Buffer, number, Buffer]>(
      'INSERT INTO invites (invite_id, account_id, wrapped, expires_at, proof_hash) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    selectInvite: db.prepare<[string], InviteRow>('SELECT * FROM invites WHERE invite_id = ?'),
    deleteInvite: db.prepare<[string]>('DELETE FROM invites WHERE invite_id = ?'),
    deleteExpiredInvites: db.prepare<[number]>('DELETE FROM invites WHERE expires_at <= ?'),
    selectStats: db.prepare<[], StatsRow>(
      `SELECT count(*) AS accounts, coalesce(sum(last_seq), 0) AS chunks_appended,
         coalesce(sum(duplicate_chunks), 0) AS duplicate_chunks, coalesce(sum(bytes_written), 0) AS bytes_written,
         coalesce(sum(used_bytes), 0) AS bytes_used FROM accounts`,
    ),
  };
}
