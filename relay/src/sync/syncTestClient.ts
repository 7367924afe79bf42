import { decodeServerFrame, fromBase64Url, PROTOCOL_VERSION, relayAuthContext, signChallenge, toBase64Url } from '@lva/shared';
import type { ServerFrame, ServerFrameOf, ServerFrameType } from '@lva/shared';
import WebSocket from 'ws';

const WAIT_MS = 3000;

/** A test device on the sync socket: frames are queued as they arrive and taken in order. */
export class SyncTestClient {
  readonly ws: WebSocket;
  readonly closed: Promise<number>;
  readonly #frames: ServerFrame[] = [];
  readonly #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      // Every frame the relay sends must pass the client's own decoder.
      const decoded = decodeServerFrame(data.toString('utf8'));
      if (!decoded.ok) throw new Error(`relay sent an invalid frame: ${decoded.error.message}`);
      this.#frames.push(decoded.frame);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static connect(url: string): Promise<SyncTestClient> {
    const ws = new WebSocket(url);
    const client = new SyncTestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** Sends an object as JSON, or a string as is. */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async next(): Promise<ServerFrame> {
    const deadline = Date.now() + WAIT_MS;
    while (this.#frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no frame from the relay in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#frames.shift()!;
  }

  async expect<T extends ServerFrameType>(type: T): Promise<ServerFrameOf<T>> {
    const frame = await this.next();
    if (frame.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(frame)}`);
    return frame as ServerFrameOf<T>;
  }

  /** A ping's pong proves every earlier frame of this socket was handled. */
  async roundTrip(): Promise<void> {
    this.send({ v: PROTOCOL_VERSION, type: 'ping' });
    await this.expect('pong');
  }

  /** Frames received and not yet taken. */
  get pending(): readonly ServerFrame[] {
    return this.#frames;
  }

  /** hello + auth with the given key; resolves to the relay's answer (welcome or error). */
  async authenticate(accountId: string, deviceId: string, secretKey: Uint8Array): Promise<ServerFrame> {
    const challenge = await this.expect('challenge');
    const signature = signChallenge(secretKey, fromBase64Url(challenge.challenge), relayAuthContext(challenge.relayOrigin));
    this.send({ v: PROTOCOL_VERSION, type: 'hello', accountId, deviceId });
    this.send({ v: PROTOCOL_VERSION, type: 'auth', signature: toBase64Url(signature) });
    return this.next();
  }

  close(): void {
    this.ws.terminate();
  }
}
