import * as A from '@automerge/automerge';
import { Repo, type DocHandle, type DocumentId } from '@automerge/automerge-repo';
import { concatBytes, deriveSubkeys, encodeFields, FRAME_VERSION, fromBase64Url, NONCE_LENGTH, openFrame, PROTOCOL_VERSION, randomBytes, sealFrame, toBase64Url } from '@lva/shared';
import type { RemoteChunk, ServerFrame } from '@lva/shared';
import { dataDirLayout } from '../DataDir.ts';
import { DataDirLock } from '../device/DataDirLock.ts';
import type { DocStore } from '../docs/DocStore.ts';
import { SqliteStorageAdapter } from '../docs/SqliteStorageAdapter.ts';
import { CoreError } from '../errors.ts';
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
  | { type: 'retry'; attempt: number; delayMs: number; reason: string };

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
}

export function docStoreTarget(docs: DocStore): SyncTarget {
  return {
    repo: docs.repo,
    docIds: () => [docs.account.documentId, ...docs.shardIds()],
    onChange: (listener) => {
      docs.account.on('change', listener);
      const offShards = docs.onShardChange(listener);
      return () => {
        docs.account.off('change', listener);
        offShards();
      };
    },
    afterImport: () => docs.trackShards(),
  };
}

const PUSH_DEBOUNCE_MS = 50;
const PULL_LIMIT = 500;

/**
 * The AAD binds a chunk to its account and document, so the relay cannot replay it elsewhere.
 * The wire docId is the Automerge document id: random, so it tells the relay nothing.
 */
function chunkAad(accountId: string, docId: string): Uint8Array {
  return encodeFields('lva-chunk-v1', accountId, docId);
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

  constructor(dataDir: string, target: SyncTarget) {
    const keys = readSyncKeys(dataDir);
    if (!keys) throw new CoreError('BAD_INPUT', `sync is not set up for ${dataDir}`);
    this.#keys = keys;
    this.#chunkKey = deriveSubkeys(keys.accountKey).chunkKey;
    this.#state = SyncState.open(dataDir);
    this.#target = target;
  }

  /**
   * For a device that joined an account: pulls every chunk into the data dir's document storage
   * before `Core.open`, which needs the account document to be local. Takes the data dir lock, so
   * it cannot run beside an open Core.
   */
  static async bootstrap(dataDir: string): Promise<void> {
    const layout = dataDirLayout(dataDir);
    const lock = new DataDirLock(layout.lock);
    lock.acquire();
    const storage = new SqliteStorageAdapter(layout.docs);
    const repo = new Repo({ storage, network: [], saveDebounceRate: 50 });
    try {
      const engine = new SyncEngine(dataDir, { repo, docIds: () => [], onChange: () => () => undefined, afterImport: () => Promise.resolve() });
      await engine.connect();
      try {
        await engine.pull();
      } finally {
        engine.close();
      }
      await repo.flush();
    } finally {
      await repo.shutdown();
      storage.close();
      lock.release();
    }
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

  /** Pulls from the saved cursor until the relay reports no more; resolves to the chunks from other devices. */
  pull(): Promise<number> {
    return this.#serial(() => this.#pullAll());
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
    const pending: { handle: DocHandle<unknown>; heads: string[]; bytes: Uint8Array }[] = [];
    for (const docId of this.#target.docIds()) {
      const handle = await this.#target.repo.find<unknown>(docId);
      const doc = handle.doc();
      const heads = A.getHeads(doc);
      const known = this.#state.knownHeads(docId);
      if (sameHeads(heads, known)) continue;
      pending.push({ handle, heads, bytes: A.saveSince(doc, known) });
    }
    if (pending.length === 0) return 0;
    this.#emit({ type: 'status', status: `syncing ${pending.length}` });
    // All pushes go out at once; each document's heads are marked only when its own ack comes back.
    await Promise.all(
      pending.map(async ({ handle, heads, bytes }) => {
        const docId = handle.documentId;
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
        this.#state.setKnownHeads(docId, heads);
      }),
    );
    this.#emit({ type: 'status', status: 'connected' });
    return pending.length;
  }

  async #pullAll(): Promise<number> {
    const conn = this.#requireConn();
    let fromOthers = 0;
    for (;;) {
      const reply = await conn.request({ v: PROTOCOL_VERSION, type: 'pull', cursor: this.#state.cursor, limit: PULL_LIMIT });
      if (reply.type !== 'chunks') throw new CoreError('SYNC_FAILED', `the relay refused a pull: ${reply.type === 'error' ? `${reply.code} ${reply.message}` : reply.type}`);
      if (reply.items.length > 0) this.#emit({ type: 'status', status: `syncing ${reply.items.length}` });
      await this.#apply(reply.items);
      this.#state.setCursor(reply.cursor);
      fromOthers += reply.items.filter((item) => item.fromDevice !== this.#keys.deviceId).length;
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
    for (const item of items) {
      let bytes: Uint8Array;
      try {
        const framed = concatBytes(Uint8Array.of(FRAME_VERSION), fromBase64Url(item.nonce), fromBase64Url(item.ciphertext));
        bytes = openFrame(this.#chunkKey, framed, chunkAad(this.#keys.accountId, item.docId));
      } catch (err) {
        // Skipped for good (the cursor moves past it): retrying cannot make a bad chunk open.
        this.#emit({ type: 'rejected', docId: item.docId, seq: item.seq, fromDevice: item.fromDevice, reason: (err as Error).message });
        continue;
      }
      const docId = item.docId as string as DocumentId;
      const handle = await this.#findLocal(docId);
      if (handle) {
        const before = A.getHeads(handle.doc());
        handle.update((d) => A.loadIncremental(d, bytes));
        // The relay has what it sent; if nothing here was unpushed, the new heads are all on the relay.
        if (sameHeads(before, this.#state.knownHeads(docId))) this.#state.setKnownHeads(docId, A.getHeads(handle.doc()));
      } else {
        const created = this.#target.repo.import<unknown>(bytes, { docId });
        this.#state.setKnownHeads(docId, A.getHeads(created.doc()));
        imported = true;
      }
      touched.add(docId);
    }
    if (touched.size > 0) await this.#target.repo.flush([...touched]);
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
