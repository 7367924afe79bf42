import Anthropic from '@anthropic-ai/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
// The cloud API is a local fake that speaks its wire protocol; the real SDK talks to it.
import { startAnthropicFake, type AnthropicFake } from '../../../test/fakes/anthropicFake.ts';
import { CoreError } from '../errors.ts';
import { claudeClient } from './claude.ts';
import { providerSettingsFromEnv } from './ProviderSettings.ts';
import { callTool, isRetryable, toolInputSchema } from './structured.ts';
import { failure } from '../../../test/failure.ts';

const Answer = z.object({ title: z.string().min(1), score: z.number().min(0).max(1), tags: z.array(z.string()).max(3) });

const TOOL = { name: 'record_answer', description: 'Record the answer.', schema: Answer };


describe('callTool: one forced, validated tool call', () => {
  let fake: AnthropicFake;
  let client: Anthropic;
  const call = (): ReturnType<typeof callTool<z.infer<typeof Answer>>> =>
    callTool(client, { model: 'claude-test', system: 'Be useful.', content: 'Rate this.', tool: TOOL, maxTokens: 500 });

  beforeEach(async () => {
    fake = await startAnthropicFake();
    const settings = providerSettingsFromEnv({ ANTHROPIC_API_KEY: 'test', ANTHROPIC_BASE_URL: fake.url, LVA_AI_MAX_RETRIES: '2' });
    client = claudeClient(settings, 'x');
  });
  afterEach(async () => {
    await fake.close();
  });

  it('sends the tool with its JSON schema, forces it, and returns the validated input with usage and model', async () => {
    const input = { title: 'Good', score: 0.5, tags: ['a'] };
    fake.script({ kind: 'tool_use', name: 'record_answer', input, usage: { input_tokens: 40, output_tokens: 9 } });

    const result = await call();

    expect(result).toEqual({ value: input, usage: { inputTokens: 40, outputTokens: 9 }, model: 'claude-test' });
    const [request] = fake.messageRequests();
    const body = request?.body as Anthropic.MessageCreateParamsNonStreaming;
    expect(body.stream).toBeUndefined();
    expect(body.model).toBe('claude-test');
    expect(body.max_tokens).toBe(500);
    expect(body.system).toBe('Be useful.');
    expect(body.messages).toEqual([{ role: 'user', content: 'Rate this.' }]);
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'record_answer' });
    expect(body.tools).toHaveLength(1);
    const tool = body.tools?.[0] as Anthropic.Tool;
    expect(tool.name).toBe('record_answer');
    expect(tool.description).toBe('Record the answer.');
    expect(tool.input_schema).not.toHaveProperty('$schema');
    expect(tool.input_schema).toMatchObject({
      type: 'object',
      required: ['title', 'score', 'tags'],
      properties: { score: { type: 'number', minimum: 0, maximum: 1 }, tags: { type: 'array', maxItems: 3 } },
    });
  });

  it('reports a text reply instead of a tool call as bad output, quoting what the model said', async () => {
    fake.script({ kind: 'text', text: 'I would rather not use tools.' });
    const err = await failure(call());
    expect(err.code).toBe('AGENT_BAD_OUTPUT');
    expect(err.message).toContain('did not call record_answer');
    expect(err.message).toContain('I would rather not');
  });

  it('reports a call to another tool as bad output', async () => {
    fake.script({ kind: 'tool_use', name: 'something_else', input: {} });
    const err = await failure(call());
    expect(err.code).toBe('AGENT_BAD_OUTPUT');
    expect(err.message).toContain('something_else');
  });

  it('reports invalid input as bad output, naming the first issues by path', async () => {
    fake.script({ kind: 'tool_use', name: 'record_answer', input: { title: 42, score: 7, tags: ['a', 'b', 'c', 'd'] } });
    const err = await failure(call());
    expect(err.code).toBe('AGENT_BAD_OUTPUT');
    expect(err.message).toMatch(/record_answer input is invalid: title: .*; score: .*; tags: /);
    expect(isRetryable(err)).toBe(false);
  });

  it('reports a missing field as bad output', async () => {
    fake.script({ kind: 'tool_use', name: 'record_answer', input: { title: 'Good', tags: [] } });
    const err = await failure(call());
    expect(err.code).toBe('AGENT_BAD_OUTPUT');
    expect(err.message).toContain('score');
  });

  it('succeeds when an overload clears: the SDK waits as told and retries', async () => {
    fake.script({ kind: 'error', status: 529, retryAfterMs: 20 }, { kind: 'tool_use', name: 'record_answer', input: { title: 'Later', score: 1, tags: [] } });
    const result = await call();
    expect(result.value.title).toBe('Later');
    expect(fake.messageRequests()).toHaveLength(2);
  });

  it('gives up on a persistent 500 after the retries as AGENT_FAILED, keeping the status and marking it retryable', async () => {
    const error = { kind: 'error', status: 500, retryAfterMs: 1, message: 'server on fire' } as const;
    fake.script(error, error, error);
    const err = await failure(call());
    expect(err.code).toBe('AGENT_FAILED');
    expect(err.message).toContain('HTTP 500');
    expect(err.message).toContain('server on fire');
    expect(isRetryable(err)).toBe(true);
    expect(fake.messageRequests()).toHaveLength(3);
  });

  it('fails a rejected request for good: not retryable', async () => {
    fake.script({ kind: 'error', status: 400, message: 'bad schema' });
    const err = await failure(call());
    expect(err.code).toBe('AGENT_FAILED');
    expect(err.message).toContain('HTTP 400');
    expect(isRetryable(err)).toBe(false);
    expect(fake.messageRequests()).toHaveLength(1);
  });

  it('stops when cancelled, as CANCELLED and not retryable', async () => {
    fake.script({ kind: 'hang' });
    const controller = new AbortController();
    const pending = failure(callTool(client, { model: 'claude-test', system: 's', content: 'c', tool: TOOL, signal: controller.signal }));
    await fake.waitForRequests(1);
    controller.abort();
    const err = await pending;
    expect(err.code).toBe('CANCELLED');
    expect(isRetryable(err)).toBe(false);
  });

  it('treats a refused key as a setting to fix, not a failure', async () => {
    fake.script({ kind: 'error', status: 401, message: 'invalid x-api-key' });
    const err = await failure(call());
    expect(err.code).toBe('NOT_CONFIGURED');
    expect(err.message).toContain('ANTHROPIC_API_KEY');
  });
});

describe('callTool with no provider to reach', () => {
  it('fails as AGENT_FAILED, retryable, keeping the connection error as its cause', async () => {
    const fake = await startAnthropicFake();
    const url = fake.url;
    await fake.close();
    const client = claudeClient(providerSettingsFromEnv({ ANTHROPIC_API_KEY: 'test', ANTHROPIC_BASE_URL: url, LVA_AI_MAX_RETRIES: '0' }), 'x');
    const err = await failure(callTool(client, { model: 'claude-test', system: 's', content: 'c', tool: TOOL }));
    expect(err.code).toBe('AGENT_FAILED');
    expect(isRetryable(err)).toBe(true);
    expect(err.cause).toBeInstanceOf(Anthropic.APIConnectionError);
  });
});

describe('isRetryable', () => {
  it('is false for anything not marked or not from the API', () => {
    expect(isRetryable(new Error('boom'))).toBe(false);
    expect(isRetryable(new CoreError('AGENT_BAD_OUTPUT', 'nope'))).toBe(false);
    expect(isRetryable('text')).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
    expect(isRetryable(Object.assign(new CoreError('AGENT_FAILED', 'x'), { retryable: true }))).toBe(true);
  });
});

describe('toolInputSchema', () => {
  it('refuses a schema that is not an object, which the API would reject', () => {
    expect(() => toolInputSchema(z.array(z.string()))).toThrow(/must be an object/);
  });
});
