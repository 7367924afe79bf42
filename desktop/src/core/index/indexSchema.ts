/** Bump when the schema changes: an index of another version is rebuilt from the documents. */
export const INDEX_SCHEMA_VERSION = '3';

export const INDEX_SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE captures (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  shard TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  title TEXT NOT NULL,
  text TEXT NOT NULL,
  tags TEXT NOT NULL,
  status TEXT NOT NULL,
  blob_count INTEGER NOT NULL,
  text_hash TEXT NOT NULL
);
CREATE INDEX captures_created ON captures (created_at);
CREATE INDEX captures_shard ON captures (shard);
CREATE TABLE capture_tags (tag TEXT NOT NULL, capture_rowid INTEGER NOT NULL, PRIMARY KEY (tag, capture_rowid)) WITHOUT ROWID;
-- Every upsert clears a capture's tags by rowid; without this each clear scans the table (quadratic indexing).
CREATE INDEX capture_tags_rowid ON capture_tags (capture_rowid);
CREATE VIRTUAL TABLE captures_fts USING fts5 (
  title, text, content = 'captures', content_rowid = 'rowid',
  tokenize = 'porter unicode61 remove_diacritics 2'
);
-- Title matches weigh double: a title is what the person chose to call the capture. Set as the
-- table's rank so ORDER BY rank takes FTS5's fast path.
INSERT INTO captures_fts (captures_fts, rank) VALUES ('rank', 'bm25(2.0, 1.0)');
CREATE TRIGGER captures_ai AFTER INSERT ON captures BEGIN
  INSERT INTO captures_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;
CREATE TRIGGER captures_ad AFTER DELETE ON captures BEGIN
  INSERT INTO captures_fts (captures_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
  DELETE FROM capture_tags WHERE capture_rowid = old.rowid;
  DELETE FROM embed_state WHERE capture_rowid = old.rowid;
END;
CREATE TRIGGER captures_au AFTER UPDATE OF title, text ON captures BEGIN
  INSERT INTO captures_fts (captures_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
  INSERT INTO captures_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;
CREATE TABLE shards (doc_id TEXT PRIMARY KEY, heads TEXT NOT NULL, storage_seq INTEGER NOT NULL);
CREATE TABLE embedders (id TEXT PRIMARY KEY, dimension INTEGER NOT NULL, vec_table TEXT NOT NULL UNIQUE);
CREATE TABLE embed_state (
  embedder TEXT NOT NULL,
  capture_rowid INTEGER NOT NULL,
  text_hash TEXT NOT NULL,
  PRIMARY KEY (embedder, capture_rowid)
) WITHOUT ROWID;
CREATE INDEX embed_state_rowid ON embed_state (capture_rowid);
`;
