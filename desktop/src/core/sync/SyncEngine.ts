import * as A from '@automerge/automerge';
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo';
import {
  concatBytes,
  deriveSubkeys,
  encodeFields,
  FRAME_VERSION,
  fromBase64Url,
  MAX_CHUNK_CIPHERTEXT_BYTES,
  MAX_SNAPSHOT_CIPHERTEXT_BYTES,
  NONCE_LENGTH,
  openFrame,
  PROTOCOL_VERSION,
  randomBytes,
  sealFrame,
  toBase64Url,
} from '@lva/shared';
import type { RemoteChunk, ServerFrame } from '@lva/shared';
import type { BlobStore } from '../blobs/BlobStore.ts';
import type { DocStore } from '../docs/DocStore.ts';
import { CoreError } from '../errors.ts';
import { BlobSync } from './BlobSync.ts';
import { RelayConnection } from './RelayConnection.ts';
import { readSyncKeys, type SyncKeys } from './SyncKeys.ts';
import { SyncState } from './SyncState.ts';

export type SyncStatus = 'connected' | 'offline' | `syncing ${number}`;

export type SyncEvent =
  | { type: 'status'; status: SyncStatus }
  /** A chunk that failed to decrypt: tampered, or sealed with another key. Nothing of it was applied. */
  | { type: 'rejected'; docId: string; seq: number; fromDevice: string; reason: string }
  /** A background push or apply failed; it is retried with the next push or sync. */
  | { type: 'error'; message: string }
  /** Watch mode: the relay is unreachable; the next attempt is in `delayMs`. */
  | { type: 'retry'; attempt: number; delayMs: number; reason: string }
  /** During a pull: chunks received so far in this pull, and the cursor reached. */
  | { type: 'progress'; received: number; documents: number; cursor: number; head?: number };

/** Reconnect timings for watch mode; injectable so tests need not wait for real backoff. */
export interface WatchOptions {
  /** First retry delay; doubled per failed attempt. Default 500 ms. */
  initialDelayMs?: number;
  /** Cap on the delay. Default 30 s. */
  maxDelayMs?: number;
  /** Returns [0, 1); the jitter source. Default Math.random. */
  random?: () => number;
}

export interface SyncCounts {
  /** Documents whose new changes went up. */
  pushed: number;
  /** Chunks from other devices that came down. */
  pulled: number;
}

/** Exponential backoff with jitter: a delay in [half, full] of min(cap, initial · 2^attempt). */
export function backoffDelay(attempt: number, options: Required<WatchOptions>): number {
  const full = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(full / 2 + (full / 2) * options.random());
}

/** What the engine syncs: a repo and the documents to push. DocStore in the app; a bare repo to bootstrap. */
export interface SyncTarget {
  readonly repo: Repo;
  docIds(): DocumentId[];
  /** Called on any local or remote change of a synced document. */
  onChange(listener: () => void): () => void;
  /** After documents were imported: lets the target notice documents it lists but did not have. */
  afterImport(): Promise<void>;
  /** The device's blob store; its blobs are uploaded before the documents that refer to them. */
  readonly blobs?: BlobStore;
}

export function docStoreTarget(docs: DocStore, blobs?: BlobStore): SyncTarget {
  return {
    repo: docs.repo,
    ...(blobs ? { blobs } : {}),
    docIds: () => [docs.account.documentId, ...docs.shardIds(), ...docs.journalIds()],
    onChange: (listener) => {
      docs.account.on('change', listener);
      const offShards = docs.onShardChange(listener);
      const offJournals = docs.onJournalChange(listener);
      return () => {
        docs.account.off('change', listener);
        offShards();
        offJournals();
      };
    },
    afterImport: () => docs.trackShards(),
  };
}

const PUSH_DEBOUNCE_MS = 50;
const PULL_LIMIT = 500;
/** After this many chunks of a document, the device sends a snapshot so the relay can drop them. */
const DEFAULT_SNAPSHOT_EVERY = 64;
/**
 * Or after this many bytes of them: a bulk import goes up as a few large chunks of raw changes,
 * which a new device loads far more slowly than the compressed document a snapshot carries.
 */
const DEFAULT_SNAPSHOT_BYTES = 256 * 1024;
/** Sealing adds a version byte, a 24-byte nonce and a 16-byte tag; the wire carries the nonce apart. */
const SEAL_OVERHEAD = 1 + NONCE_LENGTH + 16;
const MAX_CHUNK_PLAINTEXT = MAX_CHUNK_CIPHERTEXT_BYTES - SEAL_OVERHEAD;
const MAX_SNAPSHOT_PLAINTEXT = MAX_SNAPSHOT_CIPHERTEXT_BYTES - SEAL_OVERHEAD;

export interface SyncEngineOptions {
  /** Chunks of a document between snapshots. Default 64. */
  snapshotEvery?: number;
  /** Bytes of a document's chunks between snapshots. Default 256 KiB. */
  snapshotBytes?: number;
}

/**
 * The AAD binds a chunk to its account and document, so the relay cannot replay it elsewhere.
 * The wire docId is the Automerge document id: random, so it tells the relay nothing.
 */
function chunkAad(accountId: string, docId: string): Uint8Array {
  return encodeFields('lva-chunk-v1', accountId, docId);
}

// Binding the covered seq too stops the relay from presenting an old snapshot as covering more.
function snapshotAad(accountId: string, docId: string, coversSeq: number): Uint8Array {
  return encodeFields('lva-snapshot-v1', accountId, docId, String(coversSeq));
}

/**
 * Changes grouped into pieces that each fit one chunk, in causal order. Encoded changes can be
 * concatenated, and Automerge loads such a run like one saveSince. A single change larger than a
 * chunk cannot be split and is refused with a clear error.
 */
export function splitChanges(changes: readonly Uint8Array[], maxBytes: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let size = 0;
  for (const change of changes) {
    if (change.length > maxBytes) {
      throw new CoreError('TOO_LARGE', `one change is ${(change.length / 1048576).toFixed(1)} MiB, more than the ${(maxBytes / 1048576).toFixed(1)} MiB the relay takes in one chunk`);
    }
    if (size + change.length > maxBytes && run.length > 0) {
      pieces.push(concatBytes(...run));
      run = [];
      size = 0;
    }
    run.push(change);
    size += change.length;
  }
  if (run.length > 0) pieces.push(concatBytes(...run));
  return pieces;
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/**
 * Syncs a device's documents through the relay: local changes go up as sealed Automerge chunks
 * (`saveSince` the heads the relay has), chunks from other devices come down, are opened and
 * loaded. The relay sees only ciphertext, ids and sizes.
 */
export class SyncEngine {
  readonly #keys: SyncKeys;
  readonly #chunkKey: Uint8Array;
  readonly #state: SyncState;
  readonly #target: SyncTarget;
  readonly #snapshotKey: Uint8Array;
  readonly #snapshotEvery: number;
  readonly #snapshotBytes: number;
  /** Seqs this engine pushed since it was made: a pull brings them back, and they are already here. */
  readonly #pushedSeqs = new Set<number>();
  readonly #blobs: BlobSync | undefined;
  readonly #listeners = new Set<(e: SyncEvent) => void>();
  #conn: RelayConnection | undefined;
  #offChange: (() => void) | undefined;
  #pushTimer: NodeJS.Timeout | undefined;
  /** Set while watching: the connection is kept up, reconnecting with backoff when it drops. */
  #watch: Required<WatchOptions> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  /** Pushes and applies run one at a time, so heads and the cursor are never updated out of order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string, target: SyncTarget, options: SyncEngineOptions = {}) {
    const keys = readSyncKeys(dataDir);
    if (!keys) throw new CoreError('BAD_INPUT', `sync is not set up for ${dataDir}`);
    this.#keys = keys;
    const subkeys = deriveSubkeys(keys.accountKey);
    this.#chunkKey = subkeys.chunkKey;
    this.#snapshotKey = subkeys.snapshotKey;
    this.#snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
    this.#snapshotBytes = options.snapshotBytes ?? DEFAULT_SNAPSHOT_BYTES;
    this.#blobs = target.blobs ? new BlobSync(dataDir, keys, target.blobs) : undefined;
    this.#state = SyncState.open(dataDir);
    this.#target = target;
  }

  on(listener: (e: SyncEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get connected(): boolean {
    return this.#conn !== undefined;
  }

  /** Connects, authenticates and subscribes; from then on local changes are pushed as they happen. */
  async connect(): Promise<void> {
    if (this.#conn) return;
    const conn = await RelayConnection.open(this.#keys.relayUrl, this.#keys);
    this.#conn = conn;
    conn.onPush = (frame) => this.#onFanOut(frame);
    conn.onClose = () => {
      if (this.#conn !== conn) return;
      this.#conn = undefined;
      this.#stopWatching();
      this.#emit({ type: 'status', status: 'offline' });
      if (this.#watch) this.#scheduleReconnect('the connection to the relay closed');
    };
    conn.send({ v: PROTOCOL_VERSION, type: 'subscribe' });
    this.#offChange = this.#target.onChange(() => this.#schedulePush());
    this.#emit({ type: 'status', status: 'connected' });
  }

  /** Connect, push everything pending (acked), pull until the relay has no more, disconnect. */
  async syncOnce(): Promise<SyncCounts> {
    await this.connect();
    try {
      const pushed = await this.push();
      const pulled = await this.pull();
      return { pushed, pulled };
    } finally {
      this.close();
    }
  }

  /**
   * Stays connected until `close`: connects, pushes what is pending and pulls by cursor; whenever
   * the socket drops (or cannot be opened) it retries with exponential backoff and jitter, and
   * catches up the same way on each reconnect, so changes made while offline go up then.
   * Resolves after the first attempt, whether it connected or a retry was scheduled.
   */
  async watch(options: WatchOptions = {}): Promise<void> {
    if (this.#watch) return;
    this.#watch = { initialDelayMs: options.initialDelayMs ?? 500, maxDelayMs: options.maxDelayMs ?? 30_000, random: options.random ?? Math.random };
    this.#attempt = 0;
    await this.#catchUp();
  }

  /** Pushes every document with changes the relay lacks; resolves, once all are acked, to how many there were. */
  push(): Promise<number> {
    return this.#serial(() => this.#pushAll());
  }

  /**
   * Pulls from the saved cursor until the relay reports no more; resolves to the chunks from other
   * devices. Then, caught up, sends snapshots of documents with many chunks since the last one.
   */
  async pull(): Promise<number> {
    const pulled = await this.#serial(() => this.#pullAll());
    await this.#serial(() => this.#sendSnapshots());
    return pulled;
  }

  /** Disconnects and stops watching. */
  close(): void {
    this.#watch = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    clearTimeout(this.#pushTimer);
    this.#pushTimer = undefined;
    this.#conn?.close();
  }

  async #catchUp(): Promise<void> {
    try {
      await this.connect();
      await this.push();
      await this.pull();
      this.#attempt = 0;
    } catch (err) {
      if (!this.#watch) return;
      const message = (err as Error).message;
      // A dropped socket has scheduled its own retry; anything else (connect refused, a failed push) does so here.
      if (this.#conn) this.#emit({ type: 'error', message });
      else this.#scheduleReconnect(message);
    }
  }

  #scheduleReconnect(reason: string): void {
    const watch = this.#watch;
    if (!watch || this.#retryTimer) return;
    const delayMs = backoffDelay(this.#attempt, watch);
    this.#attempt += 1;
    this.#emit({ type: 'retry', attempt: this.#attempt, delayMs, reason });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#watch) void this.#catchUp();
    }, delayMs);
  }

  #schedulePush(): void {
    if (!this.#conn || this.#pushTimer) return;
    this.#pushTimer = setTimeout(() => {
      this.#pushTimer = undefined;
      // Not lost: the heads stay unmarked, so the next push or syncOnce sends the same changes.
      this.push().catch((err: unknown) => this.#emit({ type: 'error', message: (err as Error).message }));
    }, PUSH_DEBOUNCE_MS);
  }

  #stopWatching(): void {
    this.#offChange?.();
    this.#offChange = undefined;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #requireConn(): RelayConnection {
    if (!this.#conn) throw new CoreError('SYNC_FAILED', 'not connected to the relay');
    return this.#conn;
  }

  async #pushAll(): Promise<number> {
    const conn = this.#requireConn();
    // Blobs first, so a device that receives a capture can fetch its file. A blob that fails (quota,
    // say) is reported and retried, but does not hold back the documents.
    await this.#blobs?.uploadPending().catch((err: unknown) => this.#emit({ type: 'error', message: `a file could not be uploaded: ${(err as Error).message}` }));
    const pending: { docId: DocumentId; heads: string[]; pieces: Uint8Array[] }[] = [];
    for (const docId of this.#target.docIds()) {
      // A shard the account lists may not have arrived yet (its device was cut off mid-push): it
      // has nothing of ours to push, and the pull that follows must still run to bring it.
      const handle = await this.#findLocal(docId);
      if (!handle) continue;
      const doc = handle.doc();
      const heads = A.getHeads(doc);
      const known = this.#state.knownHeads(docId);
      if (sameHeads(heads, known)) continue;
      const bytes = A.saveSince(doc, known);
      // Almost always one piece; a large import since the last push is cut at change boundaries.
      const pieces = bytes.length <= MAX_CHUNK_PLAINTEXT ? [bytes] : splitChanges(A.getChangesSince(doc, known), MAX_CHUNK_PLAINTEXT);
      pending.push({ docId: handle.documentId, heads, pieces });
    }
    if (pending.length === 0) return 0;
    this.#emit({ type: 'status', status: `syncing ${pending.length}` });
    // Documents go up side by side; a document's pieces in order, and its heads are marked only
    // when the last piece is acked, so an interrupted push sends the whole range again.
    await Promise.all(
      pending.map(async ({ docId, heads, pieces }) => {
        for (const piece of pieces) {
          const seq = await this.#pushPiece(conn, docId, piece);
          this.#pushedSeqs.add(seq);
          this.#state.countChunk(docId, seq, piece.length);
        }
        this.#state.setKnownHeads(docId, heads);
      }),
    );
    this.#emit({ type: 'status', status: 'connected' });
    return pending.length;
  }

  /** Resolves to the seq the relay gave the chunk. */
  async #pushPiece(conn: RelayConnection, docId: DocumentId, bytes: Uint8Array): Promise<number> {
    const framed = sealFrame(this.#chunkKey, bytes, chunkAad(this.#keys.accountId, docId));
    const reply = await conn.request({
      v: PROTOCOL_VERSION,
      type: 'push',
      docId,
      // The wire carries nonce and ciphertext apart; the frame version byte is implied by the protocol version.
      chunk: { nonce: toBase64Url(framed.subarray(1, 1 + NONCE_LENGTH)), ciphertext: toBase64Url(framed.subarray(1 + NONCE_LENGTH)) },
      clientChunkId: toBase64Url(randomBytes(16)),
    });
    if (reply.type !== 'ack') throw new CoreError('SYNC_FAILED', `the relay refused a push: ${reply.type === 'error' ? `${reply.code} ${reply.message}` : reply.type}`);
    return reply.seq;
  }

  /**
   * Called right after a complete pull, when every chunk up to the cursor is applied here: a
   * snapshot of the whole document then covers all of its chunks up to the last one of them this
   * device saw, and the relay may drop them. The relay takes only a seq of the document's own
   * chunks, so snapshots never share a position in the log. A document whose last chunk lies past
   * the cursor (pushed or fanned out since the pull) waits for the next round, since chunks of it
   * from other devices may sit in between. A document too large for one frame keeps its chunk log.
   */
  async #sendSnapshots(): Promise<void> {
    const conn = this.#conn;
    if (!conn) return;
    for (const docId of this.#target.docIds()) {
      if (this.#state.chunksSinceSnapshot(docId) < this.#snapshotEvery && this.#state.bytesSinceSnapshot(docId) < this.#snapshotBytes) continue;
      const coversSeq = this.#state.lastSeq(docId);
      if (coversSeq === 0 || coversSeq > this.#state.cursor) continue;
      const handle = await this.#findLocal(docId);
      if (!handle) continue;
      const bytes = A.save(handle.doc());
      if (bytes.length > MAX_SNAPSHOT_PLAINTEXT) {
        this.#state.resetChunkCount(docId, coversSeq);
        continue;
      }
      const framed = sealFrame(this.#snapshotKey, bytes, snapshotAad(this.#keys.accountId, docId, coversSeq));
      const reply = await conn.request({
        v: PROTOCOL_VERSION,
        type: 'snapshot',
        docId,
        coversSeq,
        snapshot: { nonce: toBase64Url(framed.subarray(1, 1 + NONCE_LENGTH)), ciphertext: toBase64Url(framed.subarray(1 + NONCE_LENGTH)) },
      });
      if (reply.type !== 'snapshotAck') {
        // Only an optimisation: the chunks stay on the relay, and the next round tries again.
        this.#emit({ type: 'error', message: `the relay refused a snapshot: ${reply.type === 'error' ? `${reply.code} ${reply.message}` : reply.type}` });
        continue;
      }
      this.#state.resetChunkCount(docId, coversSeq);
    }
  }

  async #pullAll(): Promise<number> {
    const conn = this.#requireConn();
    let fromOthers = 0;
    let received = 0;
    const documents = new Set<string>();
    for (;;) {
      const reply = await conn.request({ v: PROTOCOL_VERSION, type: 'pull', cursor: this.#state.cursor, limit: PULL_LIMIT });
      if (reply.type !== 'chunks') throw new CoreError('SYNC_FAILED', `the relay refused a pull: ${reply.type === 'error' ? `${reply.code} ${reply.message}` : reply.type}`);
      if (reply.items.length > 0) this.#emit({ type: 'status', status: `syncing ${new Set(reply.items.map((i) => i.docId)).size}` });
      await this.#apply(reply.items);
      this.#state.setCursor(reply.cursor);
      // A push the relay compacted into a snapshot never comes back; past the cursor it never will.
      for (const seq of this.#pushedSeqs) if (seq <= reply.cursor) this.#pushedSeqs.delete(seq);
      fromOthers += reply.items.filter((item) => item.fromDevice !== this.#keys.deviceId).length;
      received += reply.items.length;
      for (const item of reply.items) documents.add(item.docId);
      if (reply.items.length > 0) this.#emit({ type: 'progress', received, documents: documents.size, cursor: reply.cursor, ...(reply.head === undefined ? {} : { head: reply.head }) });
      if (!reply.more) break;
    }
    this.#emit({ type: 'status', status: 'connected' });
    return fromOthers;
  }

  #onFanOut(frame: ServerFrame): void {
    if (frame.type !== 'chunks') return;
    // Fan-out does not move the cursor: a chunk arriving live may sit above one not yet pulled.
    void this.#serial(() => this.#apply(frame.items)).catch((err: unknown) => this.#emit({ type: 'error', message: (err as Error).message }));
  }

  async #apply(items: readonly RemoteChunk[]): Promise<void> {
    let imported = false;
    const touched = new Set<DocumentId>();
    const heads = new Map<string, string[]>();
    for (const item of items) {
      // Our own push coming back in a pull: its changes are in the document already.
      if (!item.snapshot && this.#pushedSeqs.delete(item.seq)) continue;
      let bytes: Uint8Array;
      try {
        const framed = concatBytes(Uint8Array.of(FRAME_VERSION), fromBase64Url(item.nonce), fromBase64Url(item.ciphertext));
        bytes = item.snapshot
          ? openFrame(this.#snapshotKey, framed, snapshotAad(this.#keys.accountId, item.docId, item.seq))
          : openFrame(this.#chunkKey, framed, chunkAad(this.#keys.accountId, item.docId));
      } catch (err) {
        // Skipped for good (the cursor moves past it): retrying cannot make a bad chunk open.
        this.#emit({ type: 'rejected', docId: item.docId, seq: item.seq, fromDevice: item.fromDevice, reason: (err as Error).message });
        continue;
      }
      const docId = item.docId as string as DocumentId;
      const handle = await this.#findLocal(docId);
      if (handle) {
        const before = A.getHeads(handle.doc());
        const known = heads.get(docId) ?? this.#state.knownHeads(docId);
        try {
          handle.update((d) => A.loadIncremental(d, bytes));
        } catch (err) {
          // Decrypted, so it came from a device of this account, yet Automerge cannot read it: a bug
          // or a newer format. Reported; the document keeps its state.
          this.#emit({ type: 'rejected', docId: item.docId, seq: item.seq, fromDevice: item.fromDevice, reason: `not an Automerge change: ${(err as Error).message}` });
          continue;
        }
        // The relay has what it sent; if nothing here was unpushed, the new heads are all on the relay.
        if (sameHeads(before, known)) heads.set(docId, A.getHeads(handle.doc()));
      } else {
        let created: DocHandle<unknown>;
        try {
          created = this.#target.repo.import<unknown>(bytes, { docId });
        } catch (err) {
          this.#emit({ type: 'rejected', docId: item.docId, seq: item.seq, fromDevice: item.fromDevice, reason: `not an Automerge document: ${(err as Error).message}` });
          continue;
        }
        heads.set(docId, A.getHeads(created.doc()));
        imported = true;
      }
      if (item.snapshot) this.#state.resetChunkCount(docId, item.seq);
      else this.#state.countChunk(docId, item.seq, bytes.length);
      touched.add(docId);
    }
    if (touched.size > 0) await this.#target.repo.flush([...touched]);
    this.#state.setKnownHeadsMany(heads);
    if (imported) await this.#target.afterImport();
  }

  /** The document if this device has it (in memory or in storage), else undefined. */
  async #findLocal(docId: DocumentId): Promise<DocHandle<unknown> | undefined> {
    const cached = this.#target.repo.handles[docId];
    if (cached?.isReady()) return cached as DocHandle<unknown>;
    try {
      return await this.#target.repo.find<unknown>(docId);
    } catch {
      // Unavailable: not in storage, and there are no peers to ask. Importing it makes it ready.
      return undefined;
    }
  }

  #emit(event: SyncEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
