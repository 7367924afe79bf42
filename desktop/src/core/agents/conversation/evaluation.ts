import type { Core } from '../../Core.ts';
import { retrieve } from '../research/retrieve.ts';
import { collectFeedback, fewShotExamples, rankingAdjustments } from './feedback.ts';

export interface EvalCase {
  question: string;
  /** The captures a good answer rests on. */
  relevant: string[];
}

export interface EvalReport {
  cases: number;
  /** Share of questions whose first context capture (what the answer leads with) is relevant. */
  hitAt1: number;
  /** Mean reciprocal rank of the first relevant capture in the context. */
  mrr: number;
  /** Share of questions for which a liked answer would be shown to the model as an example. */
  withExamples: number;
  perCase: { question: string; rank: number | undefined; examples: number }[];
}

/**
 * Offline evaluation of what feedback changes: replays questions through the same retrieval an
 * answer uses, with or without the feedback stored in the conversations, and scores the context
 * against known relevant captures. No model is called, so it runs anywhere and costs nothing.
 */
export async function evaluateAnswers(core: Core, cases: readonly EvalCase[], options: { useFeedback: boolean }): Promise<EvalReport> {
  const feedback = options.useFeedback ? collectFeedback(await (await core.conversations()).all()) : [];
  const perCase: EvalReport['perCase'] = [];
  let hits = 0;
  let reciprocal = 0;
  let withExamples = 0;
  for (const c of cases) {
    const { captures } = await retrieve(core, c.question, { adjustments: rankingAdjustments(feedback, c.question) });
    const index = captures.findIndex((capture) => c.relevant.includes(capture.id));
    const rank = index < 0 ? undefined : index + 1;
    if (rank === 1) hits++;
    if (rank !== undefined) reciprocal += 1 / rank;
    const examples = fewShotExamples(feedback, c.question).length;
    if (examples > 0) withExamples++;
    perCase.push({ question: c.question, rank, examples });
  }
  const n = Math.max(1, cases.length);
  return { cases: cases.length, hitAt1: hits / n, mrr: reciprocal / n, withExamples: withExamples / n, perCase };
}
