/**
 * Relay fan-in: the real relay as its own process, 200 authenticated devices on the sync socket
 * (20 accounts × 10 devices, all subscribed), each pushing small random ciphertext chunks as fast
 * as its acks come back (one push outstanding per device). Every push is fanned out to the other 9
 * devices of its account. Reports acked pushes/s, fan-out deliveries/s, ack latency, and the
 * relay's memory idle and under load and its CPU.
 *
 * The relay's per-connection frame limit (50/s, burst 200 by default) would cap each device far
 * below what this measures, so it is raised with --sync-frames-per-second / --sync-frame-burst.
 * The devices are registered over HTTP: accounts with POST /v1/accounts, the other 9 devices of each
 * account through invites; redeeming is limited to 10 per address a minute, so each account's
 * redeems come from their own loopback address (127.0.0.x).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  accountIdFor,
  fromBase64Url,
  newAccountKey,
  newDeviceKeyPair,
  inboxKeyPairFor,
  newInvite,
  redeemProof,
  redeemProofHash,
  PROTOCOL_VERSION,
  randomBytes,
  recoveryKeyPair,
  RELAY_ROUTES,
  relayAuthContext,
  signChallenge,
  signRequest,
  toBase64Url,
} from '@lva/shared';
import WebSocket from 'ws';
import { newDeviceId } from '../desktop/src/core/device/DeviceState.ts';
import { percentile, row, type BenchContext, type BenchResult, type Row } from './report.ts';
import { procCpuMs, procMemoryMB, relayMetrics, spawnRelay } from './syncRig.ts';

const ACCOUNTS = 20;
const DEVICES_PER_ACCOUNT = 10;
const WINDOW = 1;
const CIPHERTEXT_BYTES = 256;
const WARMUP_MS = 2000;
// Sign-ups are limited per address too; 20 accounts from one loopback address would be near the default.
const FRAME_LIMIT_ARGS = ['--sync-frames-per-second', '100000', '--sync-frame-burst', '1000000', '--signups-per-hour', '100000'];

interface Identity {
  accountId: string;
  deviceId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

interface Counters {
  acked: number;
  delivered: number;
  errors: number;
  lastError: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function request(base: URL, method: string, route: string, body: unknown, headers: Record<string, string> = {}, localAddress?: string): Promise<{ status: number; json: unknown }> {
  const bytes = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path: route,
        ...(localAddress ? { localAddress } : {}),
        headers: { 'content-type': 'application/json', 'content-length': String(bytes.length), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON; kept as text for the error message
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

async function expectStatus(what: string, p: Promise<{ status: number; json: unknown }>, status: number): Promise<unknown> {
  const res = await p;
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
}

/** One account with its first device (POST /v1/accounts) and the rest enrolled through invites. */
async function registerAccount(base: URL, index: number): Promise<Identity[]> {
  const accountKey = newAccountKey();
  const accountId = accountIdFor(accountKey);
  const first = newDeviceKeyPair();
  const firstId = newDeviceId();
  await expectStatus(
    'register account',
    request(base, 'POST', RELAY_ROUTES.accounts, {
      accountId,
      device: { id: firstId, name: 'bench-0', publicKey: toBase64Url(first.publicKey) },
      recoveryPublicKey: toBase64Url(recoveryKeyPair(accountKey).publicKey),
      inboxPublicKey: toBase64Url(inboxKeyPairFor(accountKey).publicKey),
    }),
    201,
  );
  const devices: Identity[] = [{ accountId, deviceId: firstId, ...first }];
  const localAddress = `127.0.0.${10 + index}`;
  for (let d = 1; d < DEVICES_PER_ACCOUNT; d++) {
    // The relay stores the wrapped key opaquely; nobody unwraps it here, so random bytes do.
    const invite = newInvite();
    const proof = redeemProof(invite.secret);
    const body = { inviteId: invite.inviteId, wrapped: toBase64Url(randomBytes(80)), proofHash: toBase64Url(redeemProofHash(proof)), ttlSeconds: 600 };
    const headers = signRequest(
      { accountId, deviceId: firstId, secretKey: first.secretKey },
      { host: base.host, method: 'POST', path: RELAY_ROUTES.invites, body: Buffer.from(JSON.stringify(body)) },
    );
    await expectStatus('create invite', request(base, 'POST', RELAY_ROUTES.invites, body, headers), 201);
    const pair = newDeviceKeyPair();
    const deviceId = newDeviceId();
    await expectStatus(
      'redeem invite',
      request(base, 'POST', RELAY_ROUTES.redeem(body.inviteId), { device: { id: deviceId, name: `bench-${d}`, publicKey: toBase64Url(pair.publicKey) }, proof: toBase64Url(proof) }, {}, localAddress),
      201,
    );
    devices.push({ accountId, deviceId, ...pair });
  }
  return devices;
}

/** A device on the sync socket that pushes as acks come back; fan-out frames are counted, not decoded. */
class LoadDevice {
  readonly ws: WebSocket;
  readonly #id: Identity;
  readonly #counters: Counters;
  readonly #docId = toBase64Url(randomBytes(16));
  readonly #ciphertext = toBase64Url(randomBytes(CIPHERTEXT_BYTES));
  readonly #sentAt = new Map<string, number>();
  #seq = 0;
  running = false;
  /** Set by the driver: where ack latencies go (undefined outside the measured window). */
  latencies: number[] | undefined;

  constructor(url: string, id: Identity, counters: Counters, onReady: () => void, onFail: (err: Error) => void) {
    this.#id = id;
    this.#counters = counters;
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    let phase: 'challenge' | 'welcome' | 'ready' = 'challenge';
    this.ws.on('error', (err) => onFail(err));
    this.ws.on('close', (code) => {
      if (phase !== 'ready' || this.running) onFail(new Error(`socket of ${id.deviceId} closed (${code})`));
    });
    this.ws.on('message', (data: Buffer) => {
      if (phase === 'ready') return this.#onFrame(data);
      const frame = JSON.parse(data.toString('utf8')) as { type: string; challenge?: string; relayOrigin?: string; message?: string };
      if (phase === 'challenge' && frame.type === 'challenge') {
        const signature = signChallenge(id.secretKey, fromBase64Url(frame.challenge!), relayAuthContext(frame.relayOrigin!));
        this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'hello', accountId: id.accountId, deviceId: id.deviceId }));
        this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'auth', signature: toBase64Url(signature) }));
        phase = 'welcome';
      } else if (phase === 'welcome' && frame.type === 'welcome') {
        this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'subscribe' }));
        phase = 'ready';
        onReady();
      } else {
        onFail(new Error(`unexpected ${frame.type} while authenticating: ${frame.message ?? ''}`));
      }
    });
  }

  get inflight(): number {
    return this.#sentAt.size;
  }

  pump(): void {
    while (this.running && this.#sentAt.size < WINDOW) {
      const rid = `r${++this.#seq}`;
      // Built by hand: this runs tens of thousands of times a second and the shape never changes.
      const frame = `{"v":${PROTOCOL_VERSION},"type":"push","rid":"${rid}","docId":"${this.#docId}","chunk":{"nonce":"${toBase64Url(randomBytes(24))}","ciphertext":"${this.#ciphertext}"},"clientChunkId":"${this.#id.deviceId}${rid}"}`;
      this.#sentAt.set(rid, performance.now());
      this.ws.send(frame);
    }
  }

  #onFrame(data: Buffer): void {
    // Every frame the relay sends starts {"v":N,"type":"…"; the type is all a fan-out frame needs.
    const head = data.toString('latin1', 0, 24);
    if (head.includes('"chunks"')) {
      this.#counters.delivered++;
      return;
    }
    const frame = JSON.parse(data.toString('utf8')) as { type: string; rid?: string; code?: string; message?: string };
    const sent = frame.rid === undefined ? undefined : this.#sentAt.get(frame.rid);
    if (sent !== undefined) this.#sentAt.delete(frame.rid!);
    if (frame.type === 'ack') {
      this.#counters.acked++;
      if (sent !== undefined) this.latencies?.push(performance.now() - sent);
    } else {
      this.#counters.errors++;
      this.#counters.lastError = `${frame.type} ${frame.code ?? ''} ${frame.message ?? ''}`;
    }
    this.pump();
  }
}

export async function run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> {
  const durationMs = (ctx.quick ? 5 : 15) * 1000;
  const total = ACCOUNTS * DEVICES_PER_ACCOUNT;
  // LVA_BENCH_RELAY_TMPDIR=/dev/shm puts the relay's SQLite on tmpfs: shows how much of the rate is fsync.
  const root = fs.mkdtempSync(path.join(process.env.LVA_BENCH_RELAY_TMPDIR ?? os.tmpdir(), 'lva-bench-fanin-'));
  const relayDir = path.join(root, 'relay');
  const relay = await spawnRelay(relayDir, FRAME_LIMIT_ARGS);
  const devices: LoadDevice[] = [];
  try {
    const base = new URL(relay.url);
    const memStart = procMemoryMB(relay.pid);
    ctx.log(`relayFanIn: relay pid ${relay.pid} at ${relay.url}; registering ${ACCOUNTS} accounts × ${DEVICES_PER_ACCOUNT} devices`);
    const tReg = performance.now();
    const identities = (await Promise.all(Array.from({ length: ACCOUNTS }, (_, i) => registerAccount(base, i)))).flat();
    const registerS = (performance.now() - tReg) / 1000;

    const counters: Counters = { acked: 0, delivered: 0, errors: 0, lastError: '' };
    let failure: Error | undefined;
    const syncUrl = `ws://${base.host}/v1/sync`;
    const tConnect = performance.now();
    await Promise.all(
      identities.map(
        (id) =>
          new Promise<void>((resolve, reject) => {
            devices.push(
              new LoadDevice(syncUrl, id, counters, resolve, (err) => {
                failure ??= err;
                reject(err);
              }),
            );
          }),
      ),
    );
    const connectS = (performance.now() - tConnect) / 1000;
    const metricsIdle = await relayMetrics(relay.url);
    const connections = metricsIdle.get('lva_relay_sync_connections') ?? NaN;
    await sleep(2000);
    const memIdle = procMemoryMB(relay.pid);
    ctx.log(`relayFanIn: ${devices.length} devices connected (relay says ${connections}); idle RSS ${memIdle.rss.toFixed(0)} MB; load for ${WARMUP_MS / 1000} + ${durationMs / 1000} s`);

    let peakRss = memIdle.rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, procMemoryMB(relay.pid).rss)), 200);
    for (const d of devices) {
      d.running = true;
      d.pump();
    }
    await sleep(WARMUP_MS);
    const latencies: number[] = [];
    for (const d of devices) d.latencies = latencies;
    const start = { t: performance.now(), acked: counters.acked, delivered: counters.delivered, errors: counters.errors, relayCpu: procCpuMs(relay.pid), ownCpu: process.cpuUsage() };
    await sleep(durationMs);
    const end = { t: performance.now(), acked: counters.acked, delivered: counters.delivered, errors: counters.errors, relayCpu: procCpuMs(relay.pid), ownCpu: process.cpuUsage(start.ownCpu) };
    for (const d of devices) {
      d.latencies = undefined;
      d.running = false;
    }
    const drainDeadline = performance.now() + 10_000;
    while (devices.some((d) => d.inflight > 0) && performance.now() < drainDeadline) await sleep(20);
    clearInterval(sampler);
    // Fan-out frames of the last acks may still be on their way.
    await sleep(500);
    const memLoaded = procMemoryMB(relay.pid);
    const metrics = await relayMetrics(relay.url);
    if (failure) throw failure;

    const wallS = (end.t - start.t) / 1000;
    const pushes = (end.acked - start.acked) / wallS;
    const deliveries = (end.delivered - start.delivered) / wallS;
    const relayCpuPct = ((end.relayCpu - start.relayCpu) / (end.t - start.t)) * 100;
    const ownCpuPct = ((end.ownCpu.user + end.ownCpu.system) / 1000 / (end.t - start.t)) * 100;
    const expectedDeliveries = counters.acked * (DEVICES_PER_ACCOUNT - 1);
    const setup = `${total} devices (${ACCOUNTS} accounts × ${DEVICES_PER_ACCOUNT}), ${CIPHERTEXT_BYTES} B chunks, window ${WINDOW}, ${durationMs / 1000} s`;
    const relayDisk = fs.readdirSync(relayDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((s, e) => s + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
    // The relay, the load generator and whatever else runs here share 2 cores: if the generator is
    // near one full core it, not the relay, may be what caps the rate.
    const bottleneck = ownCpuPct >= 90 ? 'load generator near a full core: it may be the limit' : relayCpuPct >= 90 ? 'relay near a full core: the relay is the limit' : 'neither near a full core (machine shared)';
    const rows: Row[] = [
      row('sustained acked pushes', setup, pushes, 'pushes/s'),
      row('fan-out deliveries', `each push to the account's 9 other devices`, deliveries, 'frames/s'),
      row('ack latency p50', setup, percentile(latencies, 50), 'ms'),
      row('ack latency p95', setup, percentile(latencies, 95), 'ms'),
      row('relay RSS, idle with 200 connected', 'VmRSS 2 s after the last auth', memIdle.rss, 'MB'),
      row('relay RSS, peak under load', 'VmRSS sampled every 200 ms', peakRss, 'MB'),
      row('relay RSS high-water mark', 'VmHWM at the end (registration included)', memLoaded.hwm, 'MB'),
      row('relay CPU under load', 'user+system of the relay process', relayCpuPct, '% of a core'),
      row('load generator CPU', `one process driving all ${total} sockets`, ownCpuPct, '% of a core'),
      row('bottleneck', 'from the two CPU figures', bottleneck, ''),
      row('relay frame limit for the run', 'default 50 frames/s, burst 200 per connection', 'raised to 100,000/s, burst 1,000,000', ''),
      row('relay data dir', 'SQLite WAL, synchronous=FULL: one fsync per acked push', process.env.LVA_BENCH_RELAY_TMPDIR ? `${process.env.LVA_BENCH_RELAY_TMPDIR} (LVA_BENCH_RELAY_TMPDIR)` : `${os.tmpdir()} (disk)`, ''),
      row('errors from the relay', 'error frames (RATE_LIMITED etc.)', end.errors - start.errors, counters.lastError ? `(last: ${counters.lastError.trim()})` : ''),
      row('fan-out completeness', 'deliveries received / acked pushes × 9, whole run', counters.delivered / expectedDeliveries, ''),
      row('setup: register 20 accounts + 180 invites', 'HTTP over loopback', registerS, 's'),
      row('setup: connect + authenticate 200 sockets', 'concurrently', connectS, 's'),
    ];
    return {
      name: 'relayFanIn',
      title: 'relay fan-in: 200 connected devices pushing as fast as acks return',
      quick: ctx.quick,
      rows,
      details: {
        accounts: ACCOUNTS,
        devicesPerAccount: DEVICES_PER_ACCOUNT,
        window: WINDOW,
        ciphertextBytes: CIPHERTEXT_BYTES,
        durationS: wallS,
        warmupS: WARMUP_MS / 1000,
        relayArgs: FRAME_LIMIT_ARGS,
        relayDataDir: relayDir,
        relayConnections: connections,
        memory: { start: memStart, idle: memIdle, peakRss, end: memLoaded },
        cpu: { relayPct: relayCpuPct, loadGeneratorPct: ownCpuPct },
        latency: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: Math.max(...latencies), samples: latencies.length },
        totals: { acked: counters.acked, delivered: counters.delivered, errors: counters.errors },
        relay: {
          chunksAppended: metrics.get('lva_relay_chunks_appended_total'),
          bytesUsed: metrics.get('lva_relay_bytes_used'),
          pushFrames: metrics.get('lva_relay_sync_frames_total{type="push"}'),
          diskBytes: relayDisk,
        },
      },
    };
  } finally {
    for (const d of devices) d.ws.terminate();
    await relay.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
