import { MAX_FRAME_BYTES, MAX_PULL_BATCH, toBase64Url } from '@lva/shared';
import type { RemoteChunk } from '@lva/shared';
import type { RelayStorage, StoredChunk } from '../storage/RelayStorage.ts';

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

/**
 * One pull's answer: at most `limit` chunks after `cursor`, stopping early when the next would push
 * the frame past MAX_FRAME_BYTES. Reads in pages so that a large limit of large chunks is never
 * loaded whole only to be cut by the frame size.
 */
export async function readPullBatch(
  storage: RelayStorage,
  accountId: string,
  query: { readonly cursor: number; readonly docId?: string | undefined; readonly limit: number },
): Promise<PullBatch> {
  const limit = Math.min(query.limit, MAX_PULL_BATCH);
  const items: RemoteChunk[] = [];
  let cursor = query.cursor;
  let size = FRAME_OVERHEAD_BYTES;
  for (;;) {
    const want = Math.min(PAGE_ROWS, limit - items.length);
    // One row more than wanted tells whether anything is left without a second query.
    const rows = await storage.readChunks(accountId, {
      afterSeq: cursor,
      limit: want + 1,
      ...(query.docId === undefined ? {} : { docId: query.docId }),
    });
    for (const row of rows.slice(0, want)) {
      const item = toRemoteChunk(row);
      // Ids and base64url are ASCII, so string length is the UTF-8 size; +1 for the comma.
      const itemBytes = JSON.stringify(item).length + 1;
      if (items.length > 0 && size + itemBytes > MAX_FRAME_BYTES) return { items, cursor, more: true };
      items.push(item);
      size += itemBytes;
      cursor = row.seq;
    }
    if (rows.length <= want) return { items, cursor, more: false };
    if (items.length >= limit) return { items, cursor, more: true };
  }
}
