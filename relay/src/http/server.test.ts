import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { relayConfig } from '../config.ts';
import { SqliteRelayStorage } from '../storage/SqliteRelayStorage.ts';
import { createRelayLogger } from './logger.ts';
import { createRelayServer } from './server.ts';
import type { RelayServer } from './server.ts';
import { RELAY_VERSION } from './version.ts';

const CIPHERTEXT = 'Q2lwaGVydGV4dFRoYXRNdXN0TmV2ZXJCZUxvZ2dlZA';

function captureLogs(): { stream: Writable; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => lines.join('') };
}

/** Samples of an unlabelled or labelled metric, keyed by the label part ('' when none). */
function samples(body: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of body.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) found.set(match[2] ?? '', Number(match[3]));
  }
  return found;
}

describe('relay HTTP server', () => {
  let dataDir: string;
  let storage: SqliteRelayStorage;
  let server: RelayServer;
  let baseUrl: string;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lva-relay-server-'));
    storage = SqliteRelayStorage.open(dataDir);
    logs = captureLogs();
    const config = relayConfig(['--port', '0', '--data-dir', dataDir], {});
    server = createRelayServer({ storage, logger: createRelayLogger({}, logs.stream), config });
    baseUrl = await server.listen();
  });

  afterEach(async () => {
    await server.close();
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('listens on loopback and reports health with the package version', async () => {
    expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${baseUrl}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, version: RELAY_VERSION });
  });

  it('exposes Prometheus counters that follow storage writes and requests', async () => {
    const first = await fetch(`${baseUrl}/metrics`);
    expect(first.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const before = await first.text();
    for (const name of [
      'lva_relay_chunks_appended_total',
      'lva_relay_duplicate_chunks_total',
      'lva_relay_bytes_stored_total',
      'lva_relay_accounts',
    ]) {
      expect(before).toContain(`# TYPE ${name} `);
      expect(samples(before, name).get('')).toBe(0);
    }
    expect(before).toContain('# TYPE lva_relay_http_requests_total counter');

    await storage.createAccount({ id: 'acct', createdAt: 0, quotaBytes: 1_000 });
    const c = { clientChunkId: 'c1', fromDevice: 'd1', nonce: new Uint8Array(24), ciphertext: new Uint8Array(10) };
    await storage.appendChunk('acct', 'doc', c);
    await storage.appendChunk('acct', 'doc', c);
    await fetch(`${baseUrl}/health`);
    await fetch(`${baseUrl}/no/such/path/123`);

    const after = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(samples(after, 'lva_relay_accounts').get('')).toBe(1);
    expect(samples(after, 'lva_relay_chunks_appended_total').get('')).toBe(1);
    expect(samples(after, 'lva_relay_duplicate_chunks_total').get('')).toBe(1);
    expect(samples(after, 'lva_relay_bytes_stored_total').get('')).toBe(34);
    const requests = samples(after, 'lva_relay_http_requests_total');
    expect(requests.get('{route="/health",status="200"}')).toBe(1);
    expect(requests.get('{route="/metrics",status="200"}')).toBe(1);
    // Unknown paths share one series, so probing cannot create new ones.
    expect(requests.get('{route="unmatched",status="404"}')).toBe(1);
  });

  it('refuses bodies over the configured limit', async () => {
    const small = createRelayServer({
      storage,
      logger: createRelayLogger({ level: 'silent' }),
      config: relayConfig(['--port', '0', '--body-limit-bytes', '1024'], {}),
    });
    small.app.post('/echo', (request) => ({ size: JSON.stringify(request.body).length }));
    const url = await small.listen();
    try {
      const post = (size: number) =>
        fetch(`${url}/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ pad: 'x'.repeat(size) }),
        });
      expect((await post(100)).status).toBe(200);
      expect((await post(2000)).status).toBe(413);
    } finally {
      await small.close();
    }
  });

  it('never writes ciphertext, nonces, keys or wrapped keys to the log', async () => {
    const secrets = { ciphertext: CIPHERTEXT, nonce: 'NONCE-VALUE', wrapped: 'WRAPPED-VALUE', signature: 'SIG-VALUE' };
    server.app.log.info({ ...secrets, chunk: { ...secrets, inner: { deeper: { ...secrets } } } }, 'pushing chunk');
    server.app.log.warn({ frames: [{ ciphertext: CIPHERTEXT }], device: { publicKey: 'PUBKEY-VALUE' } }, 'frame');
    await fetch(`${baseUrl}/health`);

    const text = logs.text();
    expect(text).toContain('pushing chunk');
    expect(text).toContain('[redacted]');
    for (const value of [CIPHERTEXT, 'NONCE-VALUE', 'WRAPPED-VALUE', 'SIG-VALUE', 'PUBKEY-VALUE']) {
      expect(text).not.toContain(value);
    }
  });
});
