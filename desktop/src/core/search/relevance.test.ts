import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureSource } from '@lva/shared';
import { Core } from '../Core.ts';
import type { SearchHit, SearchQuery, SearchResult } from './HybridSearch.ts';

interface CorpusCapture {
  key: string;
  text: string;
  tags?: string[];
  source?: CaptureSource;
  /** How long ago it was captured; absent means "just now". */
  daysAgo?: number;
}

interface CorpusQuery {
  query: string;
  expect: string;
  /** semantic: shares no content word with its target; exact: a name or acronym only the target contains. */
  kind: 'semantic' | 'exact';
}

interface Corpus {
  captures: CorpusCapture[];
  queries: CorpusQuery[];
}

const corpus = JSON.parse(fs.readFileSync(new URL('../../../test/fixtures/relevance-corpus.json', import.meta.url), 'utf8')) as Corpus;
const semanticQueries = corpus.queries.filter((q) => q.kind === 'semantic');
const exactQueries = corpus.queries.filter((q) => q.kind === 'exact');

const DAY = 86_400_000;
/** Every search uses this reference time, so recency is the same in every run. */
const NOW = Date.now();

/** Words too common to count as shared meaning; the fixture check ignores them. */
const STOPWORDS = new Set(
  'the and for with that this from into are was were has have had but not you your our its his her she they them their what when how who can will would each every all any some than then there here just also been out about over which while where why does did let'.split(
    ' ',
  ),
);

const words = (text: string): string[] => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
const contentWords = (text: string): string[] => [...new Set(words(text).filter((w) => w.length >= 3 && !STOPWORDS.has(w)))];

/** The index's own stemmer (FTS5 porter over unicode61): "uses" and "using" are one word to keyword search. */
function stems(list: readonly string[]): Map<string, string> {
  const db = new Database(':memory:');
  try {
    db.exec(`CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'porter unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance');`);
    const insert = db.prepare(`INSERT INTO t (rowid, x) VALUES (?, ?)`);
    list.forEach((w, i) => insert.run(i + 1, w));
    const rows = db.prepare(`SELECT term, doc FROM v`).all() as { term: string; doc: number }[];
    return new Map(rows.map((r) => [list[r.doc - 1]!, r.term]));
  } finally {
    db.close();
  }
}

describe('search relevance on the committed corpus', () => {
  let dir: string;
  let core: Core;
  const idOf = new Map<string, string>();
  const keyOf = new Map<string, string>();
  const createdAtOf = new Map<string, number>();
  const ranks: { kind: string; query: string; rank: number }[] = [];

  const search = (q: Omit<SearchQuery, 'now'>): Promise<SearchResult> => core.search({ limit: 10, ...q, now: NOW }, { waitForModel: true });
  const keys = (hits: readonly SearchHit[]): string[] => hits.map((h) => keyOf.get(h.id) ?? h.id);
  const captureOf = (key: string): CorpusCapture => corpus.captures.find((c) => c.key === key)!;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-relevance-'));
    core = await Core.open({ dataDir: dir, background: false });
    const n = corpus.captures.length;
    const stored = await core.captureMany(
      corpus.captures.map((c, i) => ({
        text: c.text,
        tags: c.tags ?? [],
        source: c.source ?? 'voice',
        // A minute apart in fixture order, so no two captures share a timestamp.
        createdAt: NOW - (c.daysAgo ?? 0) * DAY - (n - i) * 60_000,
      })),
    );
    stored.forEach((capture, i) => {
      const key = corpus.captures[i]!.key;
      idOf.set(key, capture.id);
      keyOf.set(capture.id, key);
      createdAtOf.set(key, capture.createdAt);
    });
    await core.drain();
  });

  afterAll(async () => {
    await core?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (ranks.length) {
      const summary = ['semantic', 'exact'].map((kind) => {
        const r = ranks.filter((x) => x.kind === kind).map((x) => x.rank);
        return `${kind}: ranks [${r.join(', ')}], ${r.filter((x) => x === 1).length}/${r.length} first`;
      });
      console.log(`relevance corpus: ${summary.join('; ')}`);
    }
  });

  describe('the fixture is honest', () => {
    it('has the promised size, unique keys, and every query names a capture', () => {
      expect(corpus.captures.length).toBeGreaterThanOrEqual(50);
      expect(new Set(corpus.captures.map((c) => c.key)).size).toBe(corpus.captures.length);
      expect(semanticQueries.length).toBeGreaterThanOrEqual(10);
      expect(exactQueries.length).toBeGreaterThanOrEqual(8);
      for (const q of corpus.queries) expect(corpus.captures.some((c) => c.key === q.expect), q.expect).toBe(true);
    });

    it('semantic queries share no word of 3+ letters, nor any stem, with their target', () => {
      for (const q of semanticQueries) {
        const query = contentWords(q.query);
        const target = contentWords(captureOf(q.expect).text);
        expect(
          query.filter((w) => target.includes(w)),
          q.query,
        ).toEqual([]);
        const stem = stems([...query, ...target]);
        const targetStems = new Set(target.map((w) => stem.get(w)));
        expect(
          query.filter((w) => targetStems.has(stem.get(w))),
          `stems shared by "${q.query}"`,
        ).toEqual([]);
      }
    });

    it('every word of an exact term appears in its target and in no other capture', () => {
      for (const q of exactQueries) {
        const term = words(q.query);
        const holders = corpus.captures.filter((c) => term.some((w) => words(c.text).includes(w))).map((c) => c.key);
        expect(holders, q.query).toEqual([q.expect]);
        expect(term.every((w) => words(captureOf(q.expect).text).includes(w)), q.query).toBe(true);
      }
    });
  });

  it('is a hybrid search once the model is loaded and everything is embedded', async () => {
    const result = await search({ query: 'how plants make sugar' });
    expect(result.mode).toBe('hybrid');
    expect(result.notice).toBeUndefined();
    expect(core.stats().embedder).toMatchObject({ embedded: corpus.captures.length, total: corpus.captures.length });
  });

  it.each(semanticQueries)('finds "$expect" by meaning alone: "$query"', async ({ query, expect: key }) => {
    const result = await search({ query });
    expect(result.mode).toBe('hybrid');
    const rank = keys(result.hits).indexOf(key) + 1;
    ranks.push({ kind: 'semantic', query, rank });
    expect(rank, `"${query}" → ${keys(result.hits).slice(0, 5).join(', ')}`).toBeGreaterThanOrEqual(1);
    expect(rank, `"${query}" → ${keys(result.hits).slice(0, 5).join(', ')}`).toBeLessThanOrEqual(3);
    expect(result.hits[rank - 1]!.matched).toContain('semantic');
  });

  it.each(exactQueries)('puts the one capture containing "$query" first, above its semantic neighbours', async ({ query, expect: key }) => {
    const result = await search({ query });
    expect(result.mode).toBe('hybrid');
    const rank = keys(result.hits).indexOf(key) + 1;
    ranks.push({ kind: 'exact', query, rank });
    expect(rank, `"${query}" → ${keys(result.hits).slice(0, 5).join(', ')}`).toBe(1);
    const [top] = result.hits;
    expect(top!.matched).toContain('keyword');
    // Only the target contains the term, and it had real competition from captures close in meaning.
    expect(keys(result.hits.filter((h) => h.matched.includes('keyword')))).toEqual([key]);
    expect(result.hits.some((h) => h.matched.includes('semantic') && h.id !== top!.id)).toBe(true);
    // The snippet shows the person where the term is.
    const highlighted = top!.highlights.map(([start, end]) => top!.snippet.slice(start, end).toLowerCase());
    for (const word of words(query)) expect(highlighted, `${query} in ${top!.snippet}`).toContain(word);
  });

  describe('filters', () => {
    it('a source filter keeps only captures from those sources, by keyword and by meaning', async () => {
      const all = await search({ query: 'Python' });
      expect(keys(all.hits)).toEqual(expect.arrayContaining(['py-comprehension', 'py-decorator']));

      const typed = await search({ query: 'Python', filters: { sources: ['text'] } });
      expect(keys(typed.hits)).toContain('py-decorator');
      expect(keys(typed.hits)).not.toContain('py-comprehension');
      expect(typed.hits.every((h) => h.source === 'text')).toBe(true);

      const spoken = await search({ query: 'Python', filters: { sources: ['voice'] } });
      expect(keys(spoken.hits)).toContain('py-comprehension');
      expect(keys(spoken.hits)).not.toContain('py-decorator');
      expect(spoken.hits.every((h) => h.source === 'voice')).toBe(true);

      // No shared word: only the vector search can find it, and it must respect the filter too.
      const phone = await search({ query: 'rehearsing on my instrument at night', filters: { sources: ['phone'] } });
      expect(keys(phone.hits)[0]).toBe('guitar-scales');
      expect(phone.hits.every((h) => h.source === 'phone')).toBe(true);
      const textOnly = await search({ query: 'rehearsing on my instrument at night', filters: { sources: ['text', 'voice'] } });
      expect(keys(textOnly.hits)).not.toContain('guitar-scales');
    });

    it('a tag filter keeps only captures carrying every given tag, whatever its case', async () => {
      const all = await search({ query: 'DNA gene' });
      expect(keys(all.hits)).toEqual(expect.arrayContaining(['crispr', 'gene-therapy', 'gm-crops']));

      const genetics = await search({ query: 'DNA gene', filters: { tags: ['Genetics'] } });
      expect(keys(genetics.hits)).toEqual(expect.arrayContaining(['crispr', 'gene-therapy']));
      expect(keys(genetics.hits)).not.toContain('gm-crops');
      expect(genetics.hits.every((h) => h.tags.includes('genetics'))).toBe(true);

      const both = await search({ query: 'DNA gene', filters: { tags: ['genetics', 'health'] } });
      expect(both.hits).toEqual([]);
      const none = await search({ query: 'DNA gene', filters: { tags: ['no-such-tag'] } });
      expect(none.hits).toEqual([]);
    });

    it('a date range keeps captures from `from` (inclusive) to `to` (exclusive)', async () => {
      const query = 'Napoleon emperor Roman Empire Berlin Wall';
      const all = await search({ query });
      expect(keys(all.hits)).toEqual(expect.arrayContaining(['napoleon', 'roman-empire', 'berlin-wall']));

      const lastYear = { from: NOW - 365 * DAY, to: NOW + 1 };
      const recent = await search({ query, filters: lastYear });
      expect(keys(recent.hits)).toContain('berlin-wall');
      expect(keys(recent.hits)).not.toContain('napoleon');
      expect(keys(recent.hits)).not.toContain('roman-empire');
      expect(recent.hits.every((h) => h.createdAt >= lastYear.from && h.createdAt < lastYear.to)).toBe(true);

      const window = { from: NOW - 500 * DAY, to: NOW - 300 * DAY };
      const old = await search({ query, filters: window });
      expect(keys(old.hits).sort()).toEqual(['napoleon', 'roman-empire']);

      const at = createdAtOf.get('napoleon')!;
      expect(keys((await search({ query, filters: { from: at, to: at + 1 } })).hits)).toEqual(['napoleon']);
      expect(keys((await search({ query, filters: { from: at + 1, to: at + DAY } })).hits)).not.toContain('napoleon');
      expect(keys((await search({ query, filters: { from: at - DAY, to: at } })).hits)).not.toContain('napoleon');
    });

    it('filters combine: source, tag and date together', async () => {
      const result = await search({ query: 'list', filters: { sources: ['phone'], from: NOW - 60 * DAY, to: NOW - DAY } });
      expect(keys(result.hits)).toEqual(['shopping-list']);
      const tagged = await search({ query: 'list', filters: { sources: ['phone'], tags: ['python'] } });
      expect(tagged.hits).toEqual([]);
    });
  });

  it('treats FTS5 syntax in a query as plain text, never as an error', async () => {
    const queries = [
      '"AND OR * ( ) NEAR:',
      'NEAR(python list, 2)',
      '"unbalanced quote',
      'text: ^start -minus +plus',
      'AND',
      '* ( ) : " ^',
      'C++ AND (pointers OR references)',
      "O'Reilly's \"book\" {braces} [brackets]",
    ];
    for (const query of queries) {
      const result = await search({ query });
      expect(result.mode, query).toBe('hybrid');
      expect(new Set(result.hits.map((h) => h.id)).size, query).toBe(result.hits.length);
    }
    // Quoted words are still words: the capture with both is found by keyword, first.
    const quoted = await search({ query: '"Python" AND (decorators)' });
    expect(keys(quoted.hits)[0]).toBe('py-decorator');
    expect(quoted.hits[0]!.matched).toContain('keyword');
  });

  it('never returns the same capture twice, and scores never increase down the list', async () => {
    for (const { query } of corpus.queries) {
      const { hits } = await search({ query, limit: 200 });
      expect(new Set(hits.map((h) => h.id)).size, query).toBe(hits.length);
      for (let i = 1; i < hits.length; i++) expect(hits[i]!.score, query).toBeLessThanOrEqual(hits[i - 1]!.score);
    }
  });

  it('gives the stored capture back for a hit', async () => {
    const [hit] = (await search({ query: 'Maillard' })).hits;
    const capture = await core.get(hit!.id);
    expect(capture?.text).toBe(captureOf('maillard').text);
    expect(capture?.local).toEqual({ indexed: true, embedded: true });
    expect(idOf.get('maillard')).toBe(hit!.id);
  });
});
