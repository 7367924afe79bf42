import { orderedTurns, type Conversation, type Turn } from '@lva/shared';
import type { Core } from '../../Core.ts';
import { CoreError } from '../../errors.ts';
import type { ProviderSettings } from '../ProviderSettings.ts';
import { ask, type AskEvent, type AskOptions } from './ask.ts';
import { retrieve, type Retrieved } from '../research/retrieve.ts';
import { collectFeedback, fewShotExamples, rankingAdjustments, type FeedbackExample } from './feedback.ts';

export type TurnInput = {
  /** Continues a conversation; a new one is started when absent. */
  conversationId?: string;
  /** 'capture' stores what was said and replies nothing; 'ask' answers from the captures. */
  mode: 'capture' | 'ask';
} & ({ text: string } | { audio: { bytes: Uint8Array; mime: string; name?: string } });

export type TurnEvent =
  | { type: 'conversation'; conversationId: string; started: boolean }
  /** What the person said, as stored (a voice turn carries its transcript). */
  | { type: 'said'; turn: Turn }
  | AskEvent
  /** The reply as stored, with the id that feedback refers to. */
  | { type: 'reply'; turn: Turn };

/**
 * One turn of a conversation, as the app and the CLI run it. The person's words are stored first,
 * so nothing they said is lost if the model call fails. In 'capture' mode they become a capture and
 * the turn ends there; in 'ask' mode they are a question (not a capture: questions would crowd the
 * search results they are asking about) and the reply streams as it is written, then is stored with
 * its citations. Past feedback shapes the answer: liked answers to similar questions become examples,
 * and captures cited by rated answers move up or down in retrieval.
 */
export async function* converse(core: Core, settings: ProviderSettings, input: TurnInput, options: Pick<AskOptions, 'budget' | 'client'> = {}): AsyncGenerator<TurnEvent> {
  const conversations = await core.conversations();
  let text: string;
  let source: 'text' | 'voice' = 'text';
  if ('audio' in input) {
    text = (await core.transcribe(input.audio)).text;
    source = 'voice';
    if (!text.trim()) throw new CoreError('BAD_INPUT', 'no speech was heard in the recording');
  } else {
    text = input.text;
  }
  if (!text.trim()) throw new CoreError('BAD_INPUT', input.mode === 'ask' ? 'the question is empty' : 'there is nothing to capture');
  let existing: Conversation | undefined;
  if (input.conversationId) {
    existing = await conversations.get(input.conversationId);
    if (!existing) throw new CoreError('NOT_FOUND', `no conversation ${input.conversationId}`);
  }
  // Retrieval starts now and runs while what was said is written down: a voice turn's wait for its
  // first word is the sum of these steps, and neither needs the other.
  let retrieval: Promise<{ captures: Retrieved[]; mode: 'hybrid' | 'keyword' }> | undefined;
  let feedback: FeedbackExample[] = [];
  if (input.mode === 'ask') {
    feedback = collectFeedback(await conversations.all());
    retrieval = retrieve(core, text, { adjustments: rankingAdjustments(feedback, text) });
    // Awaited by ask(); this only keeps a failure from counting as unhandled while the turn is stored.
    retrieval.catch(() => undefined);
  }
  const started = !existing;
  const conversation = existing ?? (await conversations.start(text.trim().split(/\r?\n/, 1)[0]!.slice(0, 80)));
  yield { type: 'conversation', conversationId: conversation.id, started };

  const history = orderedTurns(conversation).map((t) => ({ role: t.role, text: t.text }));
  let captureId: string | undefined;
  if (input.mode === 'capture') captureId = (await core.capture({ text, source })).id;
  const said = await conversations.addTurn(conversation.id, { role: 'user', mode: input.mode, text, ...(captureId ? { captureId } : {}) });
  yield { type: 'said', turn: said };
  if (input.mode === 'capture' || !retrieval) return;

  let answer = '';
  try {
    for await (const event of ask(core, settings, text, {
      ...options,
      history,
      examples: fewShotExamples(feedback, text),
      retrieval,
    })) {
      if (event.type === 'text') answer += event.text;
      yield event;
      if (event.type === 'done') {
        const reply = await conversations.addTurn(conversation.id, {
          role: 'assistant',
          mode: 'ask',
          text: event.answer,
          retrieved: event.retrieved,
          citations: event.citations.map(({ n, captureId: id }) => ({ n, captureId: id })),
          model: event.model,
        });
        yield { type: 'reply', turn: reply };
      }
    }
  } catch (err) {
    // What arrived before the failure is kept, with the reason, so the conversation shows what happened.
    if (answer) await conversations.addTurn(conversation.id, { role: 'assistant', mode: 'ask', text: answer, error: (err as Error).message.slice(0, 2000) });
    throw err;
  }
}
