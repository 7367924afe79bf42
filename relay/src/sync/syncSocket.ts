import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeFrame, MAX_FRAME_BYTES, PROTOCOL_VERSION, RelayOrigin } from '@lva/shared';
import type { RemoteChunk } from '@lva/shared';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import type { RelayConfig } from '../config.ts';
import type { RelayMetrics } from '../http/metrics.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';
import { SyncSession } from './SyncSession.ts';
import type { SessionRegistry } from './SyncSession.ts';

export const SYNC_PATH = '/v1/sync';

/** How long shutdown waits for clients to answer the close handshake before cutting them off. */
const SHUTDOWN_GRACE_MS = 1000;

export interface SyncHub {
  /** Ends every open session of the device; returns how many there were. */
  closeDevice(accountId: string, deviceId: string): number;
  /** Sessions authenticated now. */
  readonly sessions: number;
}

export interface SyncSocketOptions {
  readonly storage: RelayStorage;
  readonly config: RelayConfig;
  readonly metrics: RelayMetrics;
}

/** Authenticated sessions by account, the only scope fan-out ever reaches. */
class Registry implements SessionRegistry {
  readonly #byAccount = new Map<string, Set<SyncSession>>();

  register(session: SyncSession): void {
    const sessions = this.#byAccount.get(session.accountId) ?? new Set();
    sessions.add(session);
    this.#byAccount.set(session.accountId, sessions);
  }

  unregister(session: SyncSession): void {
    const sessions = this.#byAccount.get(session.accountId);
    if (!sessions?.delete(session)) return;
    if (sessions.size === 0) this.#byAccount.delete(session.accountId);
  }

  fanOut(from: SyncSession, item: RemoteChunk): void {
    const sessions = this.#byAccount.get(from.accountId);
    if (!sessions) return;
    const text = encodeFrame({ v: PROTOCOL_VERSION, type: 'chunks', items: [item], cursor: item.seq, more: false });
    // Other connections of the sending device already hold the chunk.
    for (const session of sessions) if (session.deviceId !== from.deviceId) session.deliver(text);
  }

  closeDevice(accountId: string, deviceId: string): number {
    const matching = [...(this.#byAccount.get(accountId) ?? [])].filter((session) => session.deviceId === deviceId);
    for (const session of matching) session.revoke();
    return matching.length;
  }

  get size(): number {
    let total = 0;
    for (const sessions of this.#byAccount.values()) total += sessions.size;
    return total;
  }
}

/** The origin devices sign: the configured one, else what the client says it connected to. */
function originFor(config: RelayConfig, request: IncomingMessage): string {
  if (config.publicOrigin) return config.publicOrigin;
  const fromHost = `ws://${request.headers.host ?? ''}`;
  // A Host header is peer input; one that is not a plain host[:port] gets a placeholder no device
  // will sign for, rather than an invalid challenge frame.
  return RelayOrigin.safeParse(fromHost).success ? fromHost : 'ws://invalid-host';
}

/**
 * The sync WebSocket at /v1/sync, on Fastify's own HTTP server so that one port serves both.
 * ws enforces MAX_FRAME_BYTES while reading, before a frame is buffered whole.
 */
export function attachSyncSocket(app: FastifyInstance, { storage, config, metrics }: SyncSocketOptions): SyncHub {
  const registry = new Registry();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, clientTracking: true });
  const log = app.log.child({ component: 'sync' });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', (error) => log.debug({ err: error }, 'upgrade socket error'));
    const path = (request.url ?? '').split('?')[0];
    if (path !== SYNC_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      new SyncSession(ws, { storage, registry, metrics, log, limits: config.limits, relayOrigin: originFor(config, request) });
    });
  };
  app.server.on('upgrade', onUpgrade);

  // Before the HTTP server closes: it waits for every socket, and upgraded ones never go idle.
  app.addHook('preClose', async () => {
    app.server.off('upgrade', onUpgrade);
    await Promise.all(
      [...wss.clients].map(
        (ws) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => ws.terminate(), SHUTDOWN_GRACE_MS);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            ws.close(1001, 'relay shutting down');
          }),
      ),
    );
    wss.close();
  });

  return {
    closeDevice: (accountId, deviceId) => registry.closeDevice(accountId, deviceId),
    get sessions() {
      return registry.size;
    },
  };
}
