import crypto from 'node:crypto';
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { MAX_RPC_FRAME_BYTES, type RpcServerMessage } from '@lva/shared';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { CoreError } from '../core/errors.ts';
import type { RpcServer } from './RpcServer.ts';

/** The renderer's own policy (desktop/src/renderer/index.html), sent as a header too so it holds for every file. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export const RPC_PATH = '/rpc';
const HOST = '127.0.0.1';
/** Sockets still open at close get this long to say goodbye before they are cut. */
const CLOSE_GRACE_MS = 1000;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export interface HeadlessServerOptions {
  rpc: RpcServer;
  /** 0 picks any free port. */
  port?: number;
  /** The built UI; it may not exist yet, and then `/` says how to build it. */
  uiDir: string;
}

/**
 * `lva serve`: the UI's static files and the RPC WebSocket on one loopback port. The socket is the
 * only way in to the data, so it asks for the per-launch token and, against other pages in the same
 * browser, for this server's own Origin.
 */
export class HeadlessServer {
  readonly token: string;
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #rpc: RpcServer;
  readonly #uiDir: string;
  #port = 0;

  private constructor(options: HeadlessServerOptions) {
    this.token = crypto.randomBytes(32).toString('base64url');
    this.#rpc = options.rpc;
    this.#uiDir = path.resolve(options.uiDir);
    // ws enforces the limit while reading, before a frame is buffered whole.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_RPC_FRAME_BYTES, clientTracking: true });
    this.#server = http.createServer((req, res) => this.#request(req, res));
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
  }

  static async start(options: HeadlessServerOptions): Promise<HeadlessServer> {
    const server = new HeadlessServer(options);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(err.code === 'EADDRINUSE' ? new CoreError('IO', `port ${options.port ?? 0} is already in use; pick another with --port`) : err);
      };
      server.#server.once('error', onError);
      server.#server.listen(options.port ?? 0, HOST, () => {
        server.#server.off('error', onError);
        resolve();
      });
    });
    server.#port = (server.#server.address() as AddressInfo).port;
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get origin(): string {
    return `http://${HOST}:${this.#port}`;
  }

  /** What to open: the token rides in the fragment, which browsers never send to the server. */
  get url(): string {
    return `${this.origin}/#token=${this.token}`;
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#wss.clients].map(
        (ws) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            ws.close(1001, 'the server is shutting down');
          }),
      ),
    );
    this.#wss.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', this.origin);
    if (url.pathname !== RPC_PATH) return refuse(socket, 404, 'Not Found');
    if (!this.#tokenMatches(url.searchParams.get('token'))) return refuse(socket, 401, 'Unauthorized');
    // Browsers always send Origin on WebSockets; a page elsewhere must not drive the core even if it learnt the port.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.origin) return refuse(socket, 403, 'Forbidden');
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connection(ws));
  }

  #tokenMatches(given: string | null): boolean {
    if (!given) return false;
    // Hashing first gives equal lengths, so the comparison takes the same time whatever was sent.
    const a = crypto.createHash('sha256').update(given).digest();
    const b = crypto.createHash('sha256').update(this.token).digest();
    return crypto.timingSafeEqual(a, b);
  }

  #connection(ws: WebSocket): void {
    const send = (msg: RpcServerMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const disconnect = this.#rpc.connect(send);
    // ws reports an oversized or invalid frame here and then closes the socket; without a listener it would throw.
    ws.on('error', (err) => process.stderr.write(`lva: rpc connection error: ${err.message}\n`));
    ws.on('close', disconnect);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        send({ type: 'error', id: null, error: { code: 'BAD_INPUT', message: 'frames are JSON text, not binary' } });
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawText(data));
      } catch {
        send({ type: 'error', id: null, error: { code: 'BAD_INPUT', message: 'the frame is not valid JSON' } });
        return;
      }
      void this.#rpc.handle(parsed, send);
    });
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.origin);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (url.pathname === '/health') {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify({ ok: true }));
      return;
    }
    const file = this.#resolve(url.pathname);
    if (!file) {
      const missingUi = (url.pathname === '/' || url.pathname === '/index.html') && !fs.existsSync(this.#uiDir);
      notFound(res, missingUi ? `the UI is not built (no ${this.#uiDir}); build it with \`npm run build:ui\`, then reload\n` : 'not found\n');
      return;
    }
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, {
      ...securityHeaders(),
      'Content-Type': type,
      'Content-Length': fs.statSync(file).size,
      // Asset names carry content hashes; the page itself must be fetched fresh to pick up new ones.
      'Cache-Control': type.startsWith('text/html') ? 'no-cache' : 'public, max-age=3600',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  /** The file a URL path names inside the UI dir, or undefined: traversal and symlinks out of it included. */
  #resolve(pathname: string): string | undefined {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0')) return undefined;
    const relative = path.normalize(decoded === '/' ? '/index.html' : decoded).replace(/^[/\\]+/, '');
    let root: string;
    let candidate: string;
    try {
      root = fs.realpathSync(this.#uiDir);
      candidate = fs.realpathSync(path.resolve(root, relative));
      if (fs.statSync(candidate).isDirectory()) candidate = fs.realpathSync(path.join(candidate, 'index.html'));
    } catch {
      return undefined;
    }
    const inside = path.relative(root, candidate);
    if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) return undefined;
    return fs.statSync(candidate).isFile() ? candidate : undefined;
  }
}

function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
}

function notFound(res: ServerResponse, message: string): void {
  res.writeHead(404, { ...securityHeaders(), 'Content-Type': 'text/plain; charset=utf-8' }).end(message);
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n`);
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
