import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Core, type CoreEvent } from '../Core.ts';
import { SearchIndex } from './SearchIndex.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-damage-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Garbles the back of the file, where rows, FTS segments and vectors live (the schema and the small meta
 * table were written first, so they sit at the front), leaving the size intact.
 */
function garbleBody(file: string): void {
  const bytes = fs.readFileSync(file);
  for (let i = Math.floor(bytes.length * 0.4); i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  fs.writeFileSync(file, bytes);
}

describe('damage the open-time checks cannot see', () => {
  it('is found by the index check, which rebuilds it while search keeps answering', async () => {
    const texts = Array.from({ length: 30 }, (_, i) => `Note ${i} about tidal forces and the moon, plus zebra${i} stripes`);
    const first = await Core.open({ dataDir: dir, background: false });
    await first.captureMany(texts.map((text) => ({ text })));
    await first.drain();
    const before = await first.search({ query: 'zebra7', now: 0 });
    await first.close();
    expect(before.hits[0]?.title).toBe(texts[7]);

    const file = path.join(dir, 'index.sqlite');
    garbleBody(file);
    const probe = SearchIndex.open(file);
    expect(probe.status).toEqual({ kind: 'opened' });
    expect(probe.check()).toBeTruthy();
    probe.close();

    const core = await Core.open({ dataDir: dir, background: false });
    const notices: string[] = [];
    core.on((e: CoreEvent) => {
      if (e.type === 'notice') notices.push(e.message);
    });
    expect(core.indexStatus.kind).toBe('opened');
    expect(core.checkIndex()).toBeTruthy();
    expect(notices.join('\n')).toMatch(/damaged.*rebuilding/);
    await core.catchUpIndex();
    const after = await core.search({ query: 'zebra7', now: 0 });
    expect(after.hits[0]?.title).toBe(texts[7]);
    await core.drain();
    expect(core.checkIndex()).toBeUndefined();
    expect(core.stats()).toMatchObject({ captures: 30, embedder: { embedded: 30, total: 30 } });
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('index.sqlite.broken-') && !f.includes('-wal') && !f.includes('-shm'))).toHaveLength(1);
    await core.close();
  });
});
