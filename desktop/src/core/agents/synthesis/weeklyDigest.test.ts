import type Anthropic from '@anthropic-ai/sdk';
import { Insight } from '@lva/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// The cloud API is a local fake that speaks its wire protocol; the real SDK talks to it.
import { startAnthropicFake, type AnthropicFake } from '../../../../test/fakes/anthropicFake.ts';
import { claudeClient } from '../claude.ts';
import { providerSettingsFromEnv, type ProviderSettings } from '../ProviderSettings.ts';
import { Digest, EXCERPT_CHARS, MAX_DIGEST_CAPTURES, selectCaptures, writeDigest, type DigestCapture } from './weeklyDigest.ts';
import { weekOf } from './weeks.ts';

const WEEK = weekOf(Date.UTC(2026, 2, 11));
const DAY = 86_400_000;

function capture(n: number, extra: Partial<DigestCapture> = {}): DigestCapture {
  return { id: `cap${n}`, title: `Note ${n}`, text: `What I learned, part ${n}.`, createdAt: WEEK.from + n * 60_000, concepts: [`idea ${n}`], ...extra };
}

function shownIds(body: Anthropic.MessageCreateParamsNonStreaming): string[] {
  return [...(body.messages[0]?.content as string).matchAll(/<capture id="([^"]+)"/g)].map((m) => m[1]!);
}

describe('writeDigest', () => {
  let fake: AnthropicFake;
  let settings: ProviderSettings;
  let client: Anthropic;

  beforeEach(async () => {
    fake = await startAnthropicFake();
    settings = providerSettingsFromEnv({ ANTHROPIC_API_KEY: 'test', ANTHROPIC_BASE_URL: fake.url, LVA_AI_MAX_RETRIES: '2', LVA_MODEL_SYNTHESIS: 'claude-synthesis-test' });
    client = claudeClient(settings, 'x');
  });
  afterEach(async () => {
    await fake.close();
  });

  it('sends the captures compactly to the synthesis model and keeps only citations of captures it was given', async () => {
    const captures = [
      capture(1, { title: 'Sourdough "starter"', text: `${'x'.repeat(EXCERPT_CHARS)}TAIL`, concepts: ['sourdough', 'fermentation'] }),
      capture(2, { createdAt: WEEK.from + 2 * DAY }),
    ];
    fake.script({
      kind: 'tool_use',
      name: 'record_digest',
      input: {
        summary: ' A week of bread. ',
        learned: [
          { text: 'Starters are wild yeast.', captureIds: ['cap1', 'cap9', 'cap1'] },
          { text: '   ', captureIds: ['cap2'] },
        ],
        themes: [{ text: 'Fermentation recurs.', captureIds: ['cap1', 'cap2', 'made-up'] }],
        questions: [],
        nextSteps: [{ text: 'Bake a loaf.', captureIds: [] }],
      },
      usage: { input_tokens: 800, output_tokens: 150 },
    });

    const result = await writeDigest(client, settings, { period: WEEK, captures });

    expect(result.digest).toEqual({
      summary: 'A week of bread.',
      learned: [{ text: 'Starters are wild yeast.', captureIds: ['cap1'] }],
      themes: [{ text: 'Fermentation recurs.', captureIds: ['cap1', 'cap2'] }],
      questions: [],
      nextSteps: [{ text: 'Bake a loaf.', captureIds: [] }],
    });
    expect(result.dropped).toEqual(['cap9', 'made-up']);
    expect(result.usage).toEqual({ inputTokens: 800, outputTokens: 150 });
    expect(result.model).toBe('claude-synthesis-test');

    const body = fake.messageRequests()[0]?.body as Anthropic.MessageCreateParamsNonStreaming;
    expect(body.model).toBe('claude-synthesis-test');
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'record_digest' });
    expect(body.tools?.[0]).toMatchObject({
      name: 'record_digest',
      input_schema: { type: 'object', required: ['summary', 'learned', 'themes', 'questions', 'nextSteps'] },
    });
    const content = body.messages[0]?.content as string;
    expect(content).toContain(WEEK.label);
    expect(content).toContain(`<capture id="cap1" date="${new Date(captures[0]!.createdAt).toISOString().slice(0, 10)}" title="Sourdough 'starter'" concepts="sourdough, fermentation">`);
    expect(content).not.toContain('TAIL');
    expect(shownIds(body)).toEqual(['cap1', 'cap2']);
  });

  it('stores as an Insight once given the fields the caller adds', async () => {
    const id = '01JD3ZQ8X4M2N7P5R6S9T0AAAA';
    fake.script({ kind: 'tool_use', name: 'record_digest', input: { summary: 'S', learned: [{ text: 'L', captureIds: [id] }], themes: [], questions: [], nextSteps: [] } });
    const { digest, model } = await writeDigest(client, settings, { period: WEEK, captures: [capture(1, { id })] });
    expect(digest.learned[0]?.captureIds).toEqual([id]);
    const insight = { id: `weekly:${WEEK.label}`, kind: 'weekly', period: WEEK, createdAt: 1, deviceId: 'd', model, ...digest };
    expect(Insight.safeParse(insight).success).toBe(true);
  });

  it('returns an empty digest without a request when nothing was captured', async () => {
    const result = await writeDigest(client, settings, { period: WEEK, captures: [] });
    expect(result.digest).toEqual({ summary: `Nothing was captured in ${WEEK.label}.`, learned: [], themes: [], questions: [], nextSteps: [] });
    expect(result.dropped).toEqual([]);
    expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
    expect(fake.requests).toHaveLength(0);
  });

  it.each([
    ['a missing section', { summary: 'S', learned: [], themes: [], questions: [] }],
    ['items of the wrong shape', { summary: 'S', learned: ['a point'], themes: [], questions: [], nextSteps: [] }],
    ['citations that are not a list', { summary: 'S', learned: [{ text: 'L', captureIds: 'cap1' }], themes: [], questions: [], nextSteps: [] }],
  ])('rejects %s as AGENT_BAD_OUTPUT', async (_what, input) => {
    fake.script({ kind: 'tool_use', name: 'record_digest', input });
    await expect(writeDigest(client, settings, { period: WEEK, captures: [capture(1)] })).rejects.toMatchObject({ code: 'AGENT_BAD_OUTPUT' });
  });

  it('sends at most MAX_DIGEST_CAPTURES, says how many were left out, and drops citations of those', async () => {
    const captures = Array.from({ length: MAX_DIGEST_CAPTURES + 5 }, (_, i) => capture(i, { concepts: i < 5 ? [] : ['a', 'b'] }));
    fake.script({ kind: 'tool_use', name: 'record_digest', input: { summary: 'Busy.', learned: [{ text: 'L', captureIds: ['cap0', 'cap7'] }], themes: [], questions: [], nextSteps: [] } });

    const result = await writeDigest(client, settings, { period: WEEK, captures });

    const body = fake.messageRequests()[0]?.body as Anthropic.MessageCreateParamsNonStreaming;
    const ids = shownIds(body);
    expect(ids).toHaveLength(MAX_DIGEST_CAPTURES);
    // The five without concepts are the ones left out.
    expect(ids).not.toContain('cap0');
    expect(ids[0]).toBe('cap5');
    expect(body.messages[0]?.content).toContain('5 more captures');
    expect(result.dropped).toEqual(['cap0']);
    expect(result.digest.learned).toEqual([{ text: 'L', captureIds: ['cap7'] }]);
  });
});

describe('selectCaptures', () => {
  it('keeps those with most concepts, newer first among equals, and returns them oldest first', () => {
    const captures = [capture(1, { concepts: ['a'] }), capture(2, { concepts: [] }), capture(3, { concepts: ['a'] }), capture(4, { concepts: ['a', 'b'] })];
    expect(selectCaptures(captures, 2).map((c) => c.id)).toEqual(['cap3', 'cap4']);
    expect(selectCaptures(captures, 10).map((c) => c.id)).toEqual(['cap1', 'cap2', 'cap3', 'cap4']);
  });
});

describe('Digest schema', () => {
  it('is exported for callers that store or show digests', () => {
    expect(Digest.safeParse({ summary: '', learned: [], themes: [], questions: [], nextSteps: [] }).success).toBe(true);
  });
});
