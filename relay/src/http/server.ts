import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { RelayConfig } from '../config.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';
import { attachSyncSocket } from '../sync/syncSocket.ts';
import type { SyncHub } from '../sync/syncSocket.ts';
import { accountRoutes } from './accounts.ts';
import { blobRoutes } from './blobs.ts';
import { deviceAuth } from './deviceAuth.ts';
import { deviceRoutes } from './devices.ts';
import { inviteRoutes } from './invites.ts';
import { PROMETHEUS_CONTENT_TYPE, RelayMetrics } from './metrics.ts';
import { recoveryRoutes } from './recovery.ts';
import { RELAY_VERSION } from './version.ts';

export interface RelayServerOptions {
  readonly storage: RelayStorage;
  /** Made with createRelayLogger, so that the redaction list applies to request logs too. */
  readonly logger: FastifyBaseLogger;
  readonly config: RelayConfig;
}

export interface RelayServer {
  readonly app: FastifyInstance;
  readonly metrics: RelayMetrics;
  /** The sync sockets; lets other endpoints end a revoked device's session. */
  readonly sync: SyncHub;
  /** Listens on the configured host and port; resolves to the address, e.g. http://127.0.0.1:8787. */
  listen(): Promise<string>;
  /** Stops accepting connections and waits for requests in flight. Leaves the storage open. */
  close(): Promise<void>;
}

const UNMATCHED_ROUTE = 'unmatched';

/**
 * The relay's HTTP server: health, metrics, the sync WebSocket and the API beside it (accounts,
 * pairing, devices, recovery, blobs; shared/src/sync/relayApi.ts).
 */
export function createRelayServer({ storage, logger, config }: RelayServerOptions): RelayServer {
  const app = Fastify({ loggerInstance: logger, bodyLimit: config.limits.bodyLimitBytes });
  const metrics = new RelayMetrics();

  app.addHook('onResponse', (request, reply, done) => {
    metrics.recordRequest(request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode);
    done();
  });

  app.get('/health', () => ({ ok: true, version: RELAY_VERSION }));

  app.get('/metrics', async (_request, reply) => {
    const stats = await storage.stats();
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(metrics.render(stats));
  });

  void app.register(accountRoutes, { storage, config });
  void app.register(recoveryRoutes, { storage, config });
  const sync = attachSyncSocket(app, { storage, config, metrics });
  // One instance for every route, so that a nonce used on one route is refused on all the others.
  const auth = deviceAuth({ storage, config });
  void app.register(inviteRoutes, { storage, config, auth });
  void app.register(deviceRoutes, { storage, config, auth, sync });
  void app.register(blobRoutes, { storage, config, auth });

  return {
    app,
    metrics,
    sync,
    listen: () => app.listen({ port: config.port, host: config.host }),
    close: () => app.close(),
  };
}
