/** Progress of a slow model load (download, file reads, warm-up), for the UI and the CLI. */
export interface LoadProgress {
  readonly stage: 'download' | 'load' | 'ready';
  readonly file?: string;
  readonly loaded?: number;
  readonly total?: number;
}

export type ProgressListener = (progress: LoadProgress) => void;

/** Turns texts into vectors. Vectors are stored per `id`, so `id` changes whenever vectors would. */
export interface Embedder {
  /** Stable id, e.g. `use-lite-512`; used as the key of its stored vectors. */
  readonly id: string;
  /** Length of every vector `embed` returns. */
  readonly dimension: number;
  /** One unit-length vector per text, in input order. Batches of 64+ are much faster than single texts. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** A model that can be loaded on demand. Loading may fail (no weights, no network). */
export interface EmbedderSource {
  readonly id: string;
  readonly dimension: number;
  /** Loads the model; rejects with an EmbedderUnavailableError when it cannot be had. */
  load(onProgress?: ProgressListener): Promise<Embedder>;
}

/** The model cannot be loaded now; search falls back to keywords and embeddings wait. */
export class EmbedderUnavailableError extends Error {
  readonly code = 'EMBEDDER_UNAVAILABLE';
  readonly embedderId: string;
  constructor(embedderId: string, reason: string) {
    super(`embedding model ${embedderId} is unavailable: ${reason}`);
    this.embedderId = embedderId;
    this.name = 'EmbedderUnavailableError';
  }
}
