import type Database from 'better-sqlite3';

const SCHEMA_VERSION = 3;

// Sizes are stored beside payloads so that quota bookkeeping never has to re-read ciphertext.
const SCHEMA_V3 = `
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  quota_bytes INTEGER NOT NULL,
  used_bytes INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  duplicate_chunks INTEGER NOT NULL DEFAULT 0,
  bytes_written INTEGER NOT NULL DEFAULT 0,
  recovery_public_key BLOB,
  inbox_public_key BLOB
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

-- Kept after compaction so that a retry of a compacted chunk still gets its original seq.
-- The limit: one small row per chunk ever appended; pruning past the retry window is future work.
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
  from_device TEXT NOT NULL,
  PRIMARY KEY (account_id, doc_id)
) STRICT;
-- A pull reads the account's snapshots past its cursor, merged with the chunk log.
CREATE INDEX snapshots_by_seq ON snapshots (account_id, covers_seq, doc_id);

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
  expires_at INTEGER NOT NULL,
  proof_hash BLOB NOT NULL
) STRICT;
CREATE INDEX invites_by_expiry ON invites (expires_at);
`;

/**
 * Stands in for the uploader of snapshots stored before version 2 recorded it. It must pass as a
 * DeviceId, because every snapshot now travels in pulls and an empty id would fail the client's decoder.
 */
export const UNKNOWN_SNAPSHOT_DEVICE = 'unknown';

const MIGRATE_V1_TO_V2 = `
ALTER TABLE accounts ADD COLUMN recovery_public_key BLOB;
ALTER TABLE snapshots ADD COLUMN from_device TEXT NOT NULL DEFAULT '${UNKNOWN_SNAPSHOT_DEVICE}';
CREATE INDEX snapshots_by_seq ON snapshots (account_id, covers_seq, doc_id);
`;

// Invites live minutes; those waiting during an upgrade have no proof hash and cannot be redeemed
// safely, so they go, and their devices make new ones.
const MIGRATE_V2_TO_V3 = `
DELETE FROM invites;
ALTER TABLE invites ADD COLUMN proof_hash BLOB NOT NULL DEFAULT x'';
ALTER TABLE accounts ADD COLUMN inbox_public_key BLOB;
`;

/** Sets the durability pragmas and creates or checks the schema. */
export function prepareDatabase(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  // FULL, not WAL's usual NORMAL: an acknowledged chunk must survive a power loss, because the
  // device may drop its local copy of the outbox once the relay has answered with a seq.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const readVersion = () => db.pragma('user_version', { simple: true }) as number;
  if (readVersion() === SCHEMA_VERSION) return;
  db.transaction(() => {
    // Read again under the write lock, so two processes opening one old file cannot both migrate it.
    const version = readVersion();
    if (version === SCHEMA_VERSION) return;
    if (version === 0) db.exec(SCHEMA_V3);
    else if (version === 1) db.exec(MIGRATE_V1_TO_V2 + MIGRATE_V2_TO_V3);
    else if (version === 2) db.exec(MIGRATE_V2_TO_V3);
    else throw new Error(`relay database has schema version ${version}; this relay knows ${SCHEMA_VERSION}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
