import { describe, it, expect } from 'vitest';
import { resolveEmbedderSource } from './embedderSources.ts';

const opts = { modelDir: '/data/models', allowRemote: false };

describe('resolveEmbedderSource', () => {
  it('"use" is the built-in Universal Sentence Encoder', () => {
    const source = resolveEmbedderSource('use', opts);
    expect(source.id).toBe('use-lite-512');
    expect(source.dimension).toBe(512);
  });

  it('"hf:<org>/<model>" is a transformers.js model, with its known dimension', () => {
    const small = resolveEmbedderSource('hf:Xenova/bge-small-en-v1.5', opts);
    expect(small.id).toBe('hf:Xenova/bge-small-en-v1.5:q8');
    expect(small.dimension).toBe(384);
    expect(resolveEmbedderSource('hf:Xenova/bge-base-en-v1.5', opts).dimension).toBe(768);
    expect(resolveEmbedderSource('hf:someone/custom-encoder:1024', opts).dimension).toBe(1024);
  });

  it('rejects anything else with one line listing the valid forms', () => {
    for (const name of ['', 'USE', 'minilm', 'hf:', 'hf:no-org', 'hf:a/b/c', 'hf:Xenova/x:0', 'hf:Xenova/x:big']) {
      expect(() => resolveEmbedderSource(name, opts)).toThrow(/^unknown embedding model ".*": use "use" .* or "hf:<org>\/<model>\[:<dimension>\]"/);
    }
    expect(() => resolveEmbedderSource('minilm', opts)).toThrow(/^[^\n]+$/);
  });
});
