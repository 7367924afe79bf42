import type Anthropic from '@anthropic-ai/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// The cloud API is a local fake that speaks its wire protocol; the real SDK talks to it.
import { startAnthropicFake, type AnthropicFake } from '../../../../test/fakes/anthropicFake.ts';
import { claudeClient } from '../claude.ts';
import { providerSettingsFromEnv, type ProviderSettings } from '../ProviderSettings.ts';
import { capText, extractConcepts, MAX_TEXT_CHARS } from './extractConcepts.ts';

const NOTE = { title: 'Spaced repetition', text: 'Spaced repetition beats cramming because of the forgetting curve.', source: 'voice' };

describe('extractConcepts', () => {
  let fake: AnthropicFake;
  let settings: ProviderSettings;
  let client: Anthropic;

  beforeEach(async () => {
    fake = await startAnthropicFake();
    settings = providerSettingsFromEnv({ ANTHROPIC_API_KEY: 'test', ANTHROPIC_BASE_URL: fake.url, LVA_AI_MAX_RETRIES: '2', LVA_MODEL_ANALYSIS: 'claude-analysis-test' });
    client = claudeClient(settings, 'x');
  });
  afterEach(async () => {
    await fake.close();
  });

  it('asks the analysis model through record_concepts and returns tidied concepts and relations', async () => {
    fake.script({
      kind: 'tool_use',
      name: 'record_concepts',
      input: {
        concepts: [
          { name: '  Spaced repetition ', type: 'Technique', importance: 0.9 },
          { name: 'forgetting curve', type: 'term', importance: 0.6 },
          { name: 'Cramming', type: 'technique', importance: 0.4 },
          // The same concept again, more strongly: it wins, under its own spelling.
          { name: 'Forgetting curves', type: 'term', importance: 0.8 },
          { name: '???', type: 'other', importance: 0.1 },
        ],
        relations: [
          { from: 'spaced repetition', to: 'cramming', kind: 'contrasts_with' },
          { from: 'Forgetting curve', to: 'Spaced repetition', kind: 'causes' },
          // Endpoints not among the concepts, a self-link, and a repeat: all dropped.
          { from: 'Spaced repetition', to: 'Anki', kind: 'related_to' },
          { from: 'Memory', to: 'Cramming', kind: 'related_to' },
          { from: 'Cramming', to: 'cramming', kind: 'related_to' },
          { from: 'Spaced Repetition', to: 'Cramming', kind: 'contrasts_with' },
        ],
      },
      usage: { input_tokens: 120, output_tokens: 60 },
    });

    const result = await extractConcepts(client, settings, NOTE);

    expect(result.concepts).toEqual([
      { name: 'Spaced repetition', type: 'technique', importance: 0.9 },
      { name: 'Forgetting curves', type: 'term', importance: 0.8 },
      { name: 'Cramming', type: 'technique', importance: 0.4 },
    ]);
    expect(result.relations).toEqual([
      { from: 'Spaced repetition', to: 'Cramming', kind: 'contrasts_with' },
      { from: 'Forgetting curves', to: 'Spaced repetition', kind: 'causes' },
    ]);
    expect(result.usage).toEqual({ inputTokens: 120, outputTokens: 60 });
    expect(result.model).toBe('claude-analysis-test');

    const body = fake.messageRequests()[0]?.body as Anthropic.MessageCreateParamsNonStreaming;
    expect(body.model).toBe('claude-analysis-test');
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'record_concepts' });
    expect(body.tools?.[0]).toMatchObject({ name: 'record_concepts', input_schema: { type: 'object', required: ['concepts', 'relations'] } });
    expect(body.system).toMatch(/not every noun/i);
    const content = body.messages[0]?.content as string;
    expect(content).toContain('source="voice"');
    expect(content).toContain('title="Spaced repetition"');
    expect(content).toContain(NOTE.text);
  });

  it('says which concept types it wants, and lists the relation kinds in the schema', async () => {
    fake.script({ kind: 'tool_use', name: 'record_concepts', input: { concepts: [], relations: [] } });
    await extractConcepts(client, settings, NOTE);
    const body = fake.messageRequests()[0]?.body as Anthropic.MessageCreateParamsNonStreaming;
    const schema = JSON.stringify((body.tools?.[0] as Anthropic.Tool).input_schema);
    expect(schema).toContain('topic, technique, person, tool, term, place, event, other');
    expect(schema).toContain('"enum":["related_to","part_of","causes","example_of","contrasts_with"]');
  });

  it.each([
    ['an importance out of range', { concepts: [{ name: 'A', type: 'term', importance: 7 }], relations: [] }],
    ['an unknown relation kind', { concepts: [{ name: 'A', type: 'term', importance: 1 }, { name: 'B', type: 'term', importance: 1 }], relations: [{ from: 'A', to: 'B', kind: 'loves' }] }],
    ['a missing field', { concepts: [{ name: 'A', type: 'term', importance: 1 }] }],
    ['wrong types', { concepts: 'A, B', relations: [] }],
    ['too many concepts', { concepts: Array.from({ length: 31 }, (_, i) => ({ name: `c${i}`, type: 'term', importance: 0.5 })), relations: [] }],
  ])('rejects %s as AGENT_BAD_OUTPUT', async (_what, input) => {
    fake.script({ kind: 'tool_use', name: 'record_concepts', input });
    await expect(extractConcepts(client, settings, NOTE)).rejects.toMatchObject({ code: 'AGENT_BAD_OUTPUT' });
  });

  it('rejects a plain text reply as AGENT_BAD_OUTPUT', async () => {
    fake.script({ kind: 'text', text: 'The concepts are spaced repetition and cramming.' });
    await expect(extractConcepts(client, settings, NOTE)).rejects.toMatchObject({ code: 'AGENT_BAD_OUTPUT' });
  });

  it('makes no request for empty text', async () => {
    const result = await extractConcepts(client, settings, { title: 'Empty', text: '  \n ', source: 'text' });
    expect(result).toEqual({ concepts: [], relations: [], usage: { inputTokens: 0, outputTokens: 0 }, model: '' });
    expect(fake.requests).toHaveLength(0);
  });

  it('sends at most about MAX_TEXT_CHARS of a long text', async () => {
    fake.script({ kind: 'tool_use', name: 'record_concepts', input: { concepts: [], relations: [] } });
    const text = 'A sentence about learning. '.repeat(2000);
    await extractConcepts(client, settings, { title: '', text, source: 'document' });
    const content = (fake.messageRequests()[0]?.body as Anthropic.MessageCreateParamsNonStreaming).messages[0]?.content as string;
    expect(content.length).toBeLessThan(MAX_TEXT_CHARS + 200);
    expect(content).toContain('the rest of the text is not shown');
    expect(content).not.toContain('title=');
  });
});

describe('capText', () => {
  it('leaves short text alone and cuts long text at a sentence end', () => {
    expect(capText('short', 100)).toBe('short');
    const cut = capText('One two three. Four five six. Seven eight nine.', 34);
    expect(cut.startsWith('One two three. Four five six.')).toBe(true);
    expect(cut).not.toContain('Seven');
  });
});
