import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureSource, NewCapture } from '@lva/shared';
import { Core, type CoreEvent } from '../Core.ts';
import { EmbedderUnavailableError, type EmbedderSource } from '../embed/Embedder.ts';
import type { SearchQuery, SearchResult } from '../search/HybridSearch.ts';

const DAY = 86_400_000;
/** The reference time of every search, so recency (and so every score) is the same in every run. */
const NOW = Date.UTC(2025, 6, 1);

type Seed = [daysAgo: number, source: CaptureSource, tags: string[], text: string];

// Seven topics, five sources, spread over eighteen months (so over many monthly shards).
const SEEDS: Seed[] = [
  [3, 'voice', ['biology'], 'Photosynthesis turns sunlight, water and carbon dioxide into glucose and oxygen inside the chloroplast.'],
  [40, 'text', ['biology'], 'Chlorophyll absorbs red and blue light and reflects green, which is why leaves look green.'],
  [95, 'document', ['biology', 'exam'], 'The Calvin cycle fixes carbon in the stroma; it needs ATP and NADPH from the light reactions.'],
  [200, 'phone', ['biology'], 'Mitochondria are where cells burn glucose for energy, the reverse of what the chloroplast does.'],
  [330, 'voice', ['biology'], 'Osmosis moves water across a membrane toward the side with more dissolved salt.'],
  [410, 'text', ['biology', 'genetics'], 'DNA replication is semi-conservative: each new double helix keeps one old strand.'],
  [7, 'voice', ['music', 'guitar'], 'Practised the G, C and D chords on guitar today; the switch from C to G is still slow.'],
  [60, 'text', ['music', 'guitar'], 'Barre chords hurt the index finger at first; press near the fret, not in the middle.'],
  [120, 'phone', ['music'], 'A major scale is whole, whole, half, whole, whole, whole, half steps.'],
  [250, 'voice', ['music', 'piano'], 'On the piano the left hand plays the bass line while the right hand carries the melody.'],
  [380, 'text', ['music'], 'Syncopation puts the accent on the off-beat, which is what makes funk feel so groovy.'],
  [15, 'voice', ['cooking'], 'Sourdough bread\nNeeds a lively starter fed with rye flour the night before baking.'],
  [80, 'text', ['cooking'], 'Knead the dough until it passes the windowpane test, then let it proof for two hours.'],
  [150, 'phone', ['cooking', 'recipe'], 'Risotto: toast the arborio rice, add warm stock a ladle at a time and keep stirring.'],
  [300, 'voice', ['cooking'], 'Caramelising onions takes forty minutes on low heat; rushing them only burns the sugar.'],
  [470, 'image', ['cooking', 'recipe'], 'Photo of grandma’s apple pie recipe card: cinnamon, butter, a lattice crust.'],
  [20, 'text', ['programming', 'rust'], 'Rust ownership: every value has one owner, and the borrow checker rejects dangling references.'],
  [70, 'text', ['programming', 'rust'], 'Lifetimes in Rust tell the compiler how long a reference stays valid.'],
  [130, 'document', ['programming', 'typescript'], 'TypeScript generics let a function keep the type of its argument instead of widening it to unknown.'],
  [220, 'voice', ['programming'], 'A hash map gives constant time lookups on average, but iteration order is not guaranteed.'],
  [360, 'text', ['programming', 'sql'], 'SQLite full text search uses an inverted index; bm25 ranks the matching documents.'],
  [500, 'phone', ['programming'], 'Recursion needs a base case, or the call stack overflows.'],
  [10, 'document', ['history', 'rome'], 'Augustus became the first Roman emperor in 27 BC after the fall of the republic.'],
  [85, 'voice', ['history', 'rome'], 'The Roman aqueducts carried water into the city for hundreds of kilometres using only gravity.'],
  [175, 'text', ['history', 'rome'], 'Julius Caesar crossed the Rubicon in 49 BC and started a civil war against the senate.'],
  [260, 'document', ['history'], 'The printing press of Gutenberg made books cheap and spread literacy across Europe.'],
  [420, 'voice', ['history'], 'The Industrial Revolution began in Britain with steam engines and textile mills.'],
  [5, 'text', ['astronomy'], 'Stars form when clouds of gas and dust collapse under gravity until fusion ignites.'],
  [55, 'voice', ['astronomy'], 'A light year is the distance light travels in a year, about 9.46 trillion kilometres.'],
  [140, 'image', ['astronomy'], 'Telescope photo of the Orion nebula, a stellar nursery where new suns are born.'],
  [280, 'phone', ['astronomy'], 'Black holes bend space so much that not even light escapes past the event horizon.'],
  [440, 'text', ['astronomy'], 'The moon has phases because we see different parts of its sunlit half as it orbits.'],
  [25, 'voice', ['spanish'], 'Spanish: ser is for permanent traits and estar for states and locations.'],
  [110, 'text', ['spanish'], 'Vocabulary: la biblioteca is the library, la librería is the bookshop.'],
  [190, 'phone', ['spanish'], 'The preterite is for finished actions, the imperfect for ongoing ones in the past.'],
  [340, 'voice', ['spanish', 'exam'], 'Practised ordering food in Spanish: quisiera una mesa para dos, por favor.'],
  [1, 'text', [], 'Remember to water the tomato plants and buy more potting soil.'],
  [33, 'voice', [], 'Idea: a study timer that asks me to explain the topic out loud after each session.'],
  [230, 'text', ['exam'], 'Exam schedule: biology on Monday, history on Wednesday, Spanish oral on Friday.'],
  [520, 'document', [], 'Notes from the lecture on memory: spaced repetition beats cramming for long term recall.'],
];

const QUERIES: SearchQuery[] = [
  { query: 'photosynthesis chlorophyll', now: NOW },
  { query: 'guitar chords', now: NOW, filters: { tags: ['music'] } },
  { query: 'how do stars form', now: NOW, limit: 15 },
  { query: 'bread dough', now: NOW, filters: { sources: ['voice', 'text'] } },
  { query: 'rust ownership borrow', now: NOW },
  { query: 'roman emperor', now: NOW, filters: { from: NOW - 200 * DAY, to: NOW } },
  { query: 'exam', now: NOW, limit: 20 },
];

interface Snapshot {
  query: string;
  mode: SearchResult['mode'];
  ids: string[];
  scores: number[];
}

function seedCaptures(): NewCapture[] {
  return SEEDS.map(([daysAgo, source, tags, text], i) => ({
    text,
    source,
    tags,
    // A few minutes apart within the day, so no two captures share a creation time.
    createdAt: NOW - daysAgo * DAY + i * 60_000,
  }));
}

async function snapshot(core: Core): Promise<Snapshot[]> {
  const out: Snapshot[] = [];
  for (const q of QUERIES) {
    const result = await core.search(q, { waitForModel: true });
    out.push({ query: q.query, mode: result.mode, ids: result.hits.map((h) => h.id), scores: result.hits.map((h) => h.score) });
  }
  return out;
}

function expectSameResults(actual: Snapshot[], expected: Snapshot[]): void {
  expect(actual.map((s) => s.query)).toEqual(expected.map((s) => s.query));
  actual.forEach((a, i) => {
    const e = expected[i]!;
    expect(a.mode, a.query).toBe(e.mode);
    expect(a.ids, a.query).toEqual(e.ids);
    a.scores.forEach((score, j) => {
      expect(Math.abs(score - e.scores[j]!), `${a.query} #${j}`).toBeLessThan(1e-6);
    });
  });
}

function indexFiles(dir: string): string[] {
  return ['', '-wal', '-shm'].map((s) => path.join(dir, `index.sqlite${s}`));
}

describe('the search index is derived: rebuilt from the documents it gives the same results', () => {
  const tmp: string[] = [];
  const open: Core[] = [];
  let master = '';
  let baseline: Snapshot[] = [];
  let ids: string[] = [];

  function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-rebuild-'));
    tmp.push(dir);
    return dir;
  }

  async function openCore(dir: string, embedder?: EmbedderSource): Promise<Core> {
    const core = await Core.open({ dataDir: dir, background: false, deviceName: 'test', ...(embedder ? { embedder } : {}) });
    open.push(core);
    return core;
  }

  /** A copy of the prepared data dir (closed, so consistent), for a test to damage as it likes. */
  function copyOfMaster(): string {
    const dir = path.join(tempDir(), 'data');
    fs.cpSync(master, dir, { recursive: true });
    return dir;
  }

  beforeAll(async () => {
    master = path.join(tempDir(), 'data');
    const core = await openCore(master);
    const captures = await core.captureMany(seedCaptures());
    ids = captures.map((c) => c.id);
    await core.drain();
    const stats = core.stats();
    expect(stats.captures).toBe(SEEDS.length);
    expect(stats.embedder.embedded).toBe(SEEDS.length);
    expect(stats.shards).toBeGreaterThan(5);
    baseline = await snapshot(core);
    await core.close();
  });

  afterEach(async () => {
    for (const core of open.splice(0)) await core.close();
  });

  afterAll(() => {
    for (const dir of tmp.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the baseline searches are hybrid and find what they should', () => {
    for (const s of baseline) {
      expect(s.mode, s.query).toBe('hybrid');
      expect(s.ids.length, s.query).toBeGreaterThan(0);
    }
    const top = (query: string): number => ids.indexOf(baseline.find((s) => s.query === query)!.ids[0]!);
    expect(SEEDS[top('photosynthesis chlorophyll')]![3]).toMatch(/Photosynthesis|Chlorophyll/);
    expect(SEEDS[top('rust ownership borrow')]![3]).toMatch(/Rust ownership/);
    expect(SEEDS[top('roman emperor')]![3]).toMatch(/Augustus/);
    // Filters hold: only music-tagged hits, only voice/text hits, only captures in the date range.
    const byId = new Map(ids.map((id, i) => [id, SEEDS[i]!]));
    for (const id of baseline.find((s) => s.query === 'guitar chords')!.ids) expect(byId.get(id)![2]).toContain('music');
    for (const id of baseline.find((s) => s.query === 'bread dough')!.ids) expect(['voice', 'text']).toContain(byId.get(id)![1]);
    for (const id of baseline.find((s) => s.query === 'roman emperor')!.ids) expect(byId.get(id)![0]).toBeLessThanOrEqual(200);
  });

  it('(a) a deleted index file is rebuilt from the documents with identical results', async () => {
    const dir = copyOfMaster();
    for (const f of indexFiles(dir)) fs.rmSync(f, { force: true });

    const core = await openCore(dir);
    expect(core.indexStatus.kind).toBe('created');
    await core.drain();
    expect(core.stats().captures).toBe(SEEDS.length);
    expectSameResults(await snapshot(core), baseline);
  });

  it('an intact index is reused as it is on reopen', async () => {
    const dir = copyOfMaster();
    const core = await openCore(dir);
    expect(core.indexStatus.kind).toBe('opened');
    // Nothing to re-index: the index is current.
    expect(core.jobs({ state: 'pending', kind: 'index-shard' })).toEqual([]);
    await core.drain();
    expectSameResults(await snapshot(core), baseline);
  });

  it('(b) an index file overwritten with garbage is detected and rebuilt with identical results', async () => {
    const dir = copyOfMaster();
    const file = path.join(dir, 'index.sqlite');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, crypto.randomBytes(4096), 0, 4096, 0);
    fs.closeSync(fd);

    const core = await openCore(dir);
    expect(core.indexStatus.kind).toBe('created');
    expect(core.indexStatus.kind === 'created' && core.indexStatus.reason).toMatch(/unreadable.*rebuilding/);
    await core.drain();
    expect(core.stats().captures).toBe(SEEDS.length);
    expectSameResults(await snapshot(core), baseline);
  });

  it('(b) an index file cut to half its size is detected and rebuilt with identical results', async () => {
    const dir = copyOfMaster();
    const file = path.join(dir, 'index.sqlite');
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(8192);
    fs.truncateSync(file, Math.floor(size / 2));

    const core = await openCore(dir);
    expect(core.indexStatus.kind).toBe('created');
    expect(core.indexStatus.kind === 'created' && core.indexStatus.reason).toMatch(/unreadable/);
    await core.drain();
    expectSameResults(await snapshot(core), baseline);
  });

  it('(c) reindex() while open rebuilds with identical results and reports index progress', async () => {
    const dir = copyOfMaster();
    const core = await openCore(dir);
    await core.drain();
    const events: CoreEvent[] = [];
    core.on((e) => events.push(e));

    await core.reindex();

    const progress = events.filter((e): e is Extract<CoreEvent, { type: 'progress' }> => e.type === 'progress' && e.task === 'index');
    // Every document is read once: the capture shards and the account document.
    const documents = core.stats().shards + 1;
    expect(progress.length).toBe(documents);
    expect(progress.at(-1)).toMatchObject({ done: documents, total: documents });
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: documents }, (_, i) => i + 1));
    expect(core.stats().captures).toBe(SEEDS.length);
    expect(core.stats().embedder.embedded).toBe(SEEDS.length);
    expectSameResults(await snapshot(core), baseline);
  });

  it('(d) the index follows edits and deletes, and a rebuild agrees with it', async () => {
    const dir = copyOfMaster();
    const core = await openCore(dir);
    await core.drain();
    const idOf = (needle: string): string => ids[SEEDS.findIndex((s) => s[3].includes(needle))]!;
    const sourdough = idOf('Sourdough');
    const caesar = idOf('Rubicon');

    const keywordHit = async (query: string, id: string): Promise<boolean> => {
      const r = await core.search({ query, now: NOW, limit: 50 }, { waitForModel: true });
      return r.hits.some((h) => h.id === id && h.matched.includes('keyword'));
    };
    const anyHit = async (query: string, id: string): Promise<boolean> => {
      const r = await core.search({ query, now: NOW, limit: 200 }, { waitForModel: true });
      return r.hits.some((h) => h.id === id);
    };

    expect(await keywordHit('rye', sourdough)).toBe(true);
    expect(await keywordHit('spelt', sourdough)).toBe(false);

    await core.edit(sourdough, { text: 'Sourdough bread\nNeeds a lively starter fed with spelt flour the night before baking.' });
    await core.drain();
    expect(await keywordHit('rye', sourdough)).toBe(false);
    expect(await keywordHit('spelt', sourdough)).toBe(true);
    const edited = await core.get(sourdough);
    expect(edited?.text).toContain('spelt');
    expect(edited?.local).toEqual({ indexed: true, embedded: true });
    expect(core.stats().embedder.embedded).toBe(SEEDS.length);

    await core.edit(caesar, { tags: ['history', 'rome', 'civilwar'] });
    await core.drain();
    expect(core.list({ filters: { tags: ['civilwar'] } }).map((c) => c.id)).toEqual([caesar]);

    expect(await anyHit('Rubicon', caesar)).toBe(true);
    await core.delete(caesar);
    await core.drain();
    expect(await anyHit('Rubicon', caesar)).toBe(false);
    expect(await anyHit('Julius Caesar civil war senate', caesar)).toBe(false);
    expect(await core.get(caesar)).toBeUndefined();
    expect(core.list({ limit: 100 }).map((c) => c.id)).not.toContain(caesar);
    expect(core.list({ filters: { tags: ['civilwar'] } })).toEqual([]);
    expect(core.stats().captures).toBe(SEEDS.length - 1);

    // The edits live in the documents, so a rebuilt index has them too.
    const before = await snapshot(core);
    await core.reindex();
    expectSameResults(await snapshot(core), before);
    expect(await keywordHit('spelt', sourdough)).toBe(true);
    expect(await anyHit('Rubicon', caesar)).toBe(false);

    // And so does a reopened one.
    await core.close();
    const again = await openCore(dir);
    await again.drain();
    expect(again.indexStatus.kind).toBe('opened');
    expect((await again.get(sourdough))?.text).toContain('spelt');
    expect(await again.get(caesar)).toBeUndefined();
    expectSameResults(await snapshot(again), before);
  });

  it('captures keep working and search falls back to keywords while the embedder cannot load, then catches up', async () => {
    const dir = path.join(tempDir(), 'data');
    const broken: EmbedderSource = {
      id: 'broken',
      dimension: 4,
      load: () => Promise.reject(new EmbedderUnavailableError('broken', 'no weights')),
    };
    const core = await openCore(dir, broken);
    const captures = await core.captureMany(seedCaptures().slice(0, 12));
    const one = await core.capture({ text: 'Mitochondria are the powerhouse of the cell', tags: ['biology'] });
    await core.drain();

    expect(await core.get(one.id)).toMatchObject({ text: 'Mitochondria are the powerhouse of the cell', local: { indexed: true, embedded: false } });
    const result = await core.search({ query: 'mitochondria', now: NOW }, { waitForModel: true });
    expect(result.mode).toBe('keyword');
    expect(result.notice).toMatch(/keyword/);
    expect(result.notice).toMatch(/no weights/);
    expect(result.hits.map((h) => h.id)).toContain(one.id);
    expect(result.hits.every((h) => h.matched.join() === 'keyword')).toBe(true);

    const embedJobs = core.jobs({ kind: 'embed' });
    expect(embedJobs).toHaveLength(1);
    expect(embedJobs[0]!.state).toBe('pending');
    expect(embedJobs[0]!.attempts).toBe(0);
    expect(embedJobs[0]!.lastError).toMatch(/no weights/);
    const stats = core.stats();
    expect(stats.captures).toBe(13);
    expect(stats.embedder).toMatchObject({ id: 'broken', state: 'unavailable', embedded: 0, total: 13 });
    expect(stats.embedder.reason).toMatch(/no weights/);
    await core.close();

    // The model is available again (here: the default one).
    const healed = await openCore(dir);
    await healed.drain();
    const after = await healed.search({ query: 'mitochondria', now: NOW }, { waitForModel: true });
    expect(after.mode).toBe('hybrid');
    expect(after.notice).toBeUndefined();
    expect(after.hits[0]!.id).toBe(one.id);
    expect(healed.stats().embedder).toMatchObject({ state: 'ready', embedded: 13, total: 13 });
    for (const c of captures) expect((await healed.get(c.id))?.local).toEqual({ indexed: true, embedded: true });
  });
});
