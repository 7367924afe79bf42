import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_RPC_FRAME_BYTES, RPC_VERSION, type RpcServerMessage } from '@lva/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LVA } from '../../test/lvaProcess.ts';
import { providerSettingsFromEnv } from '../core/agents/ProviderSettings.ts';
import { Core, type CoreEvent } from '../core/Core.ts';
import { CONTENT_SECURITY_POLICY, HeadlessServer } from './HeadlessServer.ts';
import { RpcServer } from './RpcServer.ts';

/** A test's side of the socket: every message it received, and calls that wait for their answer. */
class Client {
  readonly messages: RpcServerMessage[] = [];
  #nextId = 1;
  #waiters: { match: (m: RpcServerMessage) => boolean; resolve: (m: RpcServerMessage) => void }[] = [];

  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as RpcServerMessage;
      this.messages.push(msg);
      this.#waiters = this.#waiters.filter((w) => (w.match(msg) ? (w.resolve(msg), false) : true));
    });
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<Client> {
    const ws = new WebSocket(url, { headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('error', reject);
    });
  }

  next(match: (m: RpcServerMessage) => boolean): Promise<RpcServerMessage> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  async call(method: string, params?: unknown): Promise<RpcServerMessage> {
    const id = this.#nextId++;
    this.ws.send(JSON.stringify({ v: RPC_VERSION, id, method, ...(params === undefined ? {} : { params }) }));
    return this.next((m) => m.type !== 'event' && m.id === id);
  }

  async result(method: string, params?: unknown): Promise<unknown> {
    const msg = await this.call(method, params);
    if (msg.type !== 'result') throw new Error(`${method} failed: ${JSON.stringify(msg)}`);
    return msg.result;
  }

  close(): void {
    this.ws.close();
  }
}

/** The status an upgrade was refused with, or 101 if it was accepted. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

describe('lva serve: the core over a WebSocket, and the UI', () => {
  let dir: string;
  let uiDir: string;
  let core: Core;
  let rpc: RpcServer;
  let server: HeadlessServer;
  let rpcUrl: string;
  let client: Client;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-serve-'));
    uiDir = path.join(dir, 'ui');
    fs.mkdirSync(path.join(uiDir, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(uiDir, 'index.html'), '<!doctype html><title>lva</title>');
    fs.writeFileSync(path.join(uiDir, 'assets', 'app.js'), 'console.log(1);');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'not for the browser');
    core = await Core.open({ dataDir: path.join(dir, 'data'), background: false });
    // No keys: `ask` must say what is missing rather than call anything.
    rpc = new RpcServer(core, { settings: providerSettingsFromEnv({}) });
    server = await HeadlessServer.start({ rpc, port: 0, uiDir });
    rpcUrl = `ws://127.0.0.1:${server.port}/rpc?token=${server.token}`;
    client = await Client.open(rpcUrl, { Origin: server.origin });
  });

  afterAll(async () => {
    client.close();
    await server.close();
    rpc.close();
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints a URL with a fresh 32-byte token in its fragment', () => {
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/#token=${server.token}`);
  });

  it('captures, then lists and finds the capture', async () => {
    const { id } = (await client.result('capture', { text: 'Axolotls regenerate their limbs and parts of their brain' })) as { id: string };
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    await core.drain();
    const { captures } = (await client.result('list', { limit: 10 })) as { captures: { id: string; text: string }[] };
    expect(captures.map((c) => c.id)).toContain(id);
    const found = (await client.result('search', { query: 'axolotls regenerate' })) as { hits: { id: string }[] };
    expect(found.hits.map((h) => h.id)).toContain(id);
    const got = (await client.result('get', { id })) as { id: string; text: string };
    expect(got.text).toContain('Axolotls');
    expect(await client.result('get', { id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' })).toBeNull();
    const stats = (await client.result('stats')) as { captures: number };
    expect(stats.captures).toBe(1);
    expect(Array.isArray(await client.result('jobs'))).toBe(true);
  });

  it('refuses the socket without the right token (401) or from another origin (403)', async () => {
    const base = `ws://127.0.0.1:${server.port}/rpc`;
    expect(await upgradeStatus(`${base}?token=${'x'.repeat(43)}`, { Origin: server.origin })).toBe(401);
    expect(await upgradeStatus(base, { Origin: server.origin })).toBe(401);
    expect(await upgradeStatus(rpcUrl, { Origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(rpcUrl, { Origin: `http://localhost:${server.port}` })).toBe(403);
    expect(await upgradeStatus(`ws://127.0.0.1:${server.port}/other?token=${server.token}`)).toBe(404);
    // Tools that are not browsers send no Origin; the token alone lets them in.
    expect(await upgradeStatus(rpcUrl)).toBe(101);
  });

  it('answers bad params with BAD_INPUT naming the field, and unknown methods with an error', async () => {
    const bad = await client.call('list', { limit: 1000 });
    expect(bad).toMatchObject({ type: 'error', error: { code: 'BAD_INPUT' } });
    expect(bad.type === 'error' && bad.error.message).toMatch(/limit/);
    const missing = await client.call('capture', {});
    expect(missing.type === 'error' && missing.error.message).toMatch(/text/);
    const unknown = await client.call('dropTables', {});
    expect(unknown).toMatchObject({ type: 'error', error: { code: 'BAD_INPUT', message: expect.stringContaining('dropTables') as string } });
  });

  it('answers a malformed frame with an error and keeps the connection usable', async () => {
    const before = client.messages.length;
    client.ws.send('{not json');
    const err = await client.next((m) => client.messages.indexOf(m) >= before && m.type === 'error' && m.id === null);
    expect(err).toMatchObject({ error: { code: 'BAD_INPUT' } });
    client.ws.send(JSON.stringify({ v: 99, id: 7, method: 'stats' }));
    expect(await client.next((m) => m.type === 'error' && m.id === 7)).toMatchObject({ error: { code: 'BAD_INPUT' } });
    expect(await client.result('stats')).toMatchObject({ captures: 1 });
  });

  it('closes a connection that sends a frame over the limit (1009), and only that one', async () => {
    const big = await Client.open(rpcUrl, { Origin: server.origin });
    const closed = new Promise<number>((resolve) => big.ws.once('close', (code) => resolve(code)));
    big.ws.on('error', () => undefined);
    big.ws.send(JSON.stringify({ v: RPC_VERSION, id: 1, method: 'capture', params: { text: 'x'.repeat(MAX_RPC_FRAME_BYTES) } }));
    expect(await closed).toBe(1009);
    expect(await client.result('stats')).toMatchObject({ captures: 1 });
  });

  it('sends core progress and job events to every connection', async () => {
    const other = await Client.open(rpcUrl, { Origin: server.origin });
    try {
      await core.reindex();
      for (const c of [client, other]) {
        const progress = await c.next((m) => m.type === 'event' && m.event === 'progress' && (m.data as CoreEvent & { task?: string }).task === 'index');
        expect(progress).toMatchObject({ data: { type: 'progress', task: 'index' } });
        expect(await c.next((m) => m.type === 'event' && m.event === 'job')).toMatchObject({ data: { type: 'job' } });
      }
    } finally {
      other.close();
    }
  });

  it('turns a CoreError into its code: ask without an Anthropic key is NOT_CONFIGURED', async () => {
    const answer = await client.call('ask', { text: 'what regenerates?' });
    expect(answer).toMatchObject({ type: 'error', error: { code: 'NOT_CONFIGURED' } });
    // The turn's start streamed first, tagged with the call's id.
    expect(client.messages.some((m) => m.type === 'event' && m.event === 'turn' && m.id === answer.id)).toBe(true);
  });

  it('streams a capture-only turn, then resolves with its conversation', async () => {
    const msg = await client.call('ask', { text: 'Tardigrades survive vacuum', mode: 'capture' });
    expect(msg.type).toBe('result');
    const { conversationId } = (msg.type === 'result' ? msg.result : {}) as { conversationId: string };
    const turns = client.messages.filter((m) => m.type === 'event' && m.event === 'turn' && m.id === msg.id).map((m) => (m.type === 'event' ? (m.data as { type: string }).type : ''));
    expect(turns).toEqual(['conversation', 'said']);
    expect(conversationId).toMatch(/^[0-9A-Z]{26}$/);
  });

  it('serves the UI with the strict CSP, and nothing outside its directory', async () => {
    const page = await fetch(`${server.origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<title>lva</title>');
    const js = await fetch(`${server.origin}/assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    // fetch normalises `..` away, so the raw paths go out through http.
    for (const raw of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/%00']) {
      expect(await rawGet(server.port, raw), raw).toBe(404);
    }
    expect((await fetch(`${server.origin}/health`)).status).toBe(200);
    expect((await fetch(`${server.origin}/`, { method: 'POST' })).status).toBe(405);
  });

  it("sends the renderer's own CSP, so the two cannot drift apart", () => {
    const html = fs.readFileSync(path.resolve(import.meta.dirname, '../renderer/index.html'), 'utf8');
    expect(html).toContain(`content="${CONTENT_SECURITY_POLICY}"`);
  });
});

describe('RpcServer on its own', () => {
  it('forwards notices and progress to each connection until it disconnects', () => {
    const listeners = new Set<(e: CoreEvent) => void>();
    const fakeCore = { on: (l: (e: CoreEvent) => void) => (listeners.add(l), () => listeners.delete(l)) } as unknown as Core;
    const rpc = new RpcServer(fakeCore, { settings: providerSettingsFromEnv({}) });
    const a: RpcServerMessage[] = [];
    const b: RpcServerMessage[] = [];
    rpc.connect((m) => a.push(m));
    const offB = rpc.connect((m) => b.push(m));
    const emit = (e: CoreEvent): void => listeners.forEach((l) => l(e));
    emit({ type: 'notice', message: 'the index was rebuilt' });
    offB();
    emit({ type: 'progress', task: 'embed', done: 1, total: 2, message: 'embedding' });
    expect(a).toEqual([
      { type: 'event', event: 'notice', data: { type: 'notice', message: 'the index was rebuilt' } },
      { type: 'event', event: 'progress', data: { type: 'progress', task: 'embed', done: 1, total: 2, message: 'embedding' } },
    ]);
    expect(b).toHaveLength(1);
    rpc.close();
    expect(listeners.size).toBe(0);
  });

  it('reports an unexpected failure as INTERNAL without its details', async () => {
    const fakeCore = { on: () => () => undefined, stats: () => { throw new Error('SQLITE_CORRUPT at /home/me/secret/path'); } } as unknown as Core;
    const rpc = new RpcServer(fakeCore, { settings: providerSettingsFromEnv({}) });
    const out: RpcServerMessage[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = () => true;
    try {
      await rpc.handle({ v: RPC_VERSION, id: 3, method: 'stats' }, (m) => out.push(m));
    } finally {
      process.stderr.write = write;
    }
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'error', id: 3, error: { code: 'INTERNAL' } });
    expect(JSON.stringify(out[0])).not.toContain('secret');
  });
});

describe('lva serve as a process', () => {
  it('prints where it serves, answers, and exits 0 on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-serve-proc-'));
    try {
      const served = await serveLva(dir, ['--port', '0', '--offline', '--ui', path.join(dir, 'no-ui')], async (url) => {
        const root = await fetch(new URL('/', url));
        expect(root.status).toBe(404);
        expect(await root.text()).toContain('npm run build:ui');
        const { origin, hash } = new URL(url);
        const token = new URLSearchParams(hash.slice(1)).get('token')!;
        const client = await Client.open(`${origin.replace('http', 'ws')}/rpc?token=${token}`, { Origin: origin });
        expect(await client.result('stats')).toMatchObject({ captures: 0 });
        client.close();
      });
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43}$/);
      expect(served.status, served.stderr).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** Starts `lva serve`, waits for its serving line, runs `use` against it, then stops it with SIGTERM. */
async function serveLva(dataDir: string, args: readonly string[], use: (url: string) => Promise<void>): Promise<{ url: string; status: number | null; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(ANTHROPIC|OPENAI)_/.test(k)));
  const child = spawn(process.execPath, [LVA, 'serve', ...args, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: base });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /^lva: serving on (\S+)$/m.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`lva serve exited ${code} before serving: ${stderr}`)));
    });
    await use(url);
    child.kill('SIGTERM');
    return { url, status: await exited, stderr };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

function rawGet(port: number, rawPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    import('node:http')
      .then(({ default: http }) => {
        const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      })
      .catch(reject);
  });
}
