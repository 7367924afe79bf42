import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { toFile } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAnthropicFake } from './anthropicFake.ts';
import type { AnthropicFake } from './anthropicFake.ts';
import { parseMultipart } from './multipart.ts';
import { startOpenAIFake } from './openaiFake.ts';
import type { OpenAIFake } from './openaiFake.ts';

const MODEL = 'claude-test-model';
const KEY = 'sk-ant-test';

const user = (text: string): Anthropic.MessageParam[] => [{ role: 'user', content: text }];

describe('anthropic fake, driven by the real SDK', () => {
  let fake: AnthropicFake;
  let client: Anthropic;
  beforeEach(async () => {
    fake = await startAnthropicFake();
    client = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
  });
  afterEach(async () => {
    await fake.close();
  });

  it('answers messages.create with the scripted text and usage', async () => {
    fake.script({ kind: 'text', text: 'Hello there.', usage: { input_tokens: 12, output_tokens: 3 } });
    const message = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('hi') });

    expect(message.content).toEqual([{ type: 'text', text: 'Hello there.', citations: null }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.model).toBe(MODEL);
    expect(message.usage.input_tokens).toBe(12);
    expect(message.usage.output_tokens).toBe(3);
    expect(message._request_id).toMatch(/^req_fake/);

    const [request] = fake.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/v1/messages');
    expect(request?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request?.headers['anthropic-version']).toBeTruthy();
    expect(request?.body).toMatchObject({ model: MODEL, max_tokens: 100, messages: user('hi') });
  });

  it('echoes the last user message when nothing is scripted', async () => {
    const message = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'text', text: 'second' }] },
      ],
    });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'echo: second' });
    // Without a scripted figure, usage is still non-zero so cost code has something to add up.
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('streams text deltas that messages.stream reassembles, with usage from message_delta', async () => {
    fake.script({ kind: 'text', text: 'One two three four five.', chunkSize: 5, usage: { input_tokens: 40, output_tokens: 7 } });
    const deltas: string[] = [];
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('count') });
    stream.on('text', (delta) => deltas.push(delta));
    const final = await stream.finalMessage();

    expect(deltas).toEqual(['One t', 'wo th', 'ree f', 'our f', 'ive.']);
    expect(final.content).toEqual([{ type: 'text', text: 'One two three four five.', citations: null }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage).toMatchObject({ input_tokens: 40, output_tokens: 7 });
    expect(fake.requests[0]?.body).toMatchObject({ stream: true });
  });

  it('streams raw events in the order the API sends them', async () => {
    fake.script({ kind: 'text', text: 'abcdef', chunkSize: 3, usage: { input_tokens: 9, output_tokens: 2 } });
    const stream = await client.messages.create({ model: MODEL, max_tokens: 10, messages: user('x'), stream: true });
    const types: string[] = [];
    let startUsage: Anthropic.Usage | undefined;
    let deltaUsage: Anthropic.MessageDeltaUsage | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'message_start') startUsage = event.message.usage;
      if (event.type === 'message_delta') deltaUsage = event.usage;
    }
    // The SDK drops `ping`, so it never shows here though the fake sends one.
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(startUsage).toMatchObject({ input_tokens: 9, output_tokens: 1 });
    expect(deltaUsage).toMatchObject({ input_tokens: 9, output_tokens: 2 });
  });

  it('streams a tool call whose partial JSON parses back to the input object', async () => {
    const input = { query: 'spaced repetition', limit: 3, filters: { tags: ['memory', 'ü'] } };
    fake.script({ kind: 'tool_use', name: 'search_notes', input, text: 'Let me look.', chunkSize: 4 });
    const jsonDeltas: string[] = [];
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 100,
      messages: user('find notes'),
      tools: [{ name: 'search_notes', description: 'search', input_schema: { type: 'object' } }],
    });
    stream.on('inputJson', (partial) => jsonDeltas.push(partial));
    const final = await stream.finalMessage();

    expect(jsonDeltas.length).toBeGreaterThan(3);
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Let me look.' });
    expect(final.content[1]).toMatchObject({ type: 'tool_use', name: 'search_notes', input });
  });

  it('returns a tool call from messages.create too', async () => {
    fake.script({ kind: 'tool_use', name: 'save', input: { title: 't' }, id: 'toolu_fixed' });
    const message = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('save it') });
    expect(message.content).toEqual([{ type: 'tool_use', id: 'toolu_fixed', name: 'save', input: { title: 't' }, caller: { type: 'direct' } }]);
    expect(message.stop_reason).toBe('tool_use');
  });

  it('lets the SDK retry a 429 with retry-after and then succeed', async () => {
    const retrying = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 1 });
    fake.script({ kind: 'error', status: 429, retryAfterSeconds: 1, message: 'slow down' }, { kind: 'text', text: 'after the wait' });
    const message = await retrying.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') });

    expect(message.content[0]).toMatchObject({ text: 'after the wait' });
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests.map((r) => r.answeredWith)).toEqual(['error', 'text']);
    // The SDK numbers its attempts, which lets a test tell a retry from a second call.
    expect(fake.requests.map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '1']);
  });

  it('surfaces a 429 as RateLimitError with the body the API sends once retries run out', async () => {
    fake.script({ kind: 'error', status: 429, retryAfterMs: 10, message: 'slow down' });
    const error = await client.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const rateLimit = error as InstanceType<typeof Anthropic.RateLimitError>;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.type).toBe('rate_limit_error');
    expect(rateLimit.apiMessage).toBe('slow down');
    expect(rateLimit.headers.get('retry-after-ms')).toBe('10');
    expect(rateLimit.requestID).toMatch(/^req_fake/);
  });

  it('maps 529 to the SDK InternalServerError with type overloaded_error', async () => {
    fake.script({ kind: 'error', status: 529 });
    const error = await client.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('overloaded_error');
  });

  it('rejects the SDK stream when the connection is cut mid-stream', async () => {
    fake.script({ kind: 'cut', afterText: 'partial answer that never', chunkSize: 6 });
    const deltas: string[] = [];
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('x') });
    stream.on('text', (delta) => deltas.push(delta));
    const error = await stream.finalMessage().catch((e: unknown) => e);

    // Observed with @anthropic-ai/sdk 1.12 on Node 22: undici fails the body read with
    // `TypeError: terminated` (cause: SocketError 'other side closed'); MessageStream wraps any
    // non-SDK error in a plain AnthropicError that keeps the message and the original as `cause`.
    // It is NOT an APIConnectionError, and no retry happens: retries only cover getting headers.
    expect(error).toBeInstanceOf(Anthropic.AnthropicError);
    expect(error).not.toBeInstanceOf(Anthropic.APIError);
    expect((error as Error).message).toBe('terminated');
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    // Whatever arrived before the cut was delivered, so a caller can keep the partial text.
    expect(deltas.join('')).toBe('partial answer that never');
    expect(fake.requests).toHaveLength(1);
  });

  it('makes raw stream iteration throw the undici error itself when cut', async () => {
    fake.script({ kind: 'cut', afterText: 'abc' });
    const stream = await client.messages.create({ model: MODEL, max_tokens: 10, messages: user('x'), stream: true });
    const error = await (async () => {
      for await (const _event of stream) {
        // drain
      }
    })().catch((e: unknown) => e);
    // Without MessageStream in between nothing wraps it: a bare TypeError('terminated').
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('terminated');
  });

  it('fails a non-streaming create whose body is cut short', async () => {
    fake.script({ kind: 'cut', afterText: 'never whole' });
    const error = await client.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') }).catch((e: unknown) => e);
    // The headers arrived, so this is past the SDK's retry loop: the body read's own error comes out unwrapped.
    expect(error).not.toBeInstanceOf(Anthropic.AnthropicError);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('terminated');
    expect(fake.requests).toHaveLength(1);
  });

  it('reports an in-stream error event as an APIError without a status', async () => {
    fake.script({ kind: 'stream_error', afterText: 'half', message: 'Overloaded' });
    const error = await client.messages
      .stream({ model: MODEL, max_tokens: 100, messages: user('x') })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    const apiError = error as InstanceType<typeof Anthropic.APIError>;
    expect(apiError.status).toBeUndefined();
    expect(apiError.type).toBe('overloaded_error');
  });

  it('times out a hanging request with APIConnectionTimeoutError, retrying first when allowed', async () => {
    fake.script({ kind: 'hang' }, { kind: 'hang' });
    const impatient = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 1, timeout: 200 });
    const error = await impatient.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    expect((error as Error).message).toBe('Request timed out.');
    expect(fake.requests).toHaveLength(2);
  });

  it('does not time out a stream that stalls after its headers', async () => {
    fake.script({ kind: 'stall', afterText: 'thinking...' });
    const impatient = new Anthropic({ apiKey: KEY, baseURL: fake.url, maxRetries: 0, timeout: 100 });
    const stream = impatient.messages.stream({ model: MODEL, max_tokens: 10, messages: user('x') });
    let text = '';
    stream.on('text', (delta) => (text += delta));
    const outcome = await Promise.race([
      stream.finalMessage().then(
        () => 'resolved',
        () => 'rejected',
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), 600)),
    ]);
    // The SDK's `timeout` stops at the response headers; callers need their own idle timer for streams.
    expect(outcome).toBe('still waiting');
    expect(text).toBe('thinking...');
    stream.abort();
    await expect(stream.done()).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
  });

  it('refuses a request without a key with 401 authentication_error (AuthenticationError)', async () => {
    // `Authorization: null` is the SDK's own escape hatch for sending no credentials. A dummy apiKey keeps the
    // SDK off its default credential chain (profile files, env), which would make the test depend on the machine.
    const anonymous = new Anthropic({ apiKey: 'unsent', baseURL: fake.url, maxRetries: 0, defaultHeaders: { Authorization: null } });
    const error = await anonymous.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('authentication_error');
    expect(fake.requests[0]?.headers.authorization).toBeUndefined();
    expect(fake.requests[0]?.answeredWith).toBe('rejected');
  });

  it('refuses a wrong key when the fake is given the right one', async () => {
    const strict = await startAnthropicFake({ apiKey: 'right' });
    try {
      const wrong = new Anthropic({ apiKey: 'wrong', baseURL: strict.url, maxRetries: 0 });
      await expect(wrong.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') })).rejects.toBeInstanceOf(
        Anthropic.AuthenticationError,
      );
      // The x-api-key header is accepted too, as by the real API.
      const viaHeader = new Anthropic({ apiKey: 'unsent', baseURL: strict.url, defaultHeaders: { Authorization: null, 'x-api-key': 'right' } });
      const message = await viaHeader.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') });
      expect(message.content[0]).toMatchObject({ text: 'echo: x' });
    } finally {
      await strict.close();
    }
  });

  it('rejects a body without max_tokens as invalid_request_error without using the script', async () => {
    fake.script({ kind: 'text', text: 'kept for later' });
    const response = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: MODEL, messages: user('x') }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body.error.message).toContain('max_tokens');
    expect(fake.pending()).toBe(1);
    expect(fake.messageRequests()).toHaveLength(0);
  });

  it('closes promptly while a request is still hanging', async () => {
    fake.script({ kind: 'hang' });
    const pending = client.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') }).catch((e: unknown) => e);
    await fake.waitForRequests(1);
    await fake.close();
    expect(await pending).toBeInstanceOf(Anthropic.APIConnectionError);
  });
});

describe('openai fake, driven by the real SDK', () => {
  let fake: OpenAIFake;
  let client: OpenAI;
  beforeEach(async () => {
    fake = await startOpenAIFake();
    client = new OpenAI({ apiKey: 'sk-test', baseURL: fake.url, maxRetries: 0 });
  });
  afterEach(async () => {
    await fake.close();
  });

  // Every byte value, so a parser that treats the upload as text would corrupt it.
  const audio = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));

  it('transcribes an upload and records the exact bytes, filename and model', async () => {
    fake.script({ kind: 'transcript', text: 'hello from the fake' });
    const result = await client.audio.transcriptions.create({
      file: await toFile(audio, 'a.wav', { type: 'audio/wav' }),
      model: 'whisper-1',
      language: 'en',
    });

    expect(result.text).toBe('hello from the fake');
    const [upload] = fake.transcriptions;
    expect(upload?.model).toBe('whisper-1');
    expect(upload?.fields['language']).toBe('en');
    expect(upload?.file?.filename).toBe('a.wav');
    expect(upload?.file?.contentType).toBe('audio/wav');
    expect(upload?.file?.bytes.equals(audio)).toBe(true);
    expect(upload?.request.headers.authorization).toBe('Bearer sk-test');
  });

  it('answers verbose_json with duration and segments', async () => {
    fake.script({
      kind: 'transcript',
      text: 'one. two.',
      durationSeconds: 2.5,
      segments: [
        { start: 0, end: 1, text: 'one.' },
        { start: 1, end: 2.5, text: 'two.' },
      ],
    });
    const result = await client.audio.transcriptions.create({
      file: await toFile(audio, 'b.webm'),
      model: 'whisper-1',
      response_format: 'verbose_json',
    });
    expect(result.duration).toBe(2.5);
    expect(result.segments?.map((s) => s.text)).toEqual(['one.', 'two.']);
  });

  it('answers response_format text as a plain string', async () => {
    const result = await client.audio.transcriptions.create({ file: await toFile(audio, 'c.wav'), model: 'whisper-1', response_format: 'text' });
    expect(result).toBe('transcript of c.wav (3000 bytes)\n');
  });

  it('lets the SDK retry a 429 and then succeed, re-sending the same upload', async () => {
    const retrying = new OpenAI({ apiKey: 'sk-test', baseURL: fake.url, maxRetries: 2 });
    fake.script({ kind: 'error', status: 429, retryAfterMs: 50 }, { kind: 'transcript', text: 'second time lucky' });
    const result = await retrying.audio.transcriptions.create({ file: await toFile(audio, 'a.wav'), model: 'whisper-1' });

    expect(result.text).toBe('second time lucky');
    expect(fake.requests).toHaveLength(2);
    expect(fake.transcriptions.map((t) => t.file?.bytes.equals(audio))).toEqual([true, true]);
  });

  it('surfaces a 429 as RateLimitError once retries run out', async () => {
    fake.script({ kind: 'error', status: 429, retryAfterSeconds: 1, message: 'Rate limit reached' });
    const error = await client.audio.transcriptions.create({ file: await toFile(audio, 'a.wav'), model: 'whisper-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit.code).toBe('rate_limit_exceeded');
    expect(rateLimit.message).toContain('Rate limit reached');
  });

  it('times out a hanging transcription with APIConnectionTimeoutError', async () => {
    fake.script({ kind: 'hang' });
    const impatient = new OpenAI({ apiKey: 'sk-test', baseURL: fake.url, maxRetries: 0, timeout: 200 });
    const error = await impatient.audio.transcriptions.create({ file: await toFile(audio, 'a.wav'), model: 'whisper-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
  });

  it('answers chat completions with scripted text', async () => {
    fake.scriptChat({ kind: 'chat', text: 'a tidy title', usage: { prompt_tokens: 20, completion_tokens: 3 } });
    const completion = await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'title this' }] });
    expect(completion.choices[0]?.message.content).toBe('a tidy title');
    expect(completion.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 3, total_tokens: 23 });
    const echoed = await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'ping' }] });
    expect(echoed.choices[0]?.message.content).toBe('echo: ping');
  });

  it('refuses a missing key with AuthenticationError', async () => {
    const anonymous = new OpenAI({ apiKey: 'unused', baseURL: fake.url, maxRetries: 0, defaultHeaders: { Authorization: null } });
    const error = await anonymous.audio.transcriptions.create({ file: await toFile(audio, 'a.wav'), model: 'whisper-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(fake.transcriptions).toHaveLength(0);
  });
});

describe('parseMultipart', () => {
  it('keeps binary parts intact, including bytes that look like a boundary', () => {
    const boundary = 'XyZ';
    const data = Buffer.concat([Buffer.from('\r\n--Xy'), Buffer.from([0, 255, 13, 10])]);
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="q%22.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const parts = parseMultipart(body, `multipart/form-data; boundary="${boundary}"`);
    expect(parts.map((p) => p.name)).toEqual(['model', 'file']);
    expect(parts[0]?.data.toString()).toBe('whisper-1');
    expect(parts[1]?.filename).toBe('q".wav');
    expect(parts[1]?.data.equals(data)).toBe(true);
  });

  it('rejects a body without its closing boundary', () => {
    const unterminated = Buffer.from('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx');
    expect(() => parseMultipart(unterminated, 'multipart/form-data; boundary=b')).toThrow(/not terminated/);
  });
});
