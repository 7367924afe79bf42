import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FeatureExtractionPipeline, ProgressInfo } from '@huggingface/transformers';
import type { Embedder, EmbedderSource, LoadProgress, ProgressListener } from './Embedder.ts';
import { EmbedderUnavailableError } from './Embedder.ts';

export interface TransformersEmbedderOptions {
  /** Hugging Face model id of a sentence-embedding model with transformers.js ONNX weights. */
  readonly model?: string;
  /** Length of the model's vectors; checked when the model loads. */
  readonly dimension?: number;
  /** The app's `<data dir>/models`; models live in `<modelDir>/<org>/<name>/`, downloaded or copied there. */
  readonly modelDir: string;
  /** Whether missing files may be downloaded from `remoteHost`. */
  readonly allowRemote: boolean;
  readonly dtype?: 'q8' | 'fp32';
  /** Defaults to the Hugging Face Hub; a mirror, or a local fake hub in tests. */
  readonly remoteHost?: string;
  /** How long to wait for the host to start answering each request before giving up. */
  readonly fetchTimeoutMs?: number;
}

const DEFAULT_MODEL = 'Xenova/all-MiniLM-L6-v2';
const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
// Padding to the longest text makes very large batches wasteful; 64 matches the other embedder.
const BATCH_SIZE = 64;

export class TransformersEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  readonly #extractor: FeatureExtractionPipeline;

  constructor(id: string, dimension: number, extractor: FeatureExtractionPipeline) {
    this.id = id;
    this.dimension = dimension;
    this.#extractor = extractor;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += BATCH_SIZE) {
      const batch = texts.slice(start, start + BATCH_SIZE);
      const output = await this.#extractor(batch, { pooling: 'mean', normalize: true });
      try {
        const data: unknown = output.data;
        const dims: readonly number[] = output.dims;
        const width = dims.at(-1) ?? 0;
        if (!(data instanceof Float32Array) || dims.length !== 2 || dims[0] !== batch.length) {
          throw new Error(`${this.id} returned a tensor of shape [${dims.join(', ')}], not [${batch.length}, n] floats`);
        }
        for (let row = 0; row < batch.length; row++) vectors.push(data.slice(row * width, (row + 1) * width));
      } finally {
        output.dispose();
      }
    }
    return vectors;
  }
}

export function transformersEmbedderSource(options: TransformersEmbedderOptions): EmbedderSource {
  const model = options.model ?? DEFAULT_MODEL;
  const dtype = options.dtype ?? 'q8';
  const id = `hf:${model}:${dtype}`;
  const dimension = options.dimension ?? 384;
  const modelDir = path.resolve(options.modelDir);
  const plan: LoadPlan = { ...options, id, model, dtype, dimension, modelDir };
  const key = JSON.stringify([id, dimension, modelDir]);
  return {
    id,
    dimension,
    async load(onProgress?: ProgressListener): Promise<TransformersEmbedder> {
      const report = safeListener(onProgress);
      report({ stage: 'load' });
      let loading = loaded.get(key);
      if (!loading) {
        loading = loadInTurn(plan, report);
        loaded.set(key, loading);
        loading.catch(() => loaded.delete(key));
      }
      const embedder = await loading;
      report({ stage: 'ready' });
      return embedder;
    },
  };
}

// Loaded pipelines hold ONNX sessions of tens of MB; callers that ask for the same model share one.
const loaded = new Map<string, Promise<TransformersEmbedder>>();

// transformers.js keeps its settings in one global `env`, read while files load; loads take turns so ours cannot mix.
let envTurn: Promise<unknown> = Promise.resolve();

interface LoadPlan {
  readonly id: string;
  readonly model: string;
  readonly dtype: 'q8' | 'fp32';
  readonly dimension: number;
  readonly modelDir: string;
  readonly allowRemote: boolean;
  readonly remoteHost?: string;
  readonly fetchTimeoutMs?: number;
}

function loadInTurn(plan: LoadPlan, report: ProgressListener): Promise<TransformersEmbedder> {
  const turn = envTurn.then(() => load(plan, report));
  envTurn = turn.catch(() => undefined);
  return turn;
}

async function load(plan: LoadPlan, report: ProgressListener): Promise<TransformersEmbedder> {
  const { pipeline, env } = await import('@huggingface/transformers').catch((error: unknown) => {
    throw new EmbedderUnavailableError(plan.id, `the transformers.js runtime could not start (${firstLine(error)})`);
  });
  env.allowLocalModels = true;
  env.allowRemoteModels = plan.allowRemote;
  env.localModelPath = plan.modelDir;
  env.cacheDir = plan.modelDir;
  env.useFSCache = true;
  env.remoteHost = plan.remoteHost ?? 'https://huggingface.co/';
  env.fetch = fetchWithResponseTimeout(plan.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS);

  let extractor: FeatureExtractionPipeline;
  try {
    extractor = await pipeline('feature-extraction', plan.model, {
      dtype: plan.dtype,
      // Passed per call as well: transformers.js memoizes configs by these, not by env.localModelPath.
      cache_dir: plan.modelDir,
      local_files_only: !plan.allowRemote,
      progress_callback: progressMapper(plan, report),
    });
  } catch (error) {
    throw new EmbedderUnavailableError(plan.id, explainLoadFailure(plan, error));
  }

  const embedder = new TransformersEmbedder(plan.id, plan.dimension, extractor);
  const discard = (): Promise<void> => extractor.dispose().catch(() => undefined);
  // A model that loads may still not be a sentence encoder (e.g. a speech model); find out now, not mid-indexing.
  let width: number;
  try {
    width = (await embedder.embed(['warm-up']))[0]?.length ?? 0;
  } catch (error) {
    await discard();
    throw new EmbedderUnavailableError(
      plan.id,
      `${plan.model} loaded but cannot embed sentences (${firstLine(error)}); use a sentence-embedding model such as ${DEFAULT_MODEL}`,
    );
  }
  if (width !== plan.dimension) {
    await discard();
    throw new EmbedderUnavailableError(
      plan.id,
      `${plan.model} gives ${width}-dimensional vectors, not ${plan.dimension}; configure its dimension as ${width}`,
    );
  }
  return embedder;
}

/** transformers.js calls reading a local file a "download" too; the stage comes from whether the file was there. */
function progressMapper(plan: LoadPlan, report: ProgressListener): (info: ProgressInfo) => void {
  const wasLocal = new Map<string, boolean>();
  const stageOf = (file: string): LoadProgress['stage'] => {
    let local = wasLocal.get(file);
    if (local === undefined) {
      local = existsSync(path.join(plan.modelDir, plan.model, file));
      wasLocal.set(file, local);
    }
    return local ? 'load' : 'download';
  };
  return (info) => {
    switch (info.status) {
      case 'initiate':
      case 'download':
      case 'done':
        report({ stage: stageOf(info.file), file: info.file });
        break;
      case 'progress':
        report({ stage: stageOf(info.file), file: info.file, loaded: info.loaded, total: info.total });
        break;
      case 'progress_total': {
        // Its file list includes files that may never be fetched (e.g. generation_config.json), so only count started ones.
        const downloading = [...wasLocal.values()].some((local) => !local);
        report({ stage: downloading ? 'download' : 'load', loaded: info.loaded, total: info.total });
        break;
      }
      case 'ready':
        // Reported by us after the warm-up succeeds.
        break;
    }
  };
}

function explainLoadFailure(plan: LoadPlan, error: unknown): string {
  const dir = path.join(plan.modelDir, plan.model);
  const name = error instanceof Error ? error.name : '';
  if (name === 'ModelFileNotFoundError' && !plan.allowRemote) {
    const missing = /"([^"]+)"/.exec(firstLine(error))?.[1];
    const file = missing ? ` (missing ${path.relative(dir, missing)})` : '';
    return `model files not found in ${dir}${file}; connect to the internet once and allow model downloads, or copy the model there`;
  }
  if (name === 'ModelFileNotFoundError') {
    return `${plan.model} was found neither in ${dir} nor at ${plan.remoteHost ?? 'the Hugging Face Hub'}; check the model name`;
  }
  if (/access to file|while trying to load file/.test(firstLine(error))) {
    return `the model host refused it (${firstLine(error)}); check the model name, or copy the model into ${dir}`;
  }
  if (isNetworkFailure(error)) {
    return `it could not be downloaded (${networkReason(error)}); check the internet connection, or copy the model into ${dir}`;
  }
  return `the model files in ${dir} could not be used (${firstLine(error)}); delete that folder and download the model again, or copy a complete copy there`;
}

function isNetworkFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return true;
  return error instanceof TypeError && error.message === 'fetch failed';
}

function networkReason(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  return firstLine(cause instanceof Error ? cause : error);
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() ?? '';
}

/** Times out only until the response starts, so a slow download of a large file is not cut off. */
function fetchWithResponseTimeout(timeoutMs: number): (input: string | URL, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(new DOMException(`no answer from ${String(input)} within ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
    try {
      return await fetch(input, { ...init, signal });
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Progress is advisory: a failing listener must not make the model look unavailable. */
function safeListener(onProgress: ProgressListener | undefined): ProgressListener {
  return (progress) => {
    try {
      onProgress?.(progress);
    } catch {
      // Ignored on purpose; see above.
    }
  };
}
