import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it, expect } from 'vitest';
import type { LoadProgress } from './Embedder.ts';
import { useEmbedderSource } from './UseEmbedder.ts';

const run = promisify(execFile);

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((sum, x, i) => sum + x * (b[i] ?? 0), 0);
const norm = (v: Float32Array): number => Math.sqrt(dot(v, v));

function nearest(query: Float32Array, candidates: readonly Float32Array[]): number {
  let best = -1;
  let bestScore = -Infinity;
  candidates.forEach((candidate, i) => {
    const score = dot(query, candidate);
    if (score > bestScore) [best, bestScore] = [i, score];
  });
  return best;
}

// Each pair means the same thing but shares no word, so only meaning can match them.
// (USE lite missed 'I am famished' / 'My stomach needs food right now': rare words fare worse.)
const PARAPHRASES: readonly (readonly [string, string])[] = [
  ['The physician treated the patient', 'A doctor cared for someone who was sick'],
  ['The car would not start this morning', 'My automobile refused to turn on at dawn'],
  ['He bought a new house', 'That man purchased another home'],
  ['The meeting was cancelled', 'Our appointment got called off'],
  ['It is raining heavily outside', 'A downpour soaks the streets'],
  ['Children love playing football', 'Kids enjoy kicking a soccer ball around'],
  ['The stock market crashed yesterday', 'Share prices plunged sharply on Monday'],
];

describe('UseEmbedder', () => {
  it('loads once per process, reporting load then ready each time', async () => {
    const first: LoadProgress[] = [];
    const second: LoadProgress[] = [];
    const a = await useEmbedderSource().load((p) => first.push(p));
    const b = await useEmbedderSource().load((p) => second.push(p));
    expect(b).toBe(a);
    expect(first.map((p) => p.stage)).toEqual(['load', 'ready']);
    expect(second.map((p) => p.stage)).toEqual(['load', 'ready']);
    expect(a.id).toBe('use-lite-512');
    expect(a.dimension).toBe(512);
  });

  it('returns 512-long unit vectors, and [] for []', async () => {
    const embedder = await useEmbedderSource().load();
    const vectors = await embedder.embed(['Learning out loud helps memory.', 'Photosynthesis turns light into sugar.']);
    expect(vectors).toHaveLength(2);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(512);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    expect(await embedder.embed([])).toEqual([]);
  });

  it('embeds empty and whitespace-only texts without crashing', async () => {
    const embedder = await useEmbedderSource().load();
    for (const texts of [[''], ['', '   ', '\n\t'], ['', 'not empty']]) {
      const vectors = await embedder.embed(texts);
      expect(vectors).toHaveLength(texts.length);
      for (const v of vectors) expect(norm(v)).toBeCloseTo(1, 5);
    }
  });

  it('gives the same vectors in input order whatever the batch size', async () => {
    const embedder = await useEmbedderSource().load();
    // 70 texts cross the internal batch boundary of 64.
    const texts = Array.from({ length: 70 }, (_, i) => `Note ${i}: ${i % 2 ? 'rivers carry sediment to the sea' : 'prime numbers have two divisors'} (${'x'.repeat(i % 7)})`);
    const together = await embedder.embed(texts);
    const inFives: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += 5) inFives.push(...(await embedder.embed(texts.slice(i, i + 5))));
    const alone = [await embedder.embed([texts[0] ?? '']), await embedder.embed([texts[69] ?? ''])].flat();
    expect(together).toHaveLength(70);
    expect(inFives).toHaveLength(70);
    together.forEach((v, i) => {
      const w = inFives[i] ?? new Float32Array();
      expect(Math.max(...v.map((x, j) => Math.abs(x - (w[j] ?? NaN))))).toBeLessThan(1e-5);
    });
    expect(dot(together[0] ?? new Float32Array(), alone[0] ?? new Float32Array())).toBeGreaterThan(1 - 1e-5);
    expect(dot(together[69] ?? new Float32Array(), alone[1] ?? new Float32Array())).toBeGreaterThan(1 - 1e-5);
  });

  it('matches paraphrases that share no words', async () => {
    const embedder = await useEmbedderSource().load();
    const left = await embedder.embed(PARAPHRASES.map(([a]) => a));
    const right = await embedder.embed(PARAPHRASES.map(([, b]) => b));
    expect(left.map((v) => nearest(v, right))).toEqual(PARAPHRASES.map((_, i) => i));
    expect(right.map((v) => nearest(v, left))).toEqual(PARAPHRASES.map((_, i) => i));
  });

  it('prints nothing to stdout and leaves no process-wide error listeners behind', async () => {
    const script = `
      const { useEmbedderSource } = await import(${JSON.stringify(new URL('./UseEmbedder.ts', import.meta.url).href)});
      const embedder = await useEmbedderSource().load();
      await embedder.embed(['hello']);
      process.stderr.write('LISTENERS ' + JSON.stringify([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')]) + '\\n');
    `;
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script]);
    expect(stdout).toBe('');
    expect(stderr).toContain('LISTENERS [0,0]');
  });
});
