import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
// The cloud API is a local fake that speaks its wire protocol; the real SDK talks to it.
import { startAnthropicFake, type AnthropicFake, type RecordedRequest } from '../../../../test/fakes/anthropicFake.ts';
import { Core } from '../../Core.ts';
import { BudgetGuard } from '../cost/Budget.ts';
import { providerSettingsFromEnv, type ProviderSettings } from '../ProviderSettings.ts';
import { ask, type AskEvent } from './ask.ts';

const NOTES = [
  'Mitochondria turn glucose into ATP, the energy currency of the cell',
  'Sourdough starter is a culture of wild yeast and lactobacilli',
  'The Treaty of Westphalia in 1648 ended the Thirty Years War',
];
const MADE_UP = '01JD3ZQ8X4M2N7P5R6S9T0ZZZZ';

/** The ids the request put in front of the model, in order. */
function shownIds(request: RecordedRequest): string[] {
  const body = request.body as { messages: { content: string }[] };
  return [...body.messages[0]!.content.matchAll(/<capture id="([0-9A-Z]+)"/g)].map((m) => m[1]!);
}

async function collect(events: AsyncIterable<AskEvent>): Promise<AskEvent[]> {
  const out: AskEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('ask: a grounded answer with citations', () => {
  let dir: string;
  let core: Core;
  let fake: AnthropicFake;
  let settings: ProviderSettings;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-ask-'));
    core = await Core.open({ dataDir: dir, background: false });
    for (const text of NOTES) ids.set(text, (await core.capture({ text, title: text.split(' ').slice(0, 3).join(' ') })).id);
    await core.drain();
    fake = await startAnthropicFake();
  });

  beforeEach(() => {
    settings = providerSettingsFromEnv({ ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: fake.url, LVA_AI_MAX_RETRIES: '1', LVA_AI_TIMEOUT_MS: '2000' });
  });

  afterAll(async () => {
    await fake.close();
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('retrieves the relevant capture, streams the answer, numbers its citation and drops one it was never shown', async () => {
    const mito = ids.get(NOTES[0]!)!;
    fake.script((request) => {
      const shown = shownIds(request);
      return { kind: 'text', text: `Cells get energy from ATP made in mitochondria [[${shown[0]}]]. Also bread [[${MADE_UP}]].`, chunkSize: 5, usage: { input_tokens: 321, output_tokens: 42 } };
    });
    const events = await collect(ask(core, settings, 'how do cells get their energy?'));

    const request = fake.messageRequests().at(-1)!;
    const body = request.body as { model: string; system: string; messages: { content: string }[] };
    expect(body.model).toBe(settings.models.chat);
    expect(body.system).toMatch(/\[\[ID\]\]/);
    // Grounded: the capture about mitochondria is retrieved first and its text is in the prompt.
    expect(shownIds(request)[0]).toBe(mito);
    expect(body.messages[0]!.content).toContain(NOTES[0]);

    expect(events[0]).toMatchObject({ type: 'retrieved' });
    expect(events.filter((e) => e.type === 'text').length).toBeGreaterThan(3);
    expect(events).toContainEqual({ type: 'citation', citation: { n: 1, captureId: mito, title: 'Mitochondria turn glucose' } });
    expect(events).toContainEqual({ type: 'dropped-citation', captureId: MADE_UP });
    const done = events.at(-1)!;
    expect(done).toMatchObject({
      type: 'done',
      answer: 'Cells get energy from ATP made in mitochondria [1]. Also bread .',
      citations: [{ n: 1, captureId: mito }],
      usage: { inputTokens: 321, outputTokens: 42 },
    });
  });

  it('retries a rate limit as the API asks, then answers', async () => {
    const before = fake.messageRequests().length;
    fake.script({ kind: 'error', status: 429, retryAfterMs: 50 }, { kind: 'text', text: 'after the wait' });
    const done = (await collect(ask(core, settings, 'sourdough'))).at(-1);
    expect(done).toMatchObject({ type: 'done', answer: 'after the wait' });
    expect(fake.messageRequests().length - before).toBe(2);
  });

  it('reports a stream cut off part-way, and one that goes quiet, as failures to ask again', async () => {
    fake.script({ kind: 'cut', afterText: 'The treaty was' });
    await expect(collect(ask(core, settings, 'westphalia'))).rejects.toMatchObject({ code: 'AGENT_FAILED', message: expect.stringMatching(/stopped part-way.*Ask again/) as string });
    fake.script({ kind: 'stall', afterText: 'Thinking' });
    const quick = { ...settings, timeoutMs: 300 };
    await expect(collect(ask(core, quick, 'westphalia'))).rejects.toMatchObject({ code: 'AGENT_FAILED', message: expect.stringMatching(/no data from the model/) as string });
  });

  it('records the tokens and cost of each answer, and pauses once the monthly budget is spent', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const before = core.usage.monthTotal(month);
    fake.script({ kind: 'text', text: 'Counted.', usage: { input_tokens: 1000, output_tokens: 200 } });
    await collect(ask(core, settings, 'mitochondria'));
    const after = core.usage.monthTotal(month);
    expect(after.calls - before.calls).toBe(1);
    expect(after.inputTokens - before.inputTokens).toBe(1000);
    expect(after.outputTokens - before.outputTokens).toBe(200);
    expect(after.byRole.chat.costMicroUsd).toBeGreaterThan(before.byRole.chat.costMicroUsd);

    const sent = fake.requests.length;
    const spent = new BudgetGuard(core.usage, { monthlyBudgetUsd: after.costUsd / 2 });
    await expect(collect(ask(core, settings, 'mitochondria', { budget: spent }))).rejects.toMatchObject({
      code: 'BUDGET_SPENT',
      message: expect.stringMatching(/monthly AI budget .* is spent/) as string,
    });
    expect(fake.requests.length).toBe(sent);
    const roomy = new BudgetGuard(core.usage, { monthlyBudgetUsd: 100 });
    fake.script({ kind: 'text', text: 'Within budget.' });
    expect((await collect(ask(core, settings, 'mitochondria', { budget: roomy }))).at(-1)).toMatchObject({ type: 'done', answer: 'Within budget.' });
  });

  it('without a key, says which setting is missing and sends nothing', async () => {
    const before = fake.requests.length;
    const keyless = providerSettingsFromEnv({ ANTHROPIC_BASE_URL: fake.url });
    await expect(collect(ask(core, keyless, 'anything'))).rejects.toMatchObject({ code: 'NOT_CONFIGURED', message: expect.stringContaining('ANTHROPIC_API_KEY') as string });
    expect(fake.requests.length).toBe(before);
  });
});
