import type Anthropic from '@anthropic-ai/sdk';
import type { Core } from '../../Core.ts';
import { CoreError } from '../../errors.ts';
import { claudeClient } from '../claude.ts';
import type { BudgetGuard } from '../cost/Budget.ts';
import type { UsageLedger } from '../cost/UsageLedger.ts';
import type { ProviderSettings } from '../ProviderSettings.ts';
import { retrieve, type Retrieved } from '../research/retrieve.ts';
import { CitationStream } from './citations.ts';

/** Per capture: enough for a long note, while eight of them stay a modest prompt. */
const CONTEXT_CHARS = 2000;
const MAX_ANSWER_TOKENS = 1024;

export interface RetrievedCapture {
  id: string;
  title: string;
  createdAt: number;
  via: Retrieved['via'];
}

export interface Citation {
  n: number;
  captureId: string;
  title: string;
}

export type AskEvent =
  /** What the answer may draw on, before the first word of it. */
  | { type: 'retrieved'; captures: RetrievedCapture[]; mode: 'hybrid' | 'keyword' }
  | { type: 'text'; text: string }
  | { type: 'citation'; citation: Citation }
  /** The model cited a capture it was not shown; it is left out of the answer. */
  | { type: 'dropped-citation'; captureId: string }
  | { type: 'done'; answer: string; citations: Citation[]; retrieved: string[]; model: string; usage: { inputTokens: number; outputTokens: number } };

const SYSTEM = [
  'You answer questions for one person using notes they captured themselves: things they said,',
  'wrote or saw while learning. The notes are given as <capture> elements.',
  'Ground every claim in the notes. Right after a sentence that uses a note, cite it as [[ID]] with',
  "the capture's id, exactly as given. Cite only ids you were given. If the notes do not answer the",
  'question, say so plainly and say what they do cover. Be brief.',
].join(' ');

function contextBlock(captures: { id: string; title: string; createdAt: number; text: string }[]): string {
  if (captures.length === 0) return 'There are no notes that match this question.';
  return captures
    .map((c) => {
      const text = c.text.length > CONTEXT_CHARS ? `${c.text.slice(0, CONTEXT_CHARS)}…` : c.text;
      const date = new Date(c.createdAt).toISOString().slice(0, 10);
      return `<capture id="${c.id}" date="${date}"${c.title ? ` title="${c.title.replace(/"/g, "'")}"` : ''}>\n${text}\n</capture>`;
    })
    .join('\n');
}

/**
 * One "ask" turn: retrieves from the person's captures (hybrid search), streams Claude's answer and
 * turns its [[ID]] markers into numbered citations of captures that were retrieved.
 */
export interface AskOptions {
  client?: Anthropic;
  /** Checked before the call: a spent monthly budget pauses asking, with the reason. */
  budget?: BudgetGuard;
  /** Where the call's tokens and cost are recorded; the Core's own ledger unless given. */
  ledger?: UsageLedger;
  /** Answers this person liked to similar questions, shown to the model as examples. */
  examples?: { question: string; answer: string }[];
  /** Feedback per capture for this question, which reorders retrieval (see feedback.ts). */
  adjustments?: ReadonlyMap<string, number>;
  /** The conversation so far, oldest first, so a follow-up question can lean on it. */
  history?: { role: 'user' | 'assistant'; text: string }[];
  /** Records the call under this capture in the cost ledger. */
  captureId?: string;
  /** Retrieval already under way (a turn starts it while it stores what was said). */
  retrieval?: Promise<{ captures: Retrieved[]; mode: 'hybrid' | 'keyword' }>;
}

/** Earlier turns sent with a follow-up: enough for "and what about…", not a whole day's chat. */
const HISTORY_TURNS = 6;

function examplesBlock(examples: readonly { question: string; answer: string }[]): string {
  if (examples.length === 0) return '';
  const shown = examples.map((e) => `<example>\nQuestion: ${e.question}\nA good answer: ${e.answer}\n</example>`).join('\n');
  return `\n\nAnswers this person found useful before, for the style and level of detail they want (their citations refer to other notes; cite only the notes given below):\n${shown}`;
}

export async function* ask(core: Core, settings: ProviderSettings, question: string, options: AskOptions = {}): AsyncGenerator<AskEvent> {
  if (!question.trim()) throw new CoreError('BAD_INPUT', 'the question is empty');
  const decision = options.budget?.check('chat');
  if (decision && !decision.allowed) throw new CoreError('BUDGET_SPENT', decision.reason);
  const client = options.client ?? claudeClient(settings, 'answering a question');
  const result = await (options.retrieval ?? retrieve(core, question, options.adjustments ? { adjustments: options.adjustments } : {}));
  const captures = result.captures;
  yield { type: 'retrieved', captures: captures.map(({ id, title, createdAt, via }) => ({ id, title, createdAt, via })), mode: result.mode };

  const titles = new Map<string, string>(captures.map((c) => [c.id, c.title]));
  const announced = new Set<number>();
  const citations = new CitationStream(titles.keys());
  const model = settings.models.chat;
  let answer = '';
  const emit = function* (pieces: ReturnType<CitationStream['push']>): Generator<AskEvent> {
    for (const piece of pieces) {
      if (piece.type === 'text') {
        answer += piece.text;
        yield { type: 'text', text: piece.text };
      } else if (piece.type === 'citation') {
        // Announced once, at first use, so a UI can list sources as they appear.
        if (!announced.has(piece.n)) {
          announced.add(piece.n);
          yield { type: 'citation', citation: { n: piece.n, captureId: piece.captureId, title: titles.get(piece.captureId) ?? '' } };
        }
      } else {
        yield { type: 'dropped-citation', captureId: piece.captureId };
      }
    }
  };

  const stream = client.messages.stream({
    model,
    max_tokens: MAX_ANSWER_TOKENS,
    system: SYSTEM + examplesBlock(options.examples ?? []),
    messages: [
      ...historyMessages(options.history ?? []),
      { role: 'user', content: `${contextBlock(captures)}\n\nQuestion: ${question}` },
    ],
  });
  // The SDK's timeout ends once headers arrive, so a stream that goes quiet would hang forever.
  let stalled = false;
  let idle: NodeJS.Timeout | undefined;
  const watch = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      stalled = true;
      stream.abort();
    }, settings.timeoutMs);
  };
  let usage: { inputTokens: number; outputTokens: number };
  try {
    watch();
    for await (const event of stream) {
      watch();
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') yield* emit(citations.push(event.delta.text));
    }
    const final = await stream.finalMessage();
    usage = { inputTokens: final.usage.input_tokens, outputTokens: final.usage.output_tokens };
  } catch (err) {
    const why = stalled ? `no data from the model for ${Math.round(settings.timeoutMs / 1000)} s` : (err as Error).message;
    throw new CoreError('AGENT_FAILED', `the answer stopped part-way: ${why}. Ask again.`, { cause: err });
  } finally {
    clearTimeout(idle);
  }
  yield* emit(citations.end());
  (options.ledger ?? core.usage).record({ role: 'chat', model, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, ...(options.captureId ? { captureId: options.captureId } : {}) });
  yield {
    type: 'done',
    answer,
    retrieved: captures.map((c) => c.id),
    citations: citations.cited.map(({ n, captureId }) => ({ n, captureId, title: titles.get(captureId) ?? '' })),
    model,
    usage,
  };
}

/** The API wants turns to alternate, starting with the user; anything else in the history is dropped. */
function historyMessages(history: readonly { role: 'user' | 'assistant'; text: string }[]): Anthropic.MessageParam[] {
  const out: Anthropic.MessageParam[] = [];
  for (const turn of history.slice(-HISTORY_TURNS)) {
    if (!turn.text.trim()) continue;
    const expected = out.length % 2 === 0 ? 'user' : 'assistant';
    if (turn.role !== expected) continue;
    out.push({ role: turn.role, content: turn.text });
  }
  if (out.at(-1)?.role === 'user') out.pop();
  return out;
}
