import { z } from 'zod';
import { CAPTURE_ID_PATTERN } from '../capture/captureId.ts';

/**
 * Conversations and insights live in monthly journal documents, apart from the capture shards: they
 * are written by other agents at other times, and a journal stays small (a month of turns) so it loads
 * fast on a phone. Journals are listed in the account's `shards` map with `kind: 'journal'`, because
 * that map exists in every account document: a new top-level map added by two devices while offline
 * would be an Automerge conflict, and one device's journals would be lost.
 */
export const JOURNAL_KIND = 'journal';
export const JOURNAL_SCHEMA_VERSION = 1;

const Id = z.string().regex(CAPTURE_ID_PATTERN, 'not an id');

export const TurnFeedback = z.object({
  rating: z.enum(['up', 'down']),
  /** What the answer should have said; a corrected answer is used as a good example later. */
  correction: z.string().max(10_000).optional(),
  at: z.number().int(),
  deviceId: z.string().min(1).max(100),
});
export type TurnFeedback = z.infer<typeof TurnFeedback>;

export const TurnCitation = z.object({ n: z.number().int().positive(), captureId: Id });

export const Turn = z.object({
  id: Id,
  at: z.number().int(),
  role: z.enum(['user', 'assistant']),
  /** 'capture': the person only recorded something, and no reply was asked for. */
  mode: z.enum(['capture', 'ask']),
  text: z.string().max(200_000),
  /** The capture a user turn was stored as (both modes store it, so it is searchable later). */
  captureId: Id.optional(),
  /** For a reply: what retrieval put in front of the model, and what the reply cited. */
  retrieved: z.array(Id).max(100).optional(),
  citations: z.array(TurnCitation).max(100).optional(),
  model: z.string().max(100).optional(),
  /** A reply that stopped part-way keeps what arrived and says why. */
  error: z.string().max(2000).optional(),
  feedback: TurnFeedback.optional(),
});
export type Turn = z.infer<typeof Turn>;

export const Conversation = z.object({
  id: Id,
  startedAt: z.number().int(),
  deviceId: z.string().min(1).max(100),
  title: z.string().max(200),
  /** Keyed by turn id (time-ordered), so turns two devices add offline merge instead of conflicting. */
  turns: z.record(z.string(), Turn),
});
export type Conversation = z.infer<typeof Conversation>;

export const InsightItem = z.object({ text: z.string().min(1).max(2000), captureIds: z.array(Id).max(50) });
export type InsightItem = z.infer<typeof InsightItem>;

export const Insight = z.object({
  /** `weekly:YYYY-Www`: a week's digest is one record, so regenerating it replaces it on every device. */
  id: z.string().min(1).max(100),
  kind: z.literal('weekly'),
  period: z.object({ from: z.number().int(), to: z.number().int(), label: z.string().max(100) }),
  createdAt: z.number().int(),
  deviceId: z.string().min(1).max(100),
  model: z.string().max(100),
  summary: z.string().max(5000),
  learned: z.array(InsightItem).max(50),
  themes: z.array(InsightItem).max(50),
  questions: z.array(InsightItem).max(50),
  nextSteps: z.array(InsightItem).max(50),
});
export type Insight = z.infer<typeof Insight>;

export interface JournalDoc {
  kind: 'lva/journal';
  schema: number;
  month: string;
  conversations: Record<string, unknown>;
  insights: Record<string, unknown>;
}

export function newJournalDoc(month: string): JournalDoc {
  return { kind: 'lva/journal', schema: JOURNAL_SCHEMA_VERSION, month, conversations: {}, insights: {} };
}

/** Records from other devices are validated, never trusted: a malformed one is skipped, not fatal. */
export function readConversation(raw: unknown): Conversation | undefined {
  const parsed = Conversation.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

export function readInsight(raw: unknown): Insight | undefined {
  const parsed = Insight.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** A conversation's turns in the order they were said. */
export function orderedTurns(conversation: Conversation): Turn[] {
  return Object.values(conversation.turns).sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
}
