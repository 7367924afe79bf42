import fs from 'node:fs';
import path from 'node:path';
import type { Citation } from '../../core/agents/conversation/ask.ts';
import { converse, type TurnEvent, type TurnInput } from '../../core/agents/conversation/turn.ts';
import { BudgetGuard, monthlyBudgetFromEnv } from '../../core/agents/cost/Budget.ts';
import { providerSettingsFromEnv } from '../../core/agents/ProviderSettings.ts';
import { fileKind } from '../../core/captureFiles.ts';
import { UsageError } from '../CliError.ts';
import { parse, withCore } from '../context.ts';

export function optionalBudget(usd: number | undefined): { monthlyBudgetUsd?: number } {
  return usd === undefined ? {} : { monthlyBudgetUsd: usd };
}

const USAGE = 'usage: lva ask "question" | --audio FILE.wav [--conversation ID] [--capture-only] [--json]';

/**
 * `lva ask "question"`: one conversation turn. The answer streams to stdout as it comes, then its
 * sources and the ids to continue the conversation or rate the reply with.
 */
export async function askCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    conversation: { type: 'string' },
    audio: { type: 'string' },
    'capture-only': { type: 'boolean', default: false },
  });
  const text = positionals.join(' ');
  if (!text.trim() && !values.audio) throw new UsageError(USAGE);
  if (text.trim() && values.audio) throw new UsageError(`give the question as text or as --audio, not both; ${USAGE}`);
  const mode = values['capture-only'] ? 'capture' : 'ask';
  let input: TurnInput;
  if (values.audio) {
    if (!fs.existsSync(values.audio)) throw new UsageError(`no such file: ${values.audio}`);
    const bytes = fs.readFileSync(values.audio);
    const kind = fileKind(values.audio, bytes.subarray(0, 16));
    if (kind.source !== 'voice') throw new UsageError(`--audio needs a recording (WAV, WebM, Ogg, MP3, M4A), not ${kind.mime}`);
    input = { mode, audio: { bytes, mime: kind.mime, name: path.basename(values.audio) }, ...(values.conversation ? { conversationId: values.conversation } : {}) };
  } else {
    input = { mode, text, ...(values.conversation ? { conversationId: values.conversation } : {}) };
  }
  const settings = providerSettingsFromEnv();
  await withCore(values, async (core) => {
    await core.catchUpIndex();
    const budget = new BudgetGuard(core.usage, optionalBudget(monthlyBudgetFromEnv()));
    let conversationId = '';
    let said: Extract<TurnEvent, { type: 'said' }>['turn'] | undefined;
    let done: Extract<TurnEvent, { type: 'done' }> | undefined;
    let reply: Extract<TurnEvent, { type: 'reply' }>['turn'] | undefined;
    let retrieved = 0;
    for await (const event of converse(core, settings, input, { budget })) {
      if (event.type === 'conversation') conversationId = event.conversationId;
      else if (event.type === 'said') said = event.turn;
      else if (event.type === 'retrieved') retrieved = event.captures.length;
      else if (event.type === 'text' && !values.json) process.stdout.write(event.text);
      else if (event.type === 'dropped-citation') process.stderr.write(`lva: left out a citation of ${event.captureId}, which was not among the captures retrieved\n`);
      else if (event.type === 'done') done = event;
      else if (event.type === 'reply') reply = event.turn;
    }
    // A capture-only turn is searchable when the command returns, like `lva capture`.
    if (mode === 'capture') await core.drain();
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({
          conversationId,
          said: said?.text,
          ...(said?.captureId ? { captureId: said.captureId } : {}),
          ...(done ? { answer: done.answer, citations: done.citations, retrieved, model: done.model, usage: done.usage, turnId: reply?.id } : {}),
        })}\n`,
      );
      return;
    }
    if (mode === 'capture') {
      process.stdout.write(`captured ${said?.captureId ?? ''} in conversation ${conversationId}\n`);
      return;
    }
    process.stdout.write('\n');
    if (done && done.citations.length > 0) process.stdout.write(`\n${done.citations.map((c: Citation) => `[${c.n}] ${c.title || '(untitled)'}  ${c.captureId}`).join('\n')}\n`);
    if (reply) process.stderr.write(`(conversation ${conversationId}; rate this reply: lva feedback ${conversationId} ${reply.id} up|down)\n`);
  });
}

/** `lva feedback CONVERSATION TURN up|down [--correction TEXT]`. */
export async function feedbackCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { correction: { type: 'string' } });
  const [conversationId, turnId, rating] = positionals;
  if (!conversationId || !turnId || (rating !== 'up' && rating !== 'down')) throw new UsageError('usage: lva feedback CONVERSATION_ID TURN_ID up|down [--correction "what it should have said"]');
  await withCore(values, async (core) => {
    const stored = await (await core.conversations()).feedback(conversationId.toUpperCase(), turnId.toUpperCase(), { rating, ...(values.correction ? { correction: values.correction } : {}) });
    process.stdout.write(values.json ? `${JSON.stringify(stored)}\n` : `thanks: ${rating === 'up' ? 'answers like this will be shown as examples' : 'the captures it cited will rank lower for questions like this'}\n`);
  });
}

/** `lva conversations [ID]`: the list, or one conversation's turns. */
export async function conversationsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  await withCore(values, async (core) => {
    const conversations = await core.conversations();
    const [id] = positionals;
    if (!id) {
      const list = await conversations.list();
      if (values.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else process.stdout.write(list.map((c) => `${c.id}  ${new Date(c.lastAt).toISOString().slice(0, 16).replace('T', ' ')}  ${c.turns} turn(s)  ${c.title}`).join('\n') + (list.length ? '\n' : 'no conversations yet\n'));
      return;
    }
    const conversation = await conversations.get(id.toUpperCase());
    if (!conversation) throw new UsageError(`no conversation ${id}`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(conversation)}\n`);
      return;
    }
    const turns = Object.values(conversation.turns).sort((a, b) => a.at - b.at);
    for (const t of turns) {
      const who = t.role === 'user' ? (t.mode === 'capture' ? 'you (captured)' : 'you') : 'agent';
      const rated = t.feedback ? `  [${t.feedback.rating === 'up' ? '+' : '-'}]` : '';
      process.stdout.write(`${who} ${t.id}${rated}\n  ${t.text.replace(/\n/g, '\n  ')}\n${t.error ? `  (stopped: ${t.error})\n` : ''}`);
    }
  });
}
