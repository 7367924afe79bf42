import { decodeServerFrame, encodeFrame, fromBase64Url, relayAuthContext, signChallenge, toBase64Url, ClientFrame } from '@lva/shared';
import type { ServerFrame, ServerFrameOf } from '@lva/shared';
import { CoreError } from '../errors.ts';

const HANDSHAKE_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

export interface RelayIdentity {
  accountId: string;
  deviceId: string;
  secretKey: Uint8Array;
}

type Reply = ServerFrameOf<'ack'> | ServerFrameOf<'chunks'> | ServerFrameOf<'snapshotAck'> | ServerFrameOf<'error'>;

interface Waiter {
  resolve: (frame: Reply) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** The relay's WebSocket origin, which the device signs with the challenge. */
export function syncUrlOf(relayUrl: string): string {
  const url = new URL('/v1/sync', relayUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : url.protocol === 'http:' ? 'ws:' : url.protocol;
  return url.toString();
}

/**
 * One authenticated sync socket (Node 22's global WebSocket, so the core needs no socket library).
 * Replies are matched to requests by rid; frames without one (live fan-out) go to `onPush`.
 */
export class RelayConnection {
  readonly #ws: WebSocket;
  readonly #waiters = new Map<string, Waiter>();
  #nextRid = 0;
  #closed = false;
  onPush: (frame: ServerFrame) => void = () => undefined;
  onClose: () => void = () => undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
  }

  /** Connects and authenticates: challenge → hello → auth → welcome. */
  static open(relayUrl: string, id: RelayIdentity): Promise<RelayConnection> {
    const ws = new WebSocket(syncUrlOf(relayUrl));
    const conn = new RelayConnection(ws);
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.close();
        reject(new CoreError('SYNC_FAILED', message));
      };
      const timer = setTimeout(() => fail('the relay did not answer in time'), HANDSHAKE_TIMEOUT_MS);
      ws.addEventListener('error', () => fail(`could not connect to the relay at ${relayUrl}`));
      ws.addEventListener('close', () => {
        fail('the relay closed the connection during authentication');
        conn.#onClosed();
      });
      ws.addEventListener('message', (event: MessageEvent) => {
        const decoded = decodeServerFrame(typeof event.data === 'string' ? event.data : new Uint8Array(event.data as ArrayBuffer));
        if (!decoded.ok) {
          // A relay speaking nonsense is not trusted with anything further.
          if (!settled) fail(`the relay sent an invalid frame: ${decoded.error.message}`);
          else conn.close();
          return;
        }
        const frame = decoded.frame;
        if (!settled) {
          if (frame.type === 'challenge') {
            // A relay asking us to sign for another host could be relaying our answer there.
            if (new URL(frame.relayOrigin).host !== new URL(relayUrl).host) {
              fail(`the relay at ${relayUrl} identifies itself as ${frame.relayOrigin}; check the relay URL or its public origin setting`);
              return;
            }
            const signature = signChallenge(id.secretKey, fromBase64Url(frame.challenge), relayAuthContext(frame.relayOrigin));
            conn.#send({ v: frame.v, type: 'hello', accountId: id.accountId, deviceId: id.deviceId });
            conn.#send({ v: frame.v, type: 'auth', signature: toBase64Url(signature) });
          } else if (frame.type === 'welcome') {
            settled = true;
            clearTimeout(timer);
            resolve(conn);
          } else if (frame.type === 'error') {
            fail(
              frame.code === 'UNAUTHENTICATED'
                ? `the relay at ${relayUrl} does not accept this device: it was revoked, or the relay does not know it. To sync again, pair a new data directory with lva pair join`
                : `the relay refused this device: ${frame.code} ${frame.message}`,
            );
          }
          return;
        }
        conn.#dispatch(frame);
      });
    });
  }

  /** Sends a request frame (given without rid) and resolves to its reply: ack, chunks, snapshotAck or error. */
  request(frame: Record<string, unknown>): Promise<Reply> {
    const rid = `r${++this.#nextRid}`;
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new CoreError('SYNC_FAILED', 'the connection to the relay is closed'));
      const timer = setTimeout(() => {
        this.#waiters.delete(rid);
        reject(new CoreError('SYNC_FAILED', `the relay did not answer ${String(frame['type'])} in time`));
      }, REQUEST_TIMEOUT_MS);
      this.#waiters.set(rid, { resolve, reject, timer });
      this.#send({ ...frame, rid });
    });
  }

  send(frame: Record<string, unknown>): void {
    this.#send(frame);
  }

  close(): void {
    if (this.#closed) return;
    this.#ws.close();
    this.#onClosed();
  }

  // Frames are checked against the shared schema before they leave, so a bug here shows up as a
  // clear local error, not as a BAD_FRAME from the relay.
  #send(frame: Record<string, unknown>): void {
    this.#ws.send(encodeFrame(ClientFrame.parse(frame)));
  }

  #dispatch(frame: ServerFrame): void {
    const rid = 'rid' in frame ? frame.rid : undefined;
    const waiter = rid === undefined ? undefined : this.#waiters.get(rid);
    if (waiter && (frame.type === 'ack' || frame.type === 'chunks' || frame.type === 'snapshotAck' || frame.type === 'error')) {
      this.#waiters.delete(rid!);
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
      return;
    }
    this.onPush(frame);
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [rid, waiter] of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new CoreError('SYNC_FAILED', 'the connection to the relay closed'));
      this.#waiters.delete(rid);
    }
    this.onClose();
  }
}
