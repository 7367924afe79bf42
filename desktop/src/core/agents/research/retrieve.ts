import type { Core } from '../../Core.ts';
import { applyFeedback } from '../conversation/feedback.ts';

/** Captures put in front of the model; more costs tokens for little gain in what it uses. */
export const CONTEXT_CAPTURES = 8;
/** Candidates the search returns before feedback reorders them and the cut to CONTEXT_CAPTURES. */
const CANDIDATES = 16;
/** Of the context, at most this many places go to captures found only through the concept graph. */
const GRAPH_PLACES = 2;
/** One top-ranked vote in the search's reciprocal rank fusion (k = 60). */
const RRF_UNIT = 1 / 61;

export interface Retrieved {
  id: string;
  title: string;
  createdAt: number;
  text: string;
  /** How it was found: the search's own match kinds, or 'graph' for a capture sharing concepts with the hits. */
  via: ('keyword' | 'semantic' | 'graph')[];
}

export interface RetrieveOptions {
  limit?: number;
  /** Feedback per capture for this question (see feedback.ts). */
  adjustments?: ReadonlyMap<string, number>;
}

/**
 * The research step every turn starts with: hybrid search, reordered by the person's feedback, then
 * widened through the concept graph. The graph brings in captures that share concepts with the best
 * hits without sharing their words: the note about "backprop" for a question about "gradients".
 */
export async function retrieve(core: Core, question: string, options: RetrieveOptions = {}): Promise<{ captures: Retrieved[]; mode: 'hybrid' | 'keyword' }> {
  const limit = options.limit ?? CONTEXT_CAPTURES;
  const result = await core.search({ query: question, limit: Math.max(limit, CANDIDATES) });
  const ordered = applyFeedback(result.hits, options.adjustments ?? new Map(), RRF_UNIT);
  const graphPlaces = Math.min(GRAPH_PLACES, Math.floor(limit / 4));
  const fromSearch = ordered.slice(0, limit - graphPlaces);
  const picked: { id: string; via: Retrieved['via'] }[] = fromSearch.map((h) => ({ id: h.id, via: [...h.matched] }));
  const seen = new Set(picked.map((p) => p.id));
  const related = await core.relatedCaptures(
    fromSearch.slice(0, 4).map((h) => h.id),
    { limit: graphPlaces + 4 },
  );
  for (const r of related) {
    if (picked.length >= limit) break;
    if (seen.has(r.id)) continue;
    // Feedback against a capture for this question keeps the graph from bringing it back.
    if ((options.adjustments?.get(r.id) ?? 0) < 0) continue;
    seen.add(r.id);
    picked.push({ id: r.id, via: ['graph'] });
  }
  // Whatever the graph did not fill goes back to the search's next best.
  for (const hit of ordered.slice(fromSearch.length)) {
    if (picked.length >= limit) break;
    if (!seen.has(hit.id)) {
      seen.add(hit.id);
      picked.push({ id: hit.id, via: [...hit.matched] });
    }
  }
  const via = new Map(picked.map((p) => [p.id, p.via]));
  const captures: Retrieved[] = core
    .indexedCaptures(picked.map((p) => p.id))
    .map((c) => ({ id: c.id, title: c.title, createdAt: c.createdAt, text: c.text, via: via.get(c.id) ?? [] }));
  return { captures, mode: result.mode };
}
