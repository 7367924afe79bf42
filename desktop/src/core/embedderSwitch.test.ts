import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Core, type CoreEvent } from './Core.ts';
import type { EmbedderSource } from './embed/Embedder.ts';
import { useEmbedderSource } from './embed/UseEmbedder.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-switch-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The same real model under another id: stands in for a second model, whose vectors must be kept apart. */
function renamed(id: string): EmbedderSource {
  const use = useEmbedderSource();
  return {
    id,
    dimension: use.dimension,
    load: async (onProgress) => {
      const e = await use.load(onProgress);
      return { id, dimension: e.dimension, embed: (texts) => e.embed(texts) };
    },
  };
}

describe('switching embedders', () => {
  it('re-embeds everything in the background with progress, keeping vectors per embedder', async () => {
    const texts = ['Octopuses have three hearts', 'The Rosetta Stone unlocked hieroglyphs', 'Sourdough needs a starter culture'];
    const first = await Core.open({ dataDir: dir, background: false });
    await first.captureMany(texts.map((text) => ({ text })));
    await first.drain();
    expect(first.stats().embedder).toMatchObject({ id: 'use-lite-512', embedded: 3, total: 3 });
    await first.close();

    const second = await Core.open({ dataDir: dir, background: false, embedder: renamed('use-renamed') });
    const events: CoreEvent[] = [];
    second.on((e) => events.push(e));
    await second.embeddings.load();
    const before = await second.search({ query: 'cephalopod anatomy' });
    expect(before.notice).toMatch(/3 of 3 captures are still being embedded/);
    expect(before.hits.some((h) => h.matched.includes('semantic'))).toBe(false);

    await second.drain();
    const progress = events.filter((e) => e.type === 'progress' && e.task === 'embed');
    expect(progress.at(-1)).toMatchObject({ done: 3, total: 3 });
    const after = await second.search({ query: 'cephalopod anatomy' });
    expect(after.notice).toBeUndefined();
    expect(after.hits[0]?.title).toBe('Octopuses have three hearts');
    expect(second.stats()).toMatchObject({ embedder: { id: 'use-renamed', embedded: 3 } });
    await second.close();

    // Switching back finds the original vectors still there: nothing to redo.
    const third = await Core.open({ dataDir: dir, background: false });
    expect(third.embeddings.coverage()).toEqual({ embedded: 3, total: 3 });
    await third.close();
  });
});
