import {
  CHALLENGE_BYTES,
  decodeClientFrame,
  encodeFrame,
  fromBase64Url,
  PROTOCOL_VERSION,
  randomBytes,
  relayAuthContext,
  toBase64Url,
  verifyChallenge,
} from '@lva/shared';
import type { ClientFrameOf, RemoteChunk, ServerFrame, SyncErrorCode } from '@lva/shared';
import type { FastifyBaseLogger } from 'fastify';
import WebSocket from 'ws';
import type { RawData } from 'ws';
import type { RelayLimits } from '../config.ts';
import type { RelayMetrics } from '../http/metrics.ts';
import { QuotaExceededError, RelayStorageError } from '../storage/errors.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';
import { readPullBatch } from './pullBatch.ts';
import { TokenBucket } from './TokenBucket.ts';

/** Close codes in the private range, so a client can tell "log in again" from "upgrade". */
export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_UNSUPPORTED_VERSION = 4426;
/** "Try again later": a subscriber that stopped reading is dropped, and catches up by pulling. */
const CLOSE_TOO_SLOW = 1013;

/** Fan-out stops queueing for a socket holding this much unsent data. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** What a session needs from the hub that owns it. */
export interface SessionRegistry {
  register(session: SyncSession): void;
  unregister(session: SyncSession): void;
  /** Sends a new chunk to the account's other subscribed devices. */
  fanOut(from: SyncSession, item: RemoteChunk): void;
}

export interface SyncSessionContext {
  readonly storage: RelayStorage;
  readonly registry: SessionRegistry;
  readonly metrics: RelayMetrics;
  readonly log: FastifyBaseLogger;
  readonly limits: RelayLimits;
  /** Sent with the challenge and signed by the device, so a signature is only good at this relay. */
  readonly relayOrigin: string;
}

type Phase = 'hello' | 'auth' | 'ready' | 'closed';
type Rid = ClientFrameOf<'push'>['rid'];

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/**
 * One device's sync socket: challenge, hello, auth, then requests. Frames are handled one at a
 * time in arrival order, so acks come back in push order and nothing runs after the socket closes.
 */
export class SyncSession {
  readonly #ws: WebSocket;
  readonly #ctx: SyncSessionContext;
  readonly #challenge = randomBytes(CHALLENGE_BYTES);
  readonly #bucket: TokenBucket;
  readonly #authTimer: NodeJS.Timeout;
  #phase: Phase = 'hello';
  #accountId = '';
  #deviceId = '';
  #subscribed = false;
  #queue: Promise<void> = Promise.resolve();

  constructor(ws: WebSocket, ctx: SyncSessionContext) {
    this.#ws = ws;
    this.#ctx = ctx;
    this.#bucket = new TokenBucket(ctx.limits.syncFramesPerSecond, ctx.limits.syncFrameBurst, Date.now());
    ctx.metrics.syncConnectionsChanged(1);
    ws.on('message', (data) => this.#onMessage(data));
    ws.on('close', () => this.#onClose());
    // Without a listener an oversized or broken frame would be an uncaught exception for the process.
    ws.on('error', (error) => ctx.log.debug({ err: error }, 'sync socket error'));
    this.#authTimer = setTimeout(() => this.#refuse('authentication timed out'), ctx.limits.syncAuthTimeoutMs);
    this.#authTimer.unref();
    this.#send({
      v: PROTOCOL_VERSION,
      type: 'challenge',
      challenge: toBase64Url(this.#challenge),
      relayOrigin: ctx.relayOrigin,
    });
  }

  get accountId(): string {
    return this.#accountId;
  }

  get deviceId(): string {
    return this.#deviceId;
  }

  /** Takes an already encoded chunks frame, so fan-out encodes once for all subscribers. */
  deliver(text: string): void {
    if (this.#phase !== 'ready' || !this.#subscribed) return;
    if (this.#ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.#ws.close(CLOSE_TOO_SLOW, 'too far behind; reconnect and pull');
      return;
    }
    this.#sendText(text);
  }

  /** Ends the session of a device that was just revoked. */
  revoke(): void {
    this.#error('UNAUTHENTICATED', 'device revoked');
    this.#close(CLOSE_UNAUTHENTICATED, 'device revoked');
  }

  #onMessage(data: RawData): void {
    if (this.#phase === 'closed') return;
    // Checked before decoding, so a flood costs a counter update per frame rather than a JSON parse.
    const waitMs = this.#bucket.take(Date.now());
    if (waitMs > 0) {
      this.#ctx.metrics.recordFrame('rate_limited');
      this.#send({ v: PROTOCOL_VERSION, type: 'error', code: 'RATE_LIMITED', message: 'too many frames', retryAfterMs: waitMs });
      return;
    }
    const decoded = decodeClientFrame(toBytes(data));
    if (!decoded.ok) {
      this.#ctx.metrics.recordFrame('invalid');
      const { code, message } = decoded.error;
      this.#enqueue(undefined, () => {
        this.#error(code, message);
        // A peer on another version will not understand anything else we say; a bad frame is one mistake.
        if (code === 'UNSUPPORTED_VERSION') this.#close(CLOSE_UNSUPPORTED_VERSION, 'unsupported protocol version');
      });
      return;
    }
    const frame = decoded.frame;
    this.#ctx.metrics.recordFrame(frame.type);
    this.#enqueue('rid' in frame ? frame.rid : undefined, async () => {
      switch (frame.type) {
        case 'hello':
          return this.#hello(frame);
        case 'auth':
          return this.#auth(frame);
        default:
          if (this.#phase !== 'ready') return this.#refuse(`${frame.type} before authentication`);
      }
      switch (frame.type) {
        case 'push':
          return this.#push(frame);
        case 'pull':
          return this.#pull(frame);
        case 'subscribe':
          this.#subscribed = true;
          return;
        case 'snapshot':
          return this.#snapshot(frame);
        case 'ping':
          return this.#send({ v: PROTOCOL_VERSION, type: 'pong' });
      }
    });
  }

  /** Runs after the frames before it; its failure becomes an error frame, never a rejected promise. */
  #enqueue(rid: Rid | undefined, work: () => void | Promise<void>): void {
    this.#queue = this.#queue.then(async () => {
      if (this.#phase === 'closed') return;
      try {
        await work();
      } catch (error) {
        this.#fail(error, rid);
      }
    });
  }

  #hello(frame: ClientFrameOf<'hello'>): void {
    if (this.#phase !== 'hello') return this.#refuse('unexpected hello');
    this.#accountId = frame.accountId;
    this.#deviceId = frame.deviceId;
    this.#phase = 'auth';
  }

  async #auth(frame: ClientFrameOf<'auth'>): Promise<void> {
    if (this.#phase !== 'auth') return this.#refuse('unexpected auth');
    const device = await this.#ctx.storage.getDevice(this.#accountId, this.#deviceId);
    if (this.#phase !== 'auth') return;
    const valid =
      device !== undefined &&
      device.revokedAt === undefined &&
      verifyChallenge(device.publicKey, this.#challenge, fromBase64Url(frame.signature), relayAuthContext(this.#ctx.relayOrigin));
    // One answer for unknown, revoked and wrong key, so the socket cannot be used to probe device ids.
    if (!valid) return this.#refuse('authentication failed');
    clearTimeout(this.#authTimer);
    this.#phase = 'ready';
    this.#ctx.registry.register(this);
    this.#send({
      v: PROTOCOL_VERSION,
      type: 'welcome',
      deviceId: device.id,
      accountId: device.accountId,
      serverTime: Date.now(),
    } as ServerFrame);
  }

  async #push(frame: ClientFrameOf<'push'>): Promise<void> {
    const { seq, duplicate } = await this.#ctx.storage.appendChunk(this.#accountId, frame.docId, {
      clientChunkId: frame.clientChunkId,
      fromDevice: this.#deviceId,
      nonce: fromBase64Url(frame.chunk.nonce),
      ciphertext: fromBase64Url(frame.chunk.ciphertext),
    });
    this.#send({ v: PROTOCOL_VERSION, type: 'ack', rid: frame.rid, docId: frame.docId, seq } as ServerFrame);
    // A retried push was fanned out the first time; sending it again would only cost bandwidth.
    if (duplicate) return;
    this.#ctx.registry.fanOut(this, {
      docId: frame.docId,
      seq,
      nonce: frame.chunk.nonce,
      ciphertext: frame.chunk.ciphertext,
      fromDevice: this.#deviceId,
    } as RemoteChunk);
  }

  async #pull(frame: ClientFrameOf<'pull'>): Promise<void> {
    // One batch per pull: the client asks for the next with the returned cursor when it is ready,
    // so a slow device is never sent more than it requested.
    const batch = await readPullBatch(this.#ctx.storage, this.#accountId, frame);
    // Read after the batch, so head ≥ cursor: a device can show a first sync as a fraction.
    const head = (await this.#ctx.storage.getAccount(this.#accountId))?.lastSeq ?? batch.cursor;
    this.#send({ v: PROTOCOL_VERSION, type: 'chunks', rid: frame.rid, ...batch, head } as ServerFrame);
  }

  async #snapshot(frame: ClientFrameOf<'snapshot'>): Promise<void> {
    // `stored: false` means a newer snapshot is already kept; the device's work is done either way.
    await this.#ctx.storage.putSnapshot(
      this.#accountId,
      frame.docId,
      frame.coversSeq,
      fromBase64Url(frame.snapshot.nonce),
      fromBase64Url(frame.snapshot.ciphertext),
      this.#deviceId,
    );
    this.#send({ v: PROTOCOL_VERSION, type: 'snapshotAck', rid: frame.rid, docId: frame.docId, coversSeq: frame.coversSeq });
  }

  #fail(error: unknown, rid: Rid | undefined): void {
    if (error instanceof QuotaExceededError) return this.#error('QUOTA_EXCEEDED', 'account storage quota exceeded', rid);
    if (error instanceof RelayStorageError && (error.code === 'invalid-argument' || error.code === 'invalid-id')) {
      // These messages name the bad argument only, never stored data.
      return this.#error('BAD_FRAME', error.message, rid);
    }
    this.#ctx.log.error({ err: error, accountId: this.#accountId, deviceId: this.#deviceId }, 'sync frame failed');
    this.#error('INTERNAL', 'internal error', rid);
  }

  /** Ends an unauthenticated socket (or one whose device lost its right to sync). */
  #refuse(message: string): void {
    if (this.#phase === 'closed') return;
    if (this.#phase !== 'ready') this.#ctx.metrics.recordAuthFailure();
    this.#error('UNAUTHENTICATED', message);
    this.#close(CLOSE_UNAUTHENTICATED, 'unauthenticated');
  }

  #error(code: SyncErrorCode, message: string, rid?: Rid): void {
    this.#send({ v: PROTOCOL_VERSION, type: 'error', code, message, ...(rid === undefined ? {} : { rid }) });
  }

  #send(frame: ServerFrame): void {
    this.#sendText(encodeFrame(frame));
  }

  #sendText(text: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text);
  }

  #close(code: number, reason: string): void {
    this.#markClosed();
    this.#ws.close(code, reason);
  }

  #onClose(): void {
    if (this.#phase !== 'closed') this.#markClosed();
    this.#ctx.metrics.syncConnectionsChanged(-1);
  }

  /** Stops handling frames at once; the socket itself may take a round trip to finish closing. */
  #markClosed(): void {
    this.#phase = 'closed';
    this.#subscribed = false;
    clearTimeout(this.#authTimer);
    this.#ctx.registry.unregister(this);
  }
}
