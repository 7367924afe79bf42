import os from 'node:os';
import { Repo, type AutomergeUrl, type DocHandle, type DocumentId } from '@automerge/automerge-repo';
import {
  SHARD_CAPACITY,
  bucketOf,
  captureIdTime,
  countCaptures,
  fromRecord,
  listJournals,
  listShards,
  newJournalDoc,
  monthKey,
  newAccountDoc,
  newShardDoc,
  shardsOfMonth,
  toRecord,
  type AccountDoc,
  type Capture,
  type JournalDoc,
  type ShardDoc,
} from '@lva/shared';
import { CoreError } from '../errors.ts';
import { newDeviceId, readDeviceState, writeDeviceState, type DeviceState } from '../device/DeviceState.ts';
import type { SqliteStorageAdapter } from './SqliteStorageAdapter.ts';

export function docIdOf(url: string): DocumentId {
  return (url.startsWith('automerge:') ? url.slice('automerge:'.length) : url) as DocumentId;
}

export type ShardListener = (docId: DocumentId) => void;

/**
 * The documents: one account document and the monthly capture shards, through automerge-repo on a
 * durable SQLite storage. Every write resolves only after the change is fsynced.
 */
export class DocStore {
  readonly repo: Repo;
  readonly storage: SqliteStorageAdapter;
  readonly device: DeviceState;
  readonly account: DocHandle<AccountDoc>;
  readonly #shards = new Map<DocumentId, Promise<DocHandle<ShardDoc>>>();
  readonly #listeners = new Set<ShardListener>();
  readonly #journals = new Map<DocumentId, Promise<DocHandle<JournalDoc>>>();
  readonly #journalListeners = new Set<ShardListener>();

  private constructor(repo: Repo, storage: SqliteStorageAdapter, device: DeviceState, account: DocHandle<AccountDoc>) {
    this.repo = repo;
    this.storage = storage;
    this.device = device;
    this.account = account;
    // Shards created elsewhere reach this device through the account document (sync, a later issue).
    account.on('change', () => {
      for (const url of this.shardUrls()) void this.#trackNew(url);
    });
  }

  /** `storage` is opened by the caller, which reads its version counters before any document loads. */
  static async open(paths: { docs: string; device: string }, storage: SqliteStorageAdapter, deviceName: string = os.hostname()): Promise<DocStore> {
    // Saves are flushed explicitly before a capture is acknowledged; the debounce only batches background saves.
    let device = readDeviceState(paths.device);
    const repo = new Repo({ storage, network: [], saveDebounceRate: 50 });
    let account: DocHandle<AccountDoc>;
    if (device) {
      try {
        account = await repo.find<AccountDoc>(device.accountUrl as AutomergeUrl);
      } catch (err) {
        await repo.shutdown();
        storage.close();
        throw new CoreError('DATA_DIR_INVALID', `the account document is missing from ${paths.docs}; the data directory is damaged`, { cause: err });
      }
    } else {
      const now = Date.now();
      account = repo.create<AccountDoc>(newAccountDoc(now));
      const deviceId = newDeviceId();
      account.change((d) => {
        d.devices[deviceId] = { name: deviceName, addedAt: now };
      });
      await repo.flush([account.documentId]);
      // Written last: a data dir without device.json is simply new, so a crash before this point loses nothing acknowledged.
      device = { version: 1, deviceId, deviceName, accountUrl: account.url, createdAt: now };
      writeDeviceState(paths.device, device);
    }
    return new DocStore(repo, storage, device, account);
  }

  shardUrls(): AutomergeUrl[] {
    return listShards(this.account.doc()).map((s) => s.url as AutomergeUrl);
  }

  shardIds(): DocumentId[] {
    return this.shardUrls().map(docIdOf);
  }

  /**
   * Picks up listed shards not tracked yet. Sync calls it after importing documents: a shard can
   * arrive after the account change that listed it, and then no account change follows to retry.
   */
  async trackShards(): Promise<void> {
    await Promise.all(this.shardUrls().map((url) => this.#trackNew(url)));
  }

  journalIds(): DocumentId[] {
    return listJournals(this.account.doc()).map((j) => docIdOf(j.url));
  }

  /** The journals of a month (conversations started and insights written in it), oldest first. */
  journalsOf(month: string): DocumentId[] {
    return listJournals(this.account.doc())
      .filter((j) => j.month === month)
      .map((j) => docIdOf(j.url));
  }

  async journal(id: DocumentId | AutomergeUrl): Promise<DocHandle<JournalDoc>> {
    const docId = docIdOf(id);
    let handle = this.#journals.get(docId);
    if (!handle) {
      handle = this.repo.find<JournalDoc>(docId).then((h) => {
        h.on('change', () => {
          for (const listener of this.#journalListeners) listener(h.documentId);
        });
        return h;
      });
      this.#journals.set(docId, handle);
      handle.catch(() => this.#journals.delete(docId));
    }
    return handle;
  }

  /** Every journal that can be loaded; one listed but not received yet (sync) is skipped. */
  async loadedJournals(): Promise<DocHandle<JournalDoc>[]> {
    const out: DocHandle<JournalDoc>[] = [];
    for (const id of this.journalIds()) {
      try {
        out.push(await this.journal(id));
      } catch {
        // Listed before its contents arrived.
      }
    }
    return out;
  }

  /** Changes the month's journal, creating it on first use, and flushes before resolving. */
  async changeJournal(month: string, edit: (doc: JournalDoc) => void): Promise<DocumentId> {
    let docId = this.journalsOf(month).at(-1);
    if (!docId) {
      const handle = this.repo.create<JournalDoc>(newJournalDoc(month));
      this.#journals.set(handle.documentId, Promise.resolve(handle));
      handle.on('change', () => {
        for (const listener of this.#journalListeners) listener(handle.documentId);
      });
      this.account.change((d) => {
        d.shards[handle.url] = { month, createdAt: Date.now(), kind: 'journal' };
      });
      docId = handle.documentId;
    }
    const handle = await this.journal(docId);
    handle.change(edit);
    await this.repo.flush([handle.documentId, this.account.documentId]);
    return docId;
  }

  /** Applies `edit` to a journal that holds the record `find` locates; false when none does. */
  async changeJournalHolding(month: string, holds: (doc: JournalDoc) => boolean, edit: (doc: JournalDoc) => void): Promise<boolean> {
    for (const id of this.journalsOf(month)) {
      let handle: DocHandle<JournalDoc>;
      try {
        handle = await this.journal(id);
      } catch {
        continue;
      }
      if (!holds(handle.doc())) continue;
      handle.change(edit);
      await this.repo.flush([handle.documentId]);
      return true;
    }
    return false;
  }

  onJournalChange(listener: ShardListener): () => void {
    this.#journalListeners.add(listener);
    return () => this.#journalListeners.delete(listener);
  }

  onShardChange(listener: ShardListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async shard(url: AutomergeUrl | DocumentId): Promise<DocHandle<ShardDoc>> {
    const docId = docIdOf(url);
    let handle = this.#shards.get(docId);
    if (!handle) {
      handle = this.repo.find<ShardDoc>(docId).then((h) => {
        h.on('change', () => this.#emit(h.documentId));
        return h;
      });
      this.#shards.set(docId, handle);
      handle.catch(() => this.#shards.delete(docId));
    }
    return handle;
  }

  /** Stores new captures and resolves once they are on disk: only then may they be acknowledged. */
  async addCaptures(captures: readonly Capture[]): Promise<void> {
    const byMonth = new Map<string, Capture[]>();
    for (const c of captures) {
      const month = monthKey(captureIdTime(c.id));
      byMonth.set(month, [...(byMonth.get(month) ?? []), c]);
    }
    const touched = new Set<DocumentId>([this.account.documentId]);
    for (const [month, list] of byMonth) {
      let rest = list;
      while (rest.length > 0) {
        const { handle, room } = await this.#writableShard(month);
        const batch = rest.slice(0, room);
        rest = rest.slice(room);
        handle.change((d) => {
          // `??=` would return the plain object assigned, not Automerge's proxy of it, and writes to it would be lost.
          for (const c of batch) {
            const b = bucketOf(c.id);
            // Shards made by newShardDoc have every bucket; this is for any made before that.
            if (!d.buckets[b]) d.buckets[b] = {};
            d.buckets[b][c.id] = toRecord(c);
          }
        });
        touched.add(handle.documentId);
      }
    }
    await this.repo.flush([...touched]);
  }

  async getCapture(id: string): Promise<Capture | undefined> {
    const month = monthKey(captureIdTime(id));
    for (const url of shardsOfMonth(this.account.doc(), month)) {
      const record = (await this.shard(url as AutomergeUrl)).doc().buckets[bucketOf(id)]?.[id];
      if (record) {
        const parsed = fromRecord(record);
        if (!parsed.ok) throw new CoreError('DATA_DIR_INVALID', `capture ${id} is malformed: ${parsed.error}`);
        return parsed.capture;
      }
    }
    return undefined;
  }

  /** Applies `edit` to the stored capture and flushes; returns false when no such capture exists. */
  async changeCapture(id: string, edit: (record: ShardDoc['buckets'][string][string]) => void): Promise<boolean> {
    const month = monthKey(captureIdTime(id));
    for (const url of shardsOfMonth(this.account.doc(), month)) {
      const handle = await this.shard(url as AutomergeUrl);
      if (!handle.doc().buckets[bucketOf(id)]?.[id]) continue;
      handle.change((d) => edit(d.buckets[bucketOf(id)]![id]!));
      await this.repo.flush([handle.documentId]);
      return true;
    }
    return false;
  }

  async close(): Promise<void> {
    await this.repo.flush();
    await this.repo.shutdown();
    this.storage.close();
  }

  async #writableShard(month: string): Promise<{ handle: DocHandle<ShardDoc>; room: number }> {
    const last = shardsOfMonth(this.account.doc(), month).at(-1);
    if (last) {
      const handle = await this.shard(last as AutomergeUrl);
      const room = SHARD_CAPACITY - countCaptures(handle.doc());
      if (room > 0) return { handle, room };
    }
    const handle = this.repo.create<ShardDoc>(newShardDoc(month));
    this.#shards.set(handle.documentId, Promise.resolve(handle));
    handle.on('change', () => this.#emit(handle.documentId));
    this.account.change((d) => {
      d.shards[handle.url] = { month, createdAt: Date.now() };
    });
    return { handle, room: SHARD_CAPACITY };
  }

  async #trackNew(url: AutomergeUrl): Promise<void> {
    const docId = docIdOf(url);
    if (this.#shards.has(docId)) return;
    try {
      await this.shard(docId);
      this.#emit(docId);
    } catch {
      // Listed before its contents arrived; the next account change tries again.
    }
  }

  #emit(docId: DocumentId): void {
    for (const listener of this.#listeners) listener(docId);
  }
}
