import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the fake saw it on the wire; `body` is the parsed JSON when the request carried JSON. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawBody: Buffer;
  readonly body: unknown;
  /** Which planned response answered it ('rejected' when the fake's own validation answered instead). */
  answeredWith?: string;
}

export interface LoopbackServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Resolves once at least `count` requests have arrived, so a test can act while a request is in flight. */
  waitForRequests: (count: number) => Promise<void>;
  close: () => Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, recorded: RecordedRequest) => void | Promise<void>;

/** Shared plumbing for the fakes: loopback on a random port, request recording, and a close() that never hangs. */
/** `port` 0 picks a free one; a fixed port lets a test bring a provider "back online" at the URL a client already has. */
export async function startLoopbackServer(handler: Handler, listenPort = 0): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const notify = (): void => {
    for (const waiter of [...waiters]) {
      if (requests.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        rawBody,
        body: parseJsonBody(req.headers['content-type'], rawBody),
      };
      requests.push(recorded);
      notify();
      Promise.resolve(handler(req, res, recorded)).catch((error: unknown) => {
        // A bug in the fake must surface in the test as a 500, not as a silent hang.
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`fake crashed: ${String(error)}`);
        } else {
          res.destroy();
        }
      });
    });
  });
  // The SDKs keep connections alive between requests; a long idle timeout would only delay close().
  server.keepAliveTimeout = 1_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitForRequests: (count) =>
      new Promise<void>((resolve) => {
        waiters.push({ count, resolve });
        notify();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hanging and stalled responses keep sockets open forever; without this close() would never call back.
        server.closeAllConnections();
      }),
  };
}

function parseJsonBody(contentType: string | undefined, raw: Buffer): unknown {
  if (!contentType?.toLowerCase().includes('json') || raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Splits by code points so a chunk boundary never lands inside a surrogate pair. */
export function chunkText(text: string, size: number): string[] {
  const points = Array.from(text);
  const step = Math.max(1, Math.floor(size));
  const chunks: string[] = [];
  for (let i = 0; i < points.length; i += step) chunks.push(points.slice(i, i + step).join(''));
  return chunks;
}

/** A stand-in for a tokenizer: deterministic, monotonic in length, never zero. */
export function approxTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export function retryHeaders(plan: { retryAfterSeconds?: number; retryAfterMs?: number }): Record<string, string> {
  const headers: Record<string, string> = {};
  if (plan.retryAfterSeconds !== undefined) headers['retry-after'] = String(plan.retryAfterSeconds);
  if (plan.retryAfterMs !== undefined) headers['retry-after-ms'] = String(plan.retryAfterMs);
  return headers;
}

/** Flushes what was written, then drops the TCP connection without ending the HTTP message. */
export function cutAfterFlush(res: http.ServerResponse, lastChunk: string): void {
  res.write(lastChunk, () => res.socket?.destroy());
}
