import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicFake, type AnthropicFake, type RecordedRequest } from '../../../../test/fakes/anthropicFake.ts';
import { Core } from '../../Core.ts';
import { providerSettingsFromEnv, type ProviderSettings } from '../ProviderSettings.ts';
import { evaluateAnswers, type EvalCase } from './evaluation.ts';
import { converse, type TurnEvent, type TurnInput } from './turn.ts';

async function run(core: Core, settings: ProviderSettings, input: TurnInput): Promise<TurnEvent[]> {
  const out: TurnEvent[] = [];
  for await (const e of converse(core, settings, input)) out.push(e);
  return out;
}

function conversationOf(events: readonly TurnEvent[]): string {
  const e = events.find((x) => x.type === 'conversation');
  return e?.type === 'conversation' ? e.conversationId : '';
}

function lastMessage(request: RecordedRequest): string {
  const body = request.body as { messages: { content: string }[] };
  return body.messages.at(-1)!.content;
}

function shownIds(request: RecordedRequest): string[] {
  return [...lastMessage(request).matchAll(/<capture id="([0-9A-Z]+)"/g)].map((m) => m[1]!);
}

/** A model that answers from the first capture it is shown, and cites it: what the answer leads with. */
const citeFirst = (request: RecordedRequest) => ({ kind: 'text' as const, text: `From your notes: ${shownIds(request)[0] ? `see [[${shownIds(request)[0]}]]` : 'nothing'}.` });

describe('conversations: turns stored in Automerge, two modes, feedback', () => {
  let dir: string;
  let core: Core;
  let fake: AnthropicFake;
  let settings: ProviderSettings;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-conv-'));
    core = await Core.open({ dataDir: dir, background: false });
    fake = await startAnthropicFake({ defaultResponse: citeFirst });
    settings = providerSettingsFromEnv({ ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: fake.url, LVA_AI_MAX_RETRIES: '0', LVA_AI_TIMEOUT_MS: '3000' });
  });

  afterAll(async () => {
    await fake.close();
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('"just capture" stores what was said as a capture and a turn, and asks the model nothing', async () => {
    const before = fake.messageRequests().length;
    const events = await run(core, settings, { mode: 'capture', text: 'Octopuses have three hearts and blue blood' });
    expect(fake.messageRequests().length).toBe(before);
    const said = events.find((e) => e.type === 'said')!;
    expect(said.type === 'said' && said.turn.captureId).toBeTruthy();
    const conversationId = events.find((e) => e.type === 'conversation')!;
    const stored = await (await core.conversations()).get(conversationId.type === 'conversation' ? conversationId.conversationId : '');
    expect(Object.values(stored!.turns)).toMatchObject([{ role: 'user', mode: 'capture', text: 'Octopuses have three hearts and blue blood' }]);
    await core.drain();
    const hits = await core.search({ query: 'octopus hearts' });
    expect(hits.hits[0]?.id).toBe(said.type === 'said' ? said.turn.captureId : undefined);
  });

  it('"ask" answers with citations, stores the reply, and a follow-up carries the conversation', async () => {
    const note = await core.capture({ text: 'The Krebs cycle happens in the mitochondrial matrix' });
    await core.drain();
    const first = await run(core, settings, { mode: 'ask', text: 'where does the krebs cycle happen?' });
    const reply = first.find((e) => e.type === 'reply');
    expect(reply?.type === 'reply' && reply.turn).toMatchObject({ role: 'assistant', citations: [{ n: 1, captureId: note.id }] });
    // A question is not a capture: it would crowd the results it asks about.
    const said = first.find((e) => e.type === 'said');
    expect(said?.type === 'said' && said.turn.captureId).toBeUndefined();

    const conversationId = conversationOf(first);
    await run(core, settings, { mode: 'ask', conversationId, text: 'and what does it produce?' });
    const body = fake.messageRequests().at(-1)!.body as { messages: { role: string; content: string }[] };
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(body.messages[0]!.content).toBe('where does the krebs cycle happen?');
    const stored = await (await core.conversations()).get(conversationId);
    expect(Object.keys(stored!.turns)).toHaveLength(4);
  });

  it('keeps a reply that stopped part-way, with the reason', async () => {
    fake.script({ kind: 'cut', afterText: 'The answer starts here and then' });
    let conversationId = '';
    await expect(
      (async () => {
        for await (const e of converse(core, settings, { mode: 'ask', text: 'what about the matrix?' })) if (e.type === 'conversation') conversationId = e.conversationId;
      })(),
    ).rejects.toMatchObject({ code: 'AGENT_FAILED' });
    const turns = Object.values((await (await core.conversations()).get(conversationId))!.turns);
    expect(turns.find((t) => t.role === 'assistant')).toMatchObject({ text: expect.stringContaining('The answer starts') as string, error: expect.stringContaining('stopped part-way') as string });
  });

  it('refuses feedback on what the person said, and on turns that do not exist', async () => {
    const events = await run(core, settings, { mode: 'capture', text: 'Rivers meander because of erosion on the outer bank' });
    const conversationId = conversationOf(events);
    const saidEvent = events.find((e) => e.type === 'said');
    const said = saidEvent?.type === 'said' ? saidEvent.turn.id : '';
    const conversations = await core.conversations();
    await expect(conversations.feedback(conversationId, said, { rating: 'up' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(conversations.feedback(conversationId, '01JD3ZQ8X4M2N7P5R6S9T0ZZZZ', { rating: 'up' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(conversations.feedback('nonsense', said, { rating: 'up' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('offline evaluation: answers lead with the right capture more often once feedback is given', async () => {
    // Ambiguous words, each with the meaning this person cares about captured first (older) and the
    // other meaning captured later, so recency puts the wrong one first before any feedback.
    const senses: [string, string, string][] = [
      ['python', 'Python list comprehensions build a list from any iterable in one expression', 'Ball python snakes are constrictors that live in west Africa'],
      ['java', 'Java generics are erased at runtime, so List<String> and List<Integer> share one class', 'Java coffee beans are grown on the Indonesian island of the same name'],
      ['mercury', 'Mercury is the planet closest to the sun and has almost no atmosphere', 'Mercury is a metal that is liquid at room temperature and toxic'],
      ['jaguar', 'Jaguars are big cats with the strongest bite of any feline, hunting caimans', 'Jaguar the car maker was founded as the Swallow Sidecar Company'],
      ['spring', 'Spring dependency injection wires beans by constructor in the framework', 'Spring equinox is when day and night are of equal length'],
    ];
    const cases: EvalCase[] = [];
    const training: EvalCase[] = [];
    const start = Date.now() - 30 * 86_400_000;
    for (const [i, [word, wanted, other]] of senses.entries()) {
      const good = await core.capture({ text: wanted, createdAt: start + i * 1000 });
      await core.capture({ text: other, createdAt: Date.now() - i * 1000 });
      training.push({ question: `notes on ${word}`, relevant: [good.id] });
      cases.push({ question: `what did I note about ${word}?`, relevant: [good.id] });
    }
    await core.drain();
    const before = await evaluateAnswers(core, cases, { useFeedback: true });

    // The person asks the training questions and rates what comes back, as they would in the app.
    const conversations = await core.conversations();
    for (const c of training) {
      const events = await run(core, settings, { mode: 'ask', text: c.question });
      const conversationId = conversationOf(events);
      const reply = events.find((e) => e.type === 'reply');
      if (reply?.type !== 'reply') throw new Error('no reply');
      const good = reply.turn.citations?.some((x) => c.relevant.includes(x.captureId)) ?? false;
      await conversations.feedback(conversationId, reply.turn.id, good ? { rating: 'up' } : { rating: 'down', correction: `That is the other meaning; I meant ${c.question.slice(9)} in the sense of my first note.` });
    }
    const after = await evaluateAnswers(core, cases, { useFeedback: true });
    const ignoring = await evaluateAnswers(core, cases, { useFeedback: false });

    expect(before.hitAt1).toBeLessThan(1);
    expect(after.hitAt1).toBeGreaterThan(before.hitAt1);
    expect(after.hitAt1).toBe(1);
    expect(after.mrr).toBeGreaterThan(before.mrr);
    expect(after.withExamples).toBe(1);
    // Without the stored feedback the same retrieval is back where it started: the gain is the feedback's.
    expect(ignoring.hitAt1).toBe(before.hitAt1);
  });

  it('shows liked answers to similar questions to the model as examples', async () => {
    const note = await core.capture({ text: 'Photosynthesis turns light, water and CO2 into glucose and oxygen' });
    await core.drain();
    fake.script({ kind: 'text', text: `Plants make glucose from light [[${note.id}]].` });
    const events = await run(core, settings, { mode: 'ask', text: 'how does photosynthesis work?' });
    const reply = events.find((e) => e.type === 'reply');
    const conversationId = conversationOf(events);
    await (await core.conversations()).feedback(conversationId, reply?.type === 'reply' ? reply.turn.id : '', { rating: 'up' });

    await run(core, settings, { mode: 'ask', text: 'explain photosynthesis again' });
    const system = (fake.messageRequests().at(-1)!.body as { system: string }).system;
    expect(system).toContain('<example>');
    expect(system).toContain('Plants make glucose from light');
    // An unrelated question gets no examples.
    await run(core, settings, { mode: 'ask', text: 'when did the treaty of westphalia end the war?' });
    expect((fake.messageRequests().at(-1)!.body as { system: string }).system).not.toContain('<example>');
  });
});
