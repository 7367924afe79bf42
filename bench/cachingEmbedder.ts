/**
 * For scale runs, vectors may be reused: this source stands in for USE while a 100k data dir is built.
 * Each capture is registered with the base sentence it was generated from; `embed` returns that
 * sentence's real USE vector. Any other text (a query, an unregistered capture) goes to the real model.
 * Same id and dimension as USE, so the stored vectors are exactly where the app looks for them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Embedder, EmbedderSource, ProgressListener } from '../desktop/src/core/embed/Embedder.ts';
import { useEmbedderSource } from '../desktop/src/core/embed/UseEmbedder.ts';

export const USE_ID = 'use-lite-512';
export const USE_DIMENSION = 512;

function key(text: string): string {
  return crypto.createHash('sha1').update(text).digest('base64url');
}

export class CachingEmbedderSource implements EmbedderSource {
  readonly id = USE_ID;
  readonly dimension = USE_DIMENSION;
  readonly #real: EmbedderSource;
  readonly #baseVectors: readonly Float32Array[];
  readonly #byInput = new Map<string, number>();
  hits = 0;
  misses = 0;

  constructor(baseVectors: readonly Float32Array[], real: EmbedderSource = useEmbedderSource()) {
    this.#baseVectors = baseVectors;
    this.#real = real;
  }

  /** `input` is exactly what the index will ask to embed (see embeddingInput in SearchIndex.ts). */
  register(input: string, base: number): void {
    if (!this.#baseVectors[base]) throw new Error(`no base vector ${base}`);
    this.#byInput.set(key(input), base);
  }

  load(onProgress?: ProgressListener): Promise<Embedder> {
    onProgress?.({ stage: 'ready' });
    let real: Promise<Embedder> | undefined;
    const embedder: Embedder = {
      id: this.id,
      dimension: this.dimension,
      embed: async (texts) => {
        const out: (Float32Array | undefined)[] = texts.map((t) => {
          const base = this.#byInput.get(key(t));
          return base === undefined ? undefined : this.#baseVectors[base];
        });
        const unknown = texts.flatMap((t, i) => (out[i] ? [] : [{ t, i }]));
        this.hits += texts.length - unknown.length;
        this.misses += unknown.length;
        if (unknown.length > 0) {
          real ??= this.#real.load();
          const vectors = await (await real).embed(unknown.map((u) => u.t));
          unknown.forEach((u, j) => (out[u.i] = vectors[j]));
        }
        return out as Float32Array[];
      },
    };
    return Promise.resolve(embedder);
  }
}

/** The real USE vectors of the base sentences, cached on disk next to the results (keyed by the sentences). */
export async function loadBaseVectors(sentences: readonly string[], cacheDir: string, log: (msg: string) => void): Promise<Float32Array[]> {
  const hash = crypto.createHash('sha1').update(sentences.join('\n')).digest('hex').slice(0, 16);
  const file = path.join(cacheDir, `base-vectors-${USE_ID}-${hash}.f32`);
  if (fs.existsSync(file)) {
    const buf = fs.readFileSync(file);
    if (buf.byteLength === sentences.length * USE_DIMENSION * 4) {
      const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      return sentences.map((_, i) => all.slice(i * USE_DIMENSION, (i + 1) * USE_DIMENSION));
    }
  }
  log(`embedding ${sentences.length} base sentences with USE (once; cached in ${path.relative(process.cwd(), file)})`);
  const t0 = performance.now();
  const embedder = await useEmbedderSource().load();
  const vectors = await embedder.embed(sentences);
  log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  fs.mkdirSync(cacheDir, { recursive: true });
  const all = new Float32Array(sentences.length * USE_DIMENSION);
  vectors.forEach((v, i) => all.set(v, i * USE_DIMENSION));
  fs.writeFileSync(`${file}.tmp`, Buffer.from(all.buffer));
  fs.renameSync(`${file}.tmp`, file);
  return vectors;
}
