import { orderedTurns, type Conversation } from '@lva/shared';

/** One rated reply, with the question that led to it: what feedback teaches. */
export interface FeedbackExample {
  question: string;
  answer: string;
  rating: 'up' | 'down';
  correction?: string;
  /** Captures the reply cited: a liked reply vouches for them, a disliked one counts against them. */
  cited: string[];
  at: number;
}

/** Pairs each rated reply with the question before it, across every conversation. */
export function collectFeedback(conversations: readonly Conversation[]): FeedbackExample[] {
  const out: FeedbackExample[] = [];
  for (const conversation of conversations) {
    let question: string | undefined;
    for (const turn of orderedTurns(conversation)) {
      if (turn.role === 'user') {
        question = turn.text;
        continue;
      }
      if (!turn.feedback || question === undefined) continue;
      out.push({
        question,
        answer: turn.text,
        rating: turn.feedback.rating,
        ...(turn.feedback.correction ? { correction: turn.feedback.correction } : {}),
        cited: (turn.citations ?? []).map((c) => c.captureId),
        at: turn.feedback.at,
      });
    }
  }
  return out;
}

// Besides the usual function words, the words people use to ask about their own notes ("what did I
// note about", "tell me what I learned"): they say nothing about the topic, and left in they made
// every question look similar to every other.
const STOPWORDS = new Set(
  (
  'note notes noted learn learned learnt learning know knew tell remember said say think explain again capture captured wrote write recall me mine please ' +
  'a an the and or but if of to in on at by for with from about into over after before is are was were be been being do does did have has had what which who whom whose when where why how this that these those it its i me my we our you your he she they them their there here can could should would will shall may might must not no yes so than then too very just also more most some any each all both few other such only own same as up out off again once'
  ).split(' '),
);

/** The words that carry a question's meaning, lowercased, with a crude plural fold. */
export function contentWords(text: string): Set<string> {
  const words = new Set<string>();
  for (const raw of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (raw.length < 3 || STOPWORDS.has(raw)) continue;
    words.add(raw.length > 4 && raw.endsWith('s') && !raw.endsWith('ss') ? raw.slice(0, -1) : raw);
  }
  return words;
}

/** Jaccard overlap of content words: cheap, needs no model, and good enough to tell "the same question again" from an unrelated one. */
export function questionSimilarity(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  return shared / (a.size + b.size - shared);
}

/** Below this overlap, feedback on another question says nothing about this one. */
const MIN_SIMILARITY = 0.2;

/**
 * How much past feedback should move each capture for this question: the sum over rated replies to
 * similar questions of ±similarity for each capture the reply cited. Feedback is tied to the question
 * it was given on, so disliking a capture as an answer about X does not bury it for questions about Y.
 */
export function rankingAdjustments(examples: readonly FeedbackExample[], question: string): Map<string, number> {
  const words = contentWords(question);
  const out = new Map<string, number>();
  for (const example of examples) {
    const similarity = questionSimilarity(words, contentWords(example.question));
    if (similarity < MIN_SIMILARITY) continue;
    const sign = example.rating === 'up' ? 1 : -1;
    for (const id of example.cited) out.set(id, (out.get(id) ?? 0) + sign * similarity);
  }
  return out;
}

/**
 * Reorders retrieved captures by their feedback. `unit` is what one full vote is worth in the
 * search's own scores; tanh keeps a long history from outweighing the search entirely: at most two
 * such votes either way. (One was too few: a paraphrase that both lists rank first leads the exact
 * keyword match by almost a vote, and one "not this" on the same question must be able to overturn it.)
 */
export function applyFeedback<T extends { id: string; score: number }>(hits: readonly T[], adjustments: ReadonlyMap<string, number>, unit: number): T[] {
  if (adjustments.size === 0) return [...hits];
  return hits
    .map((hit, rank) => ({ hit, rank, score: hit.score + 2 * unit * Math.tanh(adjustments.get(hit.id) ?? 0) }))
    .sort((a, b) => b.score - a.score || a.rank - b.rank)
    .map((x) => x.hit);
}

/**
 * Liked replies (and corrections of disliked ones) to similar questions, most similar first: shown to
 * the model as examples of answers this person found useful.
 */
export function fewShotExamples(examples: readonly FeedbackExample[], question: string, limit = 2): { question: string; answer: string }[] {
  const words = contentWords(question);
  return examples
    .map((example) => ({ example, similarity: questionSimilarity(words, contentWords(example.question)) }))
    .filter(({ example, similarity }) => similarity >= MIN_SIMILARITY && (example.rating === 'up' || example.correction !== undefined))
    .sort((a, b) => b.similarity - a.similarity || b.example.at - a.example.at)
    .slice(0, limit)
    .map(({ example }) => ({ question: example.question, answer: example.correction ?? example.answer }));
}
