import * as A from '@automerge/automerge';
import type { DocumentId } from '@automerge/automerge-repo';
import { fromRecord, shardRecords } from '@lva/shared';
import type { DocStore } from '../docs/DocStore.ts';
import type { Job, JobQueue } from '../jobs/JobQueue.ts';
import { captureSignature, type ConceptGraph, type GraphCapture } from './ConceptGraph.ts';

export const GRAPH_SHARD_JOB = 'graph-shard';

export interface GraphReport {
  docId: string;
  /** Captures whose concepts or relations changed and were rewritten. */
  upserted: number;
  /** Captures removed from the graph: deleted, gone from the document, or now malformed. */
  deleted: number;
  unchanged: number;
  /** Records that failed validation; they stay out of the graph and are reported, never crash it. */
  invalid: { id: string; error: string }[];
}

/**
 * Keeps the concept graph in step with the shard documents, like IndexUpdater does the search index.
 * A run compares each capture's signature with the one the graph holds, so it is idempotent and a
 * crash just repeats it; the graph writes a shard's captures and its heads in one transaction.
 */
export class GraphUpdater {
  readonly #docs: () => Promise<DocStore>;
  readonly #graph: ConceptGraph;
  readonly #queue: JobQueue;

  constructor(docs: () => Promise<DocStore>, graph: ConceptGraph, queue: JobQueue) {
    this.#docs = docs;
    this.#graph = graph;
    this.#queue = queue;
  }

  enqueue(docId: string): void {
    // After the search index (priority 10): keyword search matters more than the graph on a cold start.
    this.#queue.enqueue(GRAPH_SHARD_JOB, docId, { docId }, { priority: 20 });
  }

  /**
   * Enqueues the documents the graph has no state for: all of them after the graph was (re)created,
   * new shards otherwise. Documents the graph already reflects are not loaded, which keeps a cold start
   * cheap: with `enqueue` wired to the store's change events, every later change reaches the queue,
   * which persists the job synchronously as the change is made, before it is flushed, so a crash
   * cannot lose it. A document changed while nothing listened (an
   * app version without the graph) is not caught here; `reconcile(ids, { all: true })` is for that,
   * and costs a document load per shard but little else, since unchanged heads end a run early.
   */
  async reconcile(docIds: readonly string[], opts: { all?: boolean } = {}): Promise<number> {
    const known = opts.all ? new Set<string>() : await this.#graph.knownShards();
    let stale = 0;
    for (const docId of docIds) {
      if (known.has(docId)) continue;
      this.enqueue(docId);
      stale++;
    }
    return stale;
  }

  async run(job: Job): Promise<GraphReport> {
    const { docId } = job.payload as { docId: DocumentId };
    const report: GraphReport = { docId, upserted: 0, deleted: 0, unchanged: 0, invalid: [] };
    const docs = await this.#docs();
    const any = await docs.repo.find<{ kind?: unknown }>(docId);
    // Recorded heads must never be ahead of what is on disk, or a crash could leave captures the documents lack.
    await docs.repo.flush([any.documentId]);
    if (any.doc().kind !== 'lva/captures') {
      // Recorded all the same, so reconcile does not enqueue it again on every start.
      await this.#graph.replaceCaptures(docId, [], [], { heads: A.getHeads(any.doc()) });
      return report;
    }
    const doc = (await docs.shard(docId)).doc();
    const heads = A.getHeads(doc);
    const before = await this.#graph.shardHeads(docId);
    if (before && sameHeads(before, heads)) return report;

    const stored = await this.#graph.signatures(docId);
    const live = new Set<string>();
    const upserts: GraphCapture[] = [];
    for (const [id, record] of shardRecords(doc)) {
      const parsed = fromRecord(record);
      if (!parsed.ok) {
        report.invalid.push({ id, error: parsed.error });
        continue;
      }
      if (parsed.capture.deletedAt !== undefined) continue;
      live.add(id);
      const { createdAt, concepts, relations } = parsed.capture;
      const capture: GraphCapture = { id, createdAt, concepts, relations };
      if (stored.get(id) === captureSignature(capture)) report.unchanged++;
      else upserts.push(capture);
    }
    // Whatever the graph holds for this shard that is not a live, valid capture any more goes.
    const deletes = [...stored.keys()].filter((id) => !live.has(id));
    const applied = await this.#graph.replaceCaptures(docId, upserts, deletes, { heads });
    report.upserted = applied.upserted;
    report.deleted = applied.deleted;
    return report;
  }
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}
