import { EmbedderUnavailableError, type Embedder, type EmbedderSource, type LoadProgress } from '../embed/Embedder.ts';
import type { Job, JobQueue } from '../jobs/JobQueue.ts';
import { JobWaitError } from '../jobs/JobRunner.ts';
import { embeddingInput, type BacklogItem, type SearchIndex } from './SearchIndex.ts';

export const EMBED_JOB = 'embed';

/** Batches of 64: the encoder's throughput flattens out there. Its cost grows with text length: ~115 texts/s at 50 characters, ~12/s at 800. */
const BATCH = 64;

/**
 * A batch runs on the core's event loop and blocks searches until it ends. The encoder handles ~8k
 * characters a second here, so batches are cut at ~4k characters (about half a second) however many
 * texts that is; short captures still get the full batch of 64 that the encoder is fastest with.
 */
const BATCH_CHARS = 4000;

function cutBatch(items: readonly BacklogItem[]): { item: BacklogItem; input: string; rowid: number }[] {
  const out: { item: BacklogItem; input: string; rowid: number }[] = [];
  let chars = 0;
  for (const item of items) {
    const input = embeddingInput(item.title, item.text);
    if (out.length > 0 && chars + input.length > BATCH_CHARS) break;
    out.push({ item, input, rowid: item.rowid });
    chars += input.length;
  }
  return out;
}

export type EmbedderStatus =
  | { state: 'loading' }
  | { state: 'ready'; embedderId: string }
  | { state: 'unavailable'; embedderId: string; reason: string };

export interface EmbeddingProgress {
  embedderId: string;
  embedded: number;
  total: number;
}

/**
 * Owns the active embedder and the embedding backlog. The backlog is derived from the index (captures
 * whose vector is missing or stale), so one job per embedder drains it and nothing is lost if the
 * model is missing for a while: the job waits and catches up once the model loads.
 */
export class EmbeddingService {
  #index: SearchIndex;
  readonly #queue: JobQueue;
  readonly #source: EmbedderSource;
  #embedder: Promise<Embedder> | undefined;
  #status: EmbedderStatus = { state: 'loading' };
  #loadedDimension = 0;
  #coverage: { embedded: number; total: number } | undefined;
  readonly #progress = new Set<(p: EmbeddingProgress) => void>();
  readonly #loadProgress = new Set<(p: LoadProgress) => void>();

  constructor(index: SearchIndex, queue: JobQueue, source: EmbedderSource) {
    this.#index = index;
    this.#queue = queue;
    this.#source = source;
  }

  /** After a rebuild the index is a new file; the loaded model stays. */
  rebind(index: SearchIndex): void {
    this.#index = index;
    this.#coverage = undefined;
    if (this.#status.state === 'ready') index.ensureEmbedder(this.#status.embedderId, this.#loadedDimension);
  }

  get embedderId(): string {
    return this.#source.id;
  }

  get status(): EmbedderStatus {
    return this.#status;
  }

  onProgress(listener: (p: EmbeddingProgress) => void): () => void {
    this.#progress.add(listener);
    return () => this.#progress.delete(listener);
  }

  onLoadProgress(listener: (p: LoadProgress) => void): () => void {
    this.#loadProgress.add(listener);
    return () => this.#loadProgress.delete(listener);
  }

  /** Loads the model once; a failed load is retried on the next call, since the model may have arrived since. */
  load(): Promise<Embedder> {
    if (!this.#embedder) {
      this.#status = { state: 'loading' };
      const loading = this.#source.load((p) => {
        for (const l of this.#loadProgress) l(p);
      });
      this.#embedder = loading.then(
        (embedder) => {
          this.#index.ensureEmbedder(embedder.id, embedder.dimension);
          this.#loadedDimension = embedder.dimension;
          this.#status = { state: 'ready', embedderId: embedder.id };
          return embedder;
        },
        (err: unknown) => {
          this.#embedder = undefined;
          const reason = err instanceof Error ? err.message : String(err);
          this.#status = { state: 'unavailable', embedderId: this.#source.id, reason };
          throw err instanceof EmbedderUnavailableError ? err : new EmbedderUnavailableError(this.#source.id, reason);
        },
      );
    }
    return this.#embedder;
  }

  /** The loaded embedder, or undefined without waiting: search must not stall on a model load. */
  ready(): Promise<Embedder> | undefined {
    return this.#status.state === 'ready' ? this.#embedder : undefined;
  }

  enqueue(): void {
    this.#queue.enqueue(EMBED_JOB, this.#source.id, { embedderId: this.#source.id }, { priority: 50, maxAttempts: 20 });
  }

  /** Cached: counting takes ~35 ms at 100k captures and every search asks. */
  coverage(): { embedded: number; total: number } {
    this.#coverage ??= this.#index.hasEmbedder(this.#source.id) ? this.#index.embeddingCoverage(this.#source.id) : { embedded: 0, total: this.#index.count() };
    return this.#coverage;
  }

  /** The index changed (captures added, edited or removed): counts must be taken again. */
  invalidate(): void {
    this.#coverage = undefined;
  }

  async run(_job: Job): Promise<void> {
    let embedder: Embedder;
    try {
      embedder = await this.load();
    } catch (err) {
      throw new JobWaitError(`${err instanceof Error ? err.message : String(err)}; search is keyword-only until it loads`, 60_000);
    }
    this.#coverage = undefined;
    const { total } = this.coverage();
    let { embedded } = this.coverage();
    // Captures edited behind the cursor re-enqueue this job through the index, so one pass suffices.
    let cursor = 0;
    for (;;) {
      const batch = cutBatch(this.#index.embeddingBacklog(embedder.id, BATCH, cursor));
      if (batch.length === 0) break;
      cursor = batch.at(-1)!.rowid;
      const vectors = await embedder.embed(batch.map((b) => b.input));
      const stored = this.#index.storeVectors(
        embedder.id,
        batch.map(({ item }, i) => ({ item, vector: vectors[i]! })),
      );
      // A stale vector being replaced was already counted; the count is retaken when the backlog is done.
      embedded = Math.min(total, embedded + stored);
      this.#coverage = { embedded, total };
      for (const l of this.#progress) l({ embedderId: embedder.id, embedded, total });
      // Let searches in between: a backlog of 100k takes minutes.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.#coverage = undefined;
  }
}
