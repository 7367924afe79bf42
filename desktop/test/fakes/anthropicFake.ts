import type http from 'node:http';
import type Anthropic from '@anthropic-ai/sdk';
import { approxTokens, chunkText, cutAfterFlush, retryHeaders, sendJson, startLoopbackServer } from './http.ts';
import type { RecordedRequest } from './http.ts';

export type { RecordedRequest } from './http.ts';

export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
}

export type AnthropicErrorStatus = 400 | 401 | 403 | 404 | 413 | 429 | 500 | 529;

/** What the fake answers with; the next request takes the next plan, whatever its endpoint or stream flag. */
export type AnthropicPlan =
  | { kind: 'text'; text: string; chunkSize?: number; usage?: FakeUsage; stopReason?: Anthropic.StopReason }
  | {
      kind: 'tool_use';
      name: string;
      input: Record<string, unknown>;
      text?: string;
      id?: string;
      chunkSize?: number;
      usage?: FakeUsage;
    }
  | {
      kind: 'error';
      status: AnthropicErrorStatus;
      retryAfterSeconds?: number;
      retryAfterMs?: number;
      message?: string;
      /** Defaults to the type the real API uses for the status. */
      type?: Anthropic.ErrorType;
      /** Sent as `x-should-retry`, which the SDK obeys over its own status rules. */
      shouldRetry?: boolean;
    }
  /** Sends `afterText` as deltas, then drops the connection: no message_stop, no chunked terminator. */
  | { kind: 'cut'; afterText: string; chunkSize?: number }
  /** Sends `afterText` as deltas, then goes silent with the connection open (the SDK's timeout no longer applies). */
  | { kind: 'stall'; afterText: string; chunkSize?: number }
  /** Sends `afterText`, then an in-stream `event: error` the way the API reports overload mid-stream. */
  | { kind: 'stream_error'; afterText: string; type?: Anthropic.ErrorType; message?: string }
  /** Reads the request and never answers, not even headers. */
  | { kind: 'hang' };

export type AnthropicScriptEntry = AnthropicPlan | ((request: RecordedRequest) => AnthropicPlan);

export interface AnthropicFakeOptions {
  /** Answers when the script is empty; the default echoes the last user message as `echo: <text>`. */
  defaultResponse?: (request: RecordedRequest) => AnthropicPlan;
  /** When set, any other key is refused with 401 (a missing key always is). */
  apiKey?: string;
  /** Code points per text_delta / input_json_delta when a plan does not say. */
  chunkSize?: number;
  /** Listen on this port (default: any free one). */
  port?: number;
}

export interface AnthropicFake {
  /** Pass as `baseURL` (no `/v1`: the SDK adds it). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Queues plans for the next requests, in order. Requests the fake rejects itself (auth, validation) do not use one. */
  script(...entries: AnthropicScriptEntry[]): void;
  /** Plans not yet used, so a test can assert the script was consumed. */
  pending(): number;
  /** Only the requests that reached /v1/messages with a valid key and body. */
  messageRequests(): RecordedRequest[];
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

interface MessagesBody {
  model: string;
  max_tokens: number;
  messages: unknown[];
  stream?: boolean;
  system?: unknown;
  tools?: unknown;
}

const DEFAULT_ERROR_TYPES: Record<AnthropicErrorStatus, Anthropic.ErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export async function startAnthropicFake(options: AnthropicFakeOptions = {}): Promise<AnthropicFake> {
  const queue: AnthropicScriptEntry[] = [];
  const accepted = new Set<RecordedRequest>();
  let counter = 0;
  const nextId = (prefix: string): string => `${prefix}_fake${String(++counter).padStart(6, '0')}`;
  const defaultChunk = options.chunkSize ?? 8;

  const server = await startLoopbackServer((req, res, recorded) => {
    const requestId = nextId('req');
    const reject = (status: AnthropicErrorStatus, message: string, type?: Anthropic.ErrorType): void => {
      recorded.answeredWith = 'rejected';
      sendError(res, requestId, { kind: 'error', status, message, ...(type ? { type } : {}) });
    };

    const pathname = new URL(recorded.path, 'http://fake').pathname;
    if (pathname !== '/v1/messages') return reject(404, `Not found: ${recorded.method} ${pathname}`);
    if (recorded.method !== 'POST') return reject(404, `Not found: ${recorded.method} ${pathname}`);

    const key = presentedKey(req.headers);
    if (!key) return reject(401, 'x-api-key header is required');
    if (options.apiKey !== undefined && key !== options.apiKey) return reject(401, 'invalid x-api-key');
    if (!req.headers['anthropic-version']) return reject(400, 'anthropic-version: header is required');

    const problem = validateBody(recorded.body);
    if (problem) return reject(400, problem);
    const body = recorded.body as MessagesBody;
    accepted.add(recorded);

    const entry = queue.shift() ?? options.defaultResponse ?? echoPlan;
    const plan = typeof entry === 'function' ? entry(recorded) : entry;
    recorded.answeredWith = plan.kind;

    const context: ReplyContext = { res, body, requestId, nextId, defaultChunk };
    switch (plan.kind) {
      case 'error':
        return sendError(res, requestId, plan);
      case 'hang':
        return;
      case 'text':
      case 'tool_use':
        return body.stream ? streamMessage(context, plan) : sendJson(res, 200, buildMessage(context, plan), { 'request-id': requestId });
      case 'cut':
      case 'stall':
      case 'stream_error':
        return body.stream ? streamBroken(context, plan) : sendBrokenJson(context, plan);
    }
  }, options.port);

  return {
    url: server.url,
    requests: server.requests,
    script: (...entries) => void queue.push(...entries),
    pending: () => queue.length,
    messageRequests: () => server.requests.filter((r) => accepted.has(r)),
    waitForRequests: server.waitForRequests,
    close: server.close,
  };
}

/** The default responder: deterministic text derived from the last user turn, so simple tests need no script. */
export function echoPlan(request: RecordedRequest): AnthropicPlan {
  return { kind: 'text', text: `echo: ${lastUserText(request.body)}` };
}

/** The text of the last user message, with tool results rendered as `[tool_result <id>: <content>]`. */
export function lastUserText(body: unknown): string {
  const messages = (body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages)) return '';
  const last = [...(messages as Array<{ role?: unknown; content?: unknown }>)].reverse().find((m) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  if (!Array.isArray(last.content)) return '';
  return (last.content as Array<Record<string, unknown>>)
    .map((block) => {
      if (block['type'] === 'text') return String(block['text']);
      if (block['type'] === 'tool_result') {
        const content = block['content'];
        const text = typeof content === 'string' ? content : JSON.stringify(content ?? '');
        return `[tool_result ${String(block['tool_use_id'])}: ${text}]`;
      }
      return `[${String(block['type'])}]`;
    })
    .join(' ');
}

function presentedKey(headers: http.IncomingHttpHeaders): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) return apiKey;
  const auth = headers.authorization;
  const match = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth) : null;
  return match?.[1];
}

function validateBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return 'request body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (typeof b['model'] !== 'string' || !b['model']) return 'model: Field required';
  if (typeof b['max_tokens'] !== 'number') return 'max_tokens: Field required';
  if (!Array.isArray(b['messages'])) return 'messages: Field required';
  if (b['messages'].length === 0) return 'messages: at least one message is required';
  return undefined;
}

function sendError(res: http.ServerResponse, requestId: string, plan: Extract<AnthropicPlan, { kind: 'error' }>): void {
  const type = plan.type ?? DEFAULT_ERROR_TYPES[plan.status];
  const headers: Record<string, string> = { 'request-id': requestId, ...retryHeaders(plan) };
  if (plan.shouldRetry !== undefined) headers['x-should-retry'] = String(plan.shouldRetry);
  sendJson(
    res,
    plan.status,
    { type: 'error', error: { type, message: plan.message ?? `fake ${type}` }, request_id: requestId },
    headers,
  );
}

interface ReplyContext {
  res: http.ServerResponse;
  body: MessagesBody;
  requestId: string;
  nextId: (prefix: string) => string;
  defaultChunk: number;
}

type ContentPlan = Extract<AnthropicPlan, { kind: 'text' | 'tool_use' }>;

function inputTokens(body: MessagesBody): number {
  return approxTokens(JSON.stringify([body.system ?? null, body.tools ?? null, body.messages]));
}

function usageFor(body: MessagesBody, plan: ContentPlan): FakeUsage {
  if (plan.usage) return plan.usage;
  const produced = plan.kind === 'text' ? plan.text : (plan.text ?? '') + JSON.stringify(plan.input);
  return { input_tokens: inputTokens(body), output_tokens: approxTokens(produced) };
}

function fullUsage(usage: FakeUsage): Anthropic.Usage {
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_creation: null,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    inference_geo: null,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: 'standard',
    speed: null,
  };
}

function emptyMessage(context: ReplyContext, usage: FakeUsage): Anthropic.Message {
  return {
    id: context.nextId('msg'),
    type: 'message',
    role: 'assistant',
    model: context.body.model,
    content: [],
    container: null,
    diagnostics: null,
    stop_details: null,
    stop_reason: null,
    stop_sequence: null,
    usage: fullUsage(usage),
  };
}

function textBlock(text: string): Anthropic.TextBlock {
  return { type: 'text', text, citations: null };
}

function toolBlock(id: string, name: string, input: unknown): Anthropic.ToolUseBlock {
  return { type: 'tool_use', id, name, input, caller: { type: 'direct' } };
}

function stopReasonOf(plan: ContentPlan): Anthropic.StopReason {
  return plan.kind === 'tool_use' ? 'tool_use' : (plan.stopReason ?? 'end_turn');
}

function buildMessage(context: ReplyContext, plan: ContentPlan): Anthropic.Message {
  const message = emptyMessage(context, usageFor(context.body, plan));
  if (plan.kind === 'text') {
    message.content = [textBlock(plan.text)];
  } else {
    message.content = [
      ...(plan.text ? [textBlock(plan.text)] : []),
      toolBlock(plan.id ?? context.nextId('toolu'), plan.name, plan.input),
    ];
  }
  message.stop_reason = stopReasonOf(plan);
  return message;
}

function sse(event: Anthropic.RawMessageStreamEvent | { type: 'ping' } | { type: 'error'; error: unknown }): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

function startStream(context: ReplyContext): void {
  context.res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': context.requestId,
  });
}

/** The opening events; like the real API, message_start already carries input_tokens and a token of output. */
function openingEvents(context: ReplyContext, usage: FakeUsage): string {
  const message = emptyMessage(context, { input_tokens: usage.input_tokens, output_tokens: Math.min(1, usage.output_tokens) });
  return sse({ type: 'message_start', message }) + sse({ type: 'ping' });
}

function textBlockEvents(index: number, text: string, chunkSize: number): string[] {
  return [
    sse({ type: 'content_block_start', index, content_block: textBlock('') }),
    ...chunkText(text, chunkSize).map((piece) =>
      sse({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }),
    ),
  ];
}

function streamMessage(context: ReplyContext, plan: ContentPlan): void {
  const usage = usageFor(context.body, plan);
  const chunkSize = plan.chunkSize ?? context.defaultChunk;
  const events: string[] = [openingEvents(context, usage)];
  let index = 0;
  // A text plan always has its block, even empty; a tool call has one only when it says something first.
  const leadingText = plan.kind === 'text' ? plan.text : plan.text || undefined;
  if (leadingText !== undefined) {
    events.push(...textBlockEvents(index, leadingText, chunkSize), sse({ type: 'content_block_stop', index }));
    index++;
  }
  if (plan.kind === 'tool_use') {
    const id = plan.id ?? context.nextId('toolu');
    events.push(
      sse({ type: 'content_block_start', index, content_block: toolBlock(id, plan.name, {}) }),
      // The real API opens every tool input with an empty partial_json; parsers must tolerate it.
      sse({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } }),
      ...chunkText(JSON.stringify(plan.input), chunkSize).map((piece) =>
        sse({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }),
      ),
      sse({ type: 'content_block_stop', index }),
    );
  }
  events.push(
    sse({
      type: 'message_delta',
      delta: { stop_reason: stopReasonOf(plan), stop_sequence: null, stop_details: null, container: null },
      // Cumulative totals, as the API sends them: the last message_delta is the figure to bill.
      usage: {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens_details: null,
        server_tool_use: null,
      },
    }),
    sse({ type: 'message_stop' }),
  );
  startStream(context);
  // Separate writes so the client sees the deltas arrive as separate chunks, as over a real network.
  for (const event of events) context.res.write(event);
  context.res.end();
}

function streamBroken(context: ReplyContext, plan: Extract<AnthropicPlan, { kind: 'cut' | 'stall' | 'stream_error' }>): void {
  const usage = { input_tokens: inputTokens(context.body), output_tokens: approxTokens(plan.afterText) };
  const chunkSize = 'chunkSize' in plan && plan.chunkSize !== undefined ? plan.chunkSize : context.defaultChunk;
  startStream(context);
  context.res.write(openingEvents(context, usage));
  const events = textBlockEvents(0, plan.afterText, chunkSize);
  for (const event of events.slice(0, -1)) context.res.write(event);
  const last = events.at(-1) ?? '';
  switch (plan.kind) {
    case 'cut':
      return cutAfterFlush(context.res, last);
    case 'stall':
      context.res.write(last);
      return;
    case 'stream_error': {
      const type = plan.type ?? 'overloaded_error';
      context.res.write(last);
      context.res.end(sse({ type: 'error', error: { type, message: plan.message ?? `fake ${type}` } }));
      return;
    }
  }
}

/** Without `stream: true` a broken plan still breaks: headers promise a body that never fully arrives. */
function sendBrokenJson(context: ReplyContext, plan: Extract<AnthropicPlan, { kind: 'cut' | 'stall' | 'stream_error' }>): void {
  if (plan.kind === 'stream_error') {
    return sendError(context.res, context.requestId, {
      kind: 'error',
      status: 529,
      type: plan.type ?? 'overloaded_error',
      ...(plan.message !== undefined ? { message: plan.message } : {}),
    });
  }
  const full = JSON.stringify(buildMessage(context, { kind: 'text', text: plan.afterText }));
  context.res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(full)),
    'request-id': context.requestId,
  });
  const partial = full.slice(0, Math.floor(full.length / 2));
  if (plan.kind === 'cut') return cutAfterFlush(context.res, partial);
  context.res.write(partial);
}
