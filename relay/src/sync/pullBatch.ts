import { base64UrlLength, MAX_FRAME_BYTES, MAX_PULL_BATCH, toBase64Url } from '@lva/shared';
import type { RemoteChunk } from '@lva/shared';
import type { RelayStorage, Snapshot, StoredChunk } from '../storage/RelayStorage.ts';

/** Rows read per storage call: a page of maximal chunks (~750 KiB each) stays in the tens of MiB. */
const PAGE_ROWS = 32;

/** Room for the chunks frame around its items: type, rid, cursor, more and punctuation. */
const FRAME_OVERHEAD_BYTES = 512;

export interface PullBatch {
  readonly items: RemoteChunk[];
  /** The seq of the last item, or the request's cursor when there are none. */
  readonly cursor: number;
  readonly more: boolean;
}

/** A stored chunk as it travels: binary fields as base64url. */
export function toRemoteChunk(row: StoredChunk): RemoteChunk {
  // Storage validated ids and seq on the way in, so re-parsing here would only cost time.
  return {
    docId: row.docId,
    seq: row.seq,
    nonce: toBase64Url(row.nonce),
    ciphertext: toBase64Url(row.ciphertext),
    fromDevice: row.fromDevice,
  } as RemoteChunk;
}

/** A stored snapshot as it travels: in the log at the seq it covers, in place of the chunks it folded. */
export function snapshotToRemoteChunk(snapshot: Snapshot): RemoteChunk {
  return {
    docId: snapshot.docId,
    seq: snapshot.coversSeq,
    nonce: toBase64Url(snapshot.nonce),
    ciphertext: toBase64Url(snapshot.ciphertext),
    fromDevice: snapshot.fromDevice,
    snapshot: true,
  } as RemoteChunk;
}

/** An item with its place in the merged log, encoded only once it is known to go in the frame. */
interface Entry {
  readonly seq: number;
  readonly snapshot: boolean;
  readonly docId: string;
  /** The item's JSON size, computed from the raw lengths: encoding a page only to measure it was most of a pull's cost. */
  readonly bytes: number;
  encode(): RemoteChunk;
}

// The JSON of an item with every variable part empty; ids and base64url are ASCII and never escaped.
const ITEM_JSON_BASE = JSON.stringify({ docId: '', seq: 0, nonce: '', ciphertext: '', fromDevice: '' }).length - 1;
const SNAPSHOT_FLAG_JSON = ',"snapshot":true'.length;

function itemBytes(docId: string, seq: number, nonce: Uint8Array, ciphertext: Uint8Array, fromDevice: string, snapshot: boolean): number {
  return (
    ITEM_JSON_BASE +
    docId.length +
    String(seq).length +
    base64UrlLength(nonce.byteLength) +
    base64UrlLength(ciphertext.byteLength) +
    fromDevice.length +
    (snapshot ? SNAPSHOT_FLAG_JSON : 0)
  );
}

function chunkEntry(row: StoredChunk): Entry {
  return {
    seq: row.seq,
    snapshot: false,
    docId: row.docId,
    bytes: itemBytes(row.docId, row.seq, row.nonce, row.ciphertext, row.fromDevice, false),
    encode: () => toRemoteChunk(row),
  };
}

function snapshotEntry(snapshot: Snapshot): Entry {
  return {
    seq: snapshot.coversSeq,
    snapshot: true,
    docId: snapshot.docId,
    bytes: itemBytes(snapshot.docId, snapshot.coversSeq, snapshot.nonce, snapshot.ciphertext, snapshot.fromDevice, true),
    encode: () => snapshotToRemoteChunk(snapshot),
  };
}

/**
 * Seqs are unique among chunks, but a client picks coversSeq, so a snapshot may share its seq with
 * another document's chunk or snapshot. A fixed order for those keeps every pull's answer the same.
 */
function precedes(a: Entry, b: Entry): boolean {
  if (a.seq !== b.seq) return a.seq < b.seq;
  if (a.snapshot !== b.snapshot) return a.snapshot;
  return a.docId < b.docId;
}

type ReadPage = (afterSeq: number, limit: number) => Promise<Entry[]>;

/**
 * One kind of stored item in seq order, read a page at a time after the last seq read whole. Where
 * seqs can repeat, a full page may stop part-way through items sharing its last seq, so those are
 * held back and read again with the next page rather than skipped by a cursor past their seq.
 */
class PagedReader {
  readonly #read: ReadPage;
  readonly #uniqueSeqs: boolean;
  #after: number;
  #page: Entry[] = [];
  #next = 0;
  #done = false;

  constructor(afterSeq: number, uniqueSeqs: boolean, read: ReadPage) {
    this.#after = afterSeq;
    this.#uniqueSeqs = uniqueSeqs;
    this.#read = read;
  }

  async peek(pageRows: number): Promise<Entry | undefined> {
    if (this.#next === this.#page.length && !this.#done) await this.#fill(pageRows);
    return this.#page[this.#next];
  }

  take(): void {
    this.#next++;
  }

  async #fill(pageRows: number): Promise<void> {
    for (let limit = pageRows; ; limit *= 2) {
      const rows = await this.#read(this.#after, limit);
      this.#next = 0;
      if (rows.length < limit) {
        this.#page = rows;
        this.#done = true;
        return;
      }
      const lastSeq = rows[rows.length - 1]?.seq ?? this.#after;
      const whole = this.#uniqueSeqs ? rows : rows.filter((row) => row.seq < lastSeq);
      const last = whole[whole.length - 1];
      if (last !== undefined) {
        this.#page = whole;
        this.#after = last.seq;
        return;
      }
      // Every row shares one seq: read a bigger page until it gets past that seq.
    }
  }
}

function toBatch(entries: readonly Entry[], requestCursor: number, more: boolean): PullBatch {
  return { items: entries.map((entry) => entry.encode()), cursor: entries.at(-1)?.seq ?? requestCursor, more };
}

/**
 * One pull's answer: at most `limit` items after `cursor`, stopping early when the next would push
 * the frame past MAX_FRAME_BYTES. Items are the chunks merged with the snapshots by seq, a snapshot
 * at its coversSeq, so a device behind a compaction gets the snapshot for the chunks it can no longer
 * pull. Reads in pages so that a large limit of large items is never loaded whole only to be cut by
 * the frame size.
 */
export async function readPullBatch(
  storage: RelayStorage,
  accountId: string,
  query: { readonly cursor: number; readonly docId?: string | undefined; readonly limit: number },
): Promise<PullBatch> {
  const limit = Math.min(query.limit, MAX_PULL_BATCH);
  const { docId } = query;
  const chunks = new PagedReader(query.cursor, true, async (afterSeq, rows) =>
    (await storage.readChunks(accountId, { afterSeq, limit: rows, ...(docId === undefined ? {} : { docId }) })).map(
      chunkEntry,
    ),
  );
  const snapshots = new PagedReader(
    query.cursor,
    false,
    docId === undefined
      ? async (afterSeq, rows) => (await storage.listSnapshots(accountId, { afterSeq, limit: rows })).map(snapshotEntry)
      : // A document has at most one snapshot; a page of one tells the reader it has read them all.
        async (afterSeq) => {
          const snapshot = await storage.getSnapshot(accountId, docId);
          return snapshot !== undefined && snapshot.coversSeq > afterSeq ? [snapshotEntry(snapshot)] : [];
        },
  );
  const items: Entry[] = [];
  let size = FRAME_OVERHEAD_BYTES;
  for (;;) {
    // One row more than still wanted tells whether anything is left without a second query.
    const pageRows = Math.min(PAGE_ROWS, Math.max(limit - items.length, 1)) + 1;
    const chunk = await chunks.peek(pageRows);
    const snapshot = await snapshots.peek(pageRows);
    const fromSnapshots = snapshot !== undefined && (chunk === undefined || precedes(snapshot, chunk));
    const next = fromSnapshots ? snapshot : chunk;
    if (next === undefined) return toBatch(items, query.cursor, false);
    // +1 for the comma.
    const itemBytes = next.bytes + 1;
    const overFrame = items.length > 0 && size + itemBytes > MAX_FRAME_BYTES;
    if (overFrame || items.length >= limit) {
      if (items.at(-1)?.seq !== next.seq) return toBatch(items, query.cursor, true);
      // The cursor is a seq, so ending between two items at one seq would skip the second for good:
      // end before that seq instead, and the next pull starts with all of it.
      const keep = items.findLastIndex((entry) => entry.seq !== next.seq) + 1;
      if (keep > 0) return toBatch(items.slice(0, keep), query.cursor, true);
      // The whole batch shares one seq. Going past the limit finishes it; a frame cannot hold more,
      // so the rest of that seq is lost to this device (only snapshots a client chose to pile on one
      // coversSeq, over a megabyte together, get here).
      if (overFrame) return toBatch(items, query.cursor, true);
    }
    (fromSnapshots ? snapshots : chunks).take();
    items.push(next);
    size += itemBytes;
  }
}
