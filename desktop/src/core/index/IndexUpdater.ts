import * as A from '@automerge/automerge';
import type { DocumentId } from '@automerge/automerge-repo';
import { fromRecord, shardRecords, type Capture, type ShardDoc } from '@lva/shared';
import type { DocStore } from '../docs/DocStore.ts';
import type { SqliteStorageAdapter } from '../docs/SqliteStorageAdapter.ts';
import type { JobQueue } from '../jobs/JobQueue.ts';
import type { Job } from '../jobs/JobQueue.ts';
import type { SearchIndex } from './SearchIndex.ts';

export const INDEX_SHARD_JOB = 'index-shard';

export interface IndexReport {
  docId: string;
  upserted: number;
  deleted: number;
  /** Records that failed validation; they stay out of the index and are reported, never crash it. */
  invalid: { id: string; error: string }[];
}

/**
 * Keeps the index in step with the shard documents, whatever changed them (a local edit now, a synced
 * change later). The index records, per shard, the Automerge heads it reflects; an update is the diff
 * from those heads, so it is cheap and idempotent, and a crash in between just repeats it.
 */
export class IndexUpdater {
  readonly #docs: () => Promise<DocStore>;
  readonly #storage: SqliteStorageAdapter;
  readonly #index: SearchIndex;
  readonly #queue: JobQueue;
  readonly #reports = new Set<(report: IndexReport) => void>();

  /** `docs` may still be loading: reconciling needs only the storage's counters, never a document. */
  constructor(docs: () => Promise<DocStore>, storage: SqliteStorageAdapter, index: SearchIndex, queue: JobQueue) {
    this.#docs = docs;
    this.#storage = storage;
    this.#index = index;
    this.#queue = queue;
  }

  onReport(listener: (report: IndexReport) => void): () => void {
    this.#reports.add(listener);
    return () => this.#reports.delete(listener);
  }

  enqueue(docId: string): void {
    this.#queue.enqueue(INDEX_SHARD_JOB, docId, { docId }, { priority: 10 });
  }

  /**
   * Enqueues every document whose stored bytes changed since the index last saw it. Compares counters,
   * not documents, so an index that is current costs no document load, not even Automerge's: this is
   * what keeps cold start fast. Documents that are not capture shards are noted and skipped by `run`.
   */
  reconcile(): number {
    const indexed = this.#index.shardStates();
    let stale = 0;
    for (const [docId, version] of this.#storage.docVersions()) {
      const state = indexed.get(docId);
      if (!state || version > state.storageSeq) {
        this.enqueue(docId);
        stale++;
      }
    }
    return stale;
  }

  async run(job: Job): Promise<void> {
    const { docId } = job.payload as { docId: DocumentId };
    const docs = await this.#docs();
    const any = await docs.repo.find<{ kind?: unknown }>(docId);
    // Indexed heads must never be ahead of what is on disk, or a crash could leave captures in the index that the documents lack.
    await docs.repo.flush([any.documentId]);
    const storageSeq = this.#storage.docVersion(docId);
    if (any.doc().kind !== 'lva/captures') {
      this.#index.applyShard(docId, { upserts: [], deletes: [], replaceAll: false, state: { heads: A.getHeads(any.doc()), storageSeq } });
      this.#report({ docId, upserted: 0, deleted: 0, invalid: [] });
      return;
    }
    const doc = (await docs.shard(docId)).doc();
    const heads = A.getHeads(doc);
    const before = this.#index.shardState(docId);
    if (before && sameHeads(before.heads, heads)) {
      if (before.storageSeq !== storageSeq) this.#index.applyShard(docId, { upserts: [], deletes: [], replaceAll: false, state: { heads, storageSeq } });
      this.#report({ docId, upserted: 0, deleted: 0, invalid: [] });
      return;
    }
    const changed = before ? changedIds(doc, before.heads, heads) : 'all';
    const report: IndexReport = { docId, upserted: 0, deleted: 0, invalid: [] };
    const upserts: Capture[] = [];
    const deletes: string[] = [];
    const consider = (id: string, record: unknown): void => {
      if (record === undefined) {
        deletes.push(id);
        return;
      }
      const parsed = fromRecord(record);
      if (!parsed.ok) {
        report.invalid.push({ id, error: parsed.error });
        deletes.push(id);
      } else if (parsed.capture.deletedAt !== undefined) {
        deletes.push(id);
      } else {
        upserts.push(parsed.capture);
      }
    };
    if (changed === 'all') {
      for (const [id, record] of shardRecords(doc)) consider(id, record);
    } else {
      for (const id of changed) consider(id, doc.buckets[id.slice(-1)]?.[id]);
    }
    this.#index.applyShard(docId, { upserts, deletes, replaceAll: changed === 'all', state: { heads, storageSeq } });
    report.upserted = upserts.length;
    report.deleted = deletes.length;
    this.#report(report);
  }

  /** Every run reports, even one that found nothing to do, so progress over a batch of documents completes. */
  #report(report: IndexReport): void {
    for (const listener of this.#reports) listener(report);
  }
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/** Capture ids touched between two states of a shard, or 'all' when the diff cannot be narrowed. */
function changedIds(doc: A.Doc<ShardDoc>, before: string[], after: string[]): Set<string> | 'all' {
  let patches: A.Patch[];
  try {
    patches = A.diff(doc, before, after);
  } catch {
    // The recorded heads are not in this document's history (it was replaced): index it afresh.
    return 'all';
  }
  const ids = new Set<string>();
  for (const patch of patches) {
    const [root, bucket, id] = patch.path;
    if (root !== 'buckets') continue;
    if (typeof id === 'string') ids.add(id);
    else if (typeof bucket === 'string') for (const key of Object.keys(doc.buckets[bucket] ?? {})) ids.add(key);
    else return 'all';
  }
  return ids;
}
