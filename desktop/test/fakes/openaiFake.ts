import type http from 'node:http';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { Transcription, TranscriptionSegment, TranscriptionVerbose } from 'openai/resources/audio/transcriptions';
import { approxTokens, retryHeaders, sendJson, startLoopbackServer } from './http.ts';
import type { RecordedRequest } from './http.ts';
import { parseMultipart } from './multipart.ts';
import type { MultipartPart } from './multipart.ts';

export type { RecordedRequest } from './http.ts';
export type { MultipartPart } from './multipart.ts';

export interface UploadedFile {
  readonly filename: string;
  readonly contentType: string | undefined;
  readonly bytes: Buffer;
}

/** A transcription request as the fake decoded it from the multipart body. */
export interface RecordedTranscription {
  readonly request: RecordedRequest;
  readonly file: UploadedFile | undefined;
  readonly model: string | undefined;
  /** Every non-file field; a repeated name (`include[]`) keeps its last value here, all of them in `parts`. */
  readonly fields: Record<string, string>;
  readonly parts: MultipartPart[];
}

export type OpenAIErrorStatus = 400 | 401 | 403 | 404 | 413 | 429 | 500 | 503;

export interface OpenAIErrorPlan {
  kind: 'error';
  status: OpenAIErrorStatus;
  retryAfterSeconds?: number;
  retryAfterMs?: number;
  message?: string;
  type?: string;
  code?: string | null;
}

export type OpenAIHangPlan = { kind: 'hang' };

export type TranscriptionPlan =
  | {
      kind: 'transcript';
      text: string;
      /** Reported as usage.seconds and verbose_json duration; defaults to 1. */
      durationSeconds?: number;
      language?: string;
      /** For verbose_json; defaults to one segment spanning the whole duration. */
      segments?: Array<{ start: number; end: number; text: string }>;
    }
  | OpenAIErrorPlan
  | OpenAIHangPlan;

export type ChatPlan =
  | { kind: 'chat'; text: string; usage?: { prompt_tokens: number; completion_tokens: number } }
  | OpenAIErrorPlan
  | OpenAIHangPlan;

export interface OpenAIFakeOptions {
  /** When set, any other bearer key is refused with 401 (a missing key always is). */
  apiKey?: string;
  /** Answers transcriptions when the script is empty; the default names the file and its size. */
  defaultTranscription?: (upload: RecordedTranscription) => TranscriptionPlan;
  /** Answers chat completions when the script is empty; the default echoes the last user message. */
  defaultChat?: (request: RecordedRequest) => ChatPlan;
}

export interface OpenAIFake {
  /** Already ends in `/v1`, as the OpenAI SDK's baseURL must. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Only the transcription requests that passed auth and validation, decoded. */
  readonly transcriptions: RecordedTranscription[];
  /** Queues plans for the next /v1/audio/transcriptions requests. */
  script(...plans: Array<TranscriptionPlan | ((upload: RecordedTranscription) => TranscriptionPlan)>): void;
  /** Queues plans for the next /v1/chat/completions requests. */
  scriptChat(...plans: Array<ChatPlan | ((request: RecordedRequest) => ChatPlan)>): void;
  pending(): { transcriptions: number; chat: number };
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_ERRORS: Record<OpenAIErrorStatus, { type: string; code: string | null }> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory' },
  404: { type: 'invalid_request_error', code: 'model_not_found' },
  413: { type: 'invalid_request_error', code: null },
  429: { type: 'requests', code: 'rate_limit_exceeded' },
  500: { type: 'server_error', code: null },
  503: { type: 'server_error', code: null },
};

export async function startOpenAIFake(options: OpenAIFakeOptions = {}): Promise<OpenAIFake> {
  const transcriptionQueue: Array<TranscriptionPlan | ((upload: RecordedTranscription) => TranscriptionPlan)> = [];
  const chatQueue: Array<ChatPlan | ((request: RecordedRequest) => ChatPlan)> = [];
  const transcriptions: RecordedTranscription[] = [];
  let counter = 0;

  const server = await startLoopbackServer((req, res, recorded) => {
    const requestId = `req_fake${String(++counter).padStart(6, '0')}`;
    const reject = (status: OpenAIErrorStatus, message: string, param: string | null = null): void => {
      recorded.answeredWith = 'rejected';
      sendError(res, requestId, { kind: 'error', status, message }, param);
    };

    const pathname = new URL(recorded.path, 'http://fake').pathname;
    const route =
      recorded.method === 'POST' && pathname === '/v1/audio/transcriptions' ? 'transcriptions'
      : recorded.method === 'POST' && pathname === '/v1/chat/completions' ? 'chat'
      : undefined;
    if (!route) return reject(404, `Invalid URL (${recorded.method} ${pathname})`);

    const key = bearerKey(req.headers);
    if (!key) return reject(401, "You didn't provide an API key.");
    if (options.apiKey !== undefined && key !== options.apiKey) return reject(401, 'Incorrect API key provided.');

    if (route === 'chat') {
      const body = recorded.body as { model?: unknown; messages?: unknown } | undefined;
      if (typeof body?.model !== 'string') return reject(400, "you must provide a model parameter", 'model');
      if (!Array.isArray(body.messages)) return reject(400, "Missing required parameter: 'messages'.", 'messages');
      const entry = chatQueue.shift() ?? options.defaultChat ?? echoChat;
      const plan = typeof entry === 'function' ? entry(recorded) : entry;
      recorded.answeredWith = plan.kind;
      if (plan.kind === 'error') return sendError(res, requestId, plan);
      if (plan.kind === 'hang') return;
      return sendJson(res, 200, chatCompletion(body.model, body.messages, plan, requestId), { 'x-request-id': requestId });
    }

    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
      return reject(400, 'Expected multipart/form-data');
    }
    let parts: MultipartPart[];
    try {
      parts = parseMultipart(recorded.rawBody, contentType);
    } catch (error) {
      return reject(400, `Could not parse multipart form: ${String(error)}`);
    }
    const upload = decodeUpload(recorded, parts);
    if (!upload.file) return reject(400, "Missing required parameter: 'file'.", 'file');
    if (!upload.model) return reject(400, "you must provide a model parameter", 'model');
    transcriptions.push(upload);

    const entry = transcriptionQueue.shift() ?? options.defaultTranscription ?? describeUpload;
    const plan = typeof entry === 'function' ? entry(upload) : entry;
    recorded.answeredWith = plan.kind;
    if (plan.kind === 'error') return sendError(res, requestId, plan);
    if (plan.kind === 'hang') return;
    return sendTranscript(res, requestId, upload.fields['response_format'] ?? 'json', plan);
  });

  return {
    url: `${server.url}/v1`,
    requests: server.requests,
    transcriptions,
    script: (...plans) => void transcriptionQueue.push(...plans),
    scriptChat: (...plans) => void chatQueue.push(...plans),
    pending: () => ({ transcriptions: transcriptionQueue.length, chat: chatQueue.length }),
    waitForRequests: server.waitForRequests,
    close: server.close,
  };
}

function describeUpload(upload: RecordedTranscription): TranscriptionPlan {
  return { kind: 'transcript', text: `transcript of ${upload.file?.filename ?? '?'} (${upload.file?.bytes.length ?? 0} bytes)` };
}

function echoChat(request: RecordedRequest): ChatPlan {
  const messages = (request.body as { messages?: Array<{ role?: unknown; content?: unknown }> }).messages ?? [];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  const text = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
  return { kind: 'chat', text: `echo: ${text}` };
}

function bearerKey(headers: http.IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  const match = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth) : null;
  return match?.[1];
}

function decodeUpload(request: RecordedRequest, parts: MultipartPart[]): RecordedTranscription {
  const fields: Record<string, string> = {};
  let file: UploadedFile | undefined;
  for (const part of parts) {
    if (part.name === 'file' && part.filename !== undefined) {
      file = { filename: part.filename, contentType: part.contentType, bytes: part.data };
    } else if (part.filename === undefined) {
      fields[part.name] = part.data.toString('utf8');
    }
  }
  return { request, file, model: fields['model'], fields, parts };
}

function sendError(res: http.ServerResponse, requestId: string, plan: OpenAIErrorPlan, param: string | null = null): void {
  const defaults = DEFAULT_ERRORS[plan.status];
  sendJson(
    res,
    plan.status,
    {
      error: {
        message: plan.message ?? `fake ${defaults.type}`,
        type: plan.type ?? defaults.type,
        param,
        code: plan.code === undefined ? defaults.code : plan.code,
      },
    },
    { 'x-request-id': requestId, ...retryHeaders(plan) },
  );
}

function sendTranscript(
  res: http.ServerResponse,
  requestId: string,
  format: string,
  plan: Extract<TranscriptionPlan, { kind: 'transcript' }>,
): void {
  const duration = plan.durationSeconds ?? 1;
  const headers = { 'x-request-id': requestId };
  if (format === 'text' || format === 'srt' || format === 'vtt') {
    const body =
      format === 'text' ? `${plan.text}\n`
      : format === 'srt' ? `1\n00:00:00,000 --> ${timestamp(duration, ',')}\n${plan.text}\n\n`
      : `WEBVTT\n\n00:00:00.000 --> ${timestamp(duration, '.')}\n${plan.text}\n\n`;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(body);
    return;
  }
  if (format === 'verbose_json') {
    const segments = (plan.segments ?? [{ start: 0, end: duration, text: plan.text }]).map(
      (s, id): TranscriptionSegment => ({
        id,
        seek: 0,
        start: s.start,
        end: s.end,
        text: s.text,
        tokens: [],
        temperature: 0,
        avg_logprob: -0.2,
        compression_ratio: 1,
        no_speech_prob: 0.01,
      }),
    );
    const verbose: TranscriptionVerbose = {
      text: plan.text,
      language: plan.language ?? 'english',
      duration,
      segments,
      usage: { type: 'duration', seconds: Math.ceil(duration) },
    };
    return sendJson(res, 200, verbose, headers);
  }
  const json: Transcription = { text: plan.text, usage: { type: 'duration', seconds: Math.ceil(duration) } };
  sendJson(res, 200, json, headers);
}

function timestamp(seconds: number, separator: string): string {
  const ms = Math.round(seconds * 1000);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const clock = [Math.floor(ms / 3_600_000), Math.floor(ms / 60_000) % 60, Math.floor(ms / 1000) % 60].map((n) => pad(n));
  return `${clock.join(':')}${separator}${pad(ms % 1000, 3)}`;
}

function chatCompletion(model: string, messages: unknown[], plan: Extract<ChatPlan, { kind: 'chat' }>, id: string): ChatCompletion {
  const usage = plan.usage ?? { prompt_tokens: approxTokens(JSON.stringify(messages)), completion_tokens: approxTokens(plan.text) };
  return {
    id: `chatcmpl-${id}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        finish_reason: 'stop',
        logprobs: null,
        message: { role: 'assistant', content: plan.text, refusal: null },
      },
    ],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}
