import { CoreError } from '../errors.ts';
import type { EmbeddingService } from '../index/EmbeddingService.ts';
import { HIGHLIGHT_END, HIGHLIGHT_START, type IndexFilters, type SearchIndex } from '../index/SearchIndex.ts';
import { ftsTerms } from './ftsQuery.ts';

export interface SearchQuery {
  query: string;
  limit?: number;
  filters?: IndexFilters;
  /** The reference time for recency; fixed in tests so results are comparable across runs. */
  now?: number;
  /** Search as you type: the last, unfinished word matches as a prefix. */
  asYouType?: boolean;
}

export type MatchKind = 'keyword' | 'semantic';

export interface SearchHit {
  id: string;
  title: string;
  createdAt: number;
  source: string;
  tags: string[];
  /** A fragment of the capture; `highlights` are [start, end) offsets of the matched words in it. */
  snippet: string;
  highlights: [number, number][];
  score: number;
  scores: {
    rrf: number;
    recency: number;
    keywordRank?: number;
    bm25?: number;
    semanticRank?: number;
    similarity?: number;
  };
  matched: MatchKind[];
}

export interface SearchResult {
  mode: 'hybrid' | 'keyword';
  /** Why the search is keyword-only or incomplete, in words a person can act on. */
  notice?: string;
  hits: SearchHit[];
}

/** Reciprocal rank fusion constant; 60 is the value from the original paper and works without tuning. */
const RRF_K = 60;
/**
 * The keyword vote of a capture with every word of the query: more than one vote plus the largest
 * recency bonus (a quarter vote), so at equal ranks it comes before the encoder's nearest neighbour,
 * even a newer one. The encoder ranks something first for any query, even a name it has never seen.
 */
const EXACT_WEIGHT = 1.3;
/** At most a quarter of a top-ranked list's contribution, so recency breaks ties but never buries a match. */
const RECENCY_WEIGHT = 0.25 / (RRF_K + 1);
const RECENCY_HALF_LIFE_DAYS = 90;
/** Below this cosine similarity the encoder's neighbours are noise (measured on the relevance corpus). */
const MIN_SIMILARITY = 0.2;
/**
 * Rank fusion ignores how close a neighbour is, and the encoder returns neighbours for any query, so
 * a barely related capture at rank 13 (similarity 0.2) voted nearly as much as a paraphrase at rank 1
 * (0.69), and one incidental shared word then lifted it above the paraphrase. A semantic vote is
 * therefore scaled from 0 at MIN_SIMILARITY to full at FULL_SIMILARITY, as keyword votes are scaled
 * by the share of the query's words they match.
 */
const FULL_SIMILARITY = 0.5;
const DAY_MS = 86_400_000;

export class HybridSearch {
  readonly #index: SearchIndex;
  readonly #embeddings: EmbeddingService;

  constructor(index: SearchIndex, embeddings: EmbeddingService) {
    this.#index = index;
    this.#embeddings = embeddings;
  }

  async search(q: SearchQuery): Promise<SearchResult> {
    const query = q.query.trim();
    if (!query) throw new CoreError('BAD_INPUT', 'the search query is empty');
    const limit = Math.max(1, Math.min(q.limit ?? 10, 200));
    const filters = q.filters ?? {};
    const now = q.now ?? Date.now();
    const depth = Math.max(limit * 3, 50);

    const terms = ftsTerms(q.query, { prefixLastWord: q.asYouType === true });
    const keyword = terms.length ? this.#index.keywordSearch(terms.join(' OR '), filters, depth) : [];
    // The words are OR'ed, so the top of the keyword list may hold a capture that shares one incidental
    // word with a long question. Rank fusion ignores how good a match is, so each keyword hit's vote is
    // scaled by the share of the query's words it contains; one with all of them gets EXACT_WEIGHT.
    const coverage = terms.length > 1 ? this.#index.termMatches(terms, keyword.map((h) => h.rowid)) : undefined;

    let mode: SearchResult['mode'] = 'keyword';
    let notice: string | undefined;
    let semantic: { rowid: number; similarity: number }[] = [];
    const ready = this.#embeddings.ready();
    if (ready) {
      const embedder = await ready;
      const [vector] = await embedder.embed([query]);
      semantic = this.#index
        .vectorSearch(embedder.id, vector!, filters, depth)
        .map((h) => ({ rowid: h.rowid, similarity: 1 - h.distance }))
        .filter((h) => h.similarity >= MIN_SIMILARITY);
      mode = 'hybrid';
      const { embedded, total } = this.#embeddings.coverage();
      if (embedded < total) notice = `${total - embedded} of ${total} captures are still being embedded; until then they are found by keyword only`;
    } else {
      const status = this.#embeddings.status;
      notice =
        status.state === 'unavailable'
          ? `keyword search only: ${status.reason}`
          : 'keyword search only: the embedding model is still loading';
    }

    type Fused = { rowid: number; rrf: number; scores: SearchHit['scores']; snippet?: string };
    const fused = new Map<number, Fused>();
    const entry = (rowid: number): Fused => {
      let f = fused.get(rowid);
      if (!f) fused.set(rowid, (f = { rowid, rrf: 0, scores: { rrf: 0, recency: 0 } }));
      return f;
    };
    keyword.forEach((hit, i) => {
      const f = entry(hit.rowid);
      const share = coverage ? (coverage.get(hit.rowid) ?? 1) / terms.length : 1;
      f.rrf += (share === 1 ? EXACT_WEIGHT : share) / (RRF_K + i + 1);
      f.scores.keywordRank = i + 1;
      f.scores.bm25 = hit.bm25;
      f.snippet = hit.snippet;
    });
    semantic.forEach((hit, i) => {
      const f = entry(hit.rowid);
      const closeness = Math.min(1, (hit.similarity - MIN_SIMILARITY) / (FULL_SIMILARITY - MIN_SIMILARITY));
      f.rrf += closeness / (RRF_K + i + 1);
      f.scores.semanticRank = i + 1;
      f.scores.similarity = hit.similarity;
    });

    const rows = this.#index.captures([...fused.keys()]);
    const hits: SearchHit[] = [];
    for (const f of fused.values()) {
      const row = rows.get(f.rowid);
      if (!row) continue;
      const ageDays = Math.max(0, now - row.createdAt) / DAY_MS;
      const recency = 0.5 ** (ageDays / RECENCY_HALF_LIFE_DAYS);
      const score = f.rrf + RECENCY_WEIGHT * recency;
      const { snippet, highlights } = f.snippet !== undefined ? parseSnippet(f.snippet) : { snippet: lead(row.text || row.title), highlights: [] };
      const matched: MatchKind[] = [];
      if (f.scores.keywordRank) matched.push('keyword');
      if (f.scores.semanticRank) matched.push('semantic');
      hits.push({
        id: row.id,
        title: row.title,
        createdAt: row.createdAt,
        source: row.source,
        tags: row.tags,
        snippet,
        highlights,
        score,
        scores: { ...f.scores, rrf: f.rrf, recency },
        matched,
      });
    }
    hits.sort((a, b) => b.score - a.score || b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    return { mode, ...(notice ? { notice } : {}), hits: hits.slice(0, limit) };
  }
}

function parseSnippet(marked: string): { snippet: string; highlights: [number, number][] } {
  let snippet = '';
  const highlights: [number, number][] = [];
  let start = -1;
  for (const ch of marked) {
    if (ch === HIGHLIGHT_START) start = snippet.length;
    else if (ch === HIGHLIGHT_END) {
      if (start >= 0) highlights.push([start, snippet.length]);
      start = -1;
    } else if (/\s/.test(ch)) {
      // Collapsed as it is built, so the highlight offsets stay true.
      if (snippet && !snippet.endsWith(' ')) snippet += ' ';
    } else snippet += ch;
  }
  return { snippet: snippet.trim(), highlights };
}

function lead(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : flat.slice(0, max).replace(/\s\S*$/, '') + '…';
}
