import type Database from 'better-sqlite3';

const SCHEMA_VERSION = 1;

// Sizes are stored beside payloads so that quota bookkeeping never has to re-read ciphertext.
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

/** Sets the durability pragmas and creates or checks the schema. */
export function prepareDatabase(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  // FULL, not WAL's usual NORMAL: an acknowledged chunk must survive a power loss, because the
  // device may drop its local copy of the outbox once the relay has answered with a seq.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version !== 0) {
    throw new Error(`relay database has schema version ${version}; this relay knows ${SCHEMA_VERSION}`);
  }
  db.transaction(() => {
    db.exec(SCHEMA_V1);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}
