import type { EmbedderSource } from './Embedder.ts';
import { transformersEmbedderSource } from './TransformersEmbedder.ts';
import { useEmbedderSource } from './UseEmbedder.ts';

export interface EmbedderSourceOptions {
  readonly modelDir: string;
  readonly allowRemote: boolean;
}

// A source must state its dimension before loading, so well-known models are listed; others take a `:<dimension>`.
const KNOWN_DIMENSIONS: Readonly<Record<string, number>> = {
  'Xenova/all-MiniLM-L6-v2': 384,
  'Xenova/all-MiniLM-L12-v2': 384,
  'Xenova/paraphrase-multilingual-MiniLM-L12-v2': 384,
  'Xenova/bge-small-en-v1.5': 384,
  'Xenova/bge-base-en-v1.5': 768,
  'Xenova/bge-large-en-v1.5': 1024,
  'Xenova/gte-small': 384,
  'Xenova/gte-base': 768,
  'Xenova/all-mpnet-base-v2': 768,
  'Xenova/multilingual-e5-small': 384,
};

const HF_NAME = /^hf:([\w.-]+\/[\w.-]+)(?::(\d{1,5}))?$/;

/** `use` (the built-in default) or `hf:<org>/<model>[:<dimension>]`, e.g. from `--embedder` or settings. */
export function resolveEmbedderSource(name: string, opts: EmbedderSourceOptions): EmbedderSource {
  if (name === 'use') return useEmbedderSource();
  const match = HF_NAME.exec(name);
  const model = match?.[1];
  if (model) {
    const dimension = match[2] ? Number(match[2]) : (KNOWN_DIMENSIONS[model] ?? 384);
    if (dimension > 0) return transformersEmbedderSource({ model, dimension, modelDir: opts.modelDir, allowRemote: opts.allowRemote });
  }
  throw new Error(
    `unknown embedding model "${name}": use "use" (built-in, offline) or "hf:<org>/<model>[:<dimension>]" (e.g. hf:Xenova/all-MiniLM-L6-v2)`,
  );
}
