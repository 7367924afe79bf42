import { resolve } from 'node:path';
import { relayConfig, RelayConfigError } from './config.ts';
import type { RelayConfig } from './config.ts';
import { createRelayLogger } from './http/logger.ts';
import { createRelayServer } from './http/server.ts';
import { RELAY_VERSION } from './http/version.ts';
import { SqliteRelayStorage } from './storage/SqliteRelayStorage.ts';

function readConfig(): RelayConfig | undefined {
  try {
    return relayConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof RelayConfigError)) throw error;
    console.error(error.message);
    process.exitCode = 2;
    return undefined;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  if (!config) return;
  const logger = createRelayLogger();
  const dataDir = resolve(config.dataDir);
  const storage = SqliteRelayStorage.open(dataDir);
  const server = createRelayServer({ storage, logger, config: { ...config, dataDir } });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C means the operator will not wait for requests in flight.
      logger.warn({ signal }, 'relay stopping immediately');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'relay shutting down');
    // Storage closes last so that requests still being answered can finish their writes.
    server
      .close()
      .then(() => storage.close())
      .then(
        () => logger.info('relay stopped'),
        (error: unknown) => {
          logger.error({ err: error }, 'relay shutdown failed');
          process.exitCode = 1;
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    const address = await server.listen();
    logger.info({ address, dataDir, version: RELAY_VERSION }, 'relay listening');
  } catch (error) {
    logger.error({ err: error }, 'relay failed to start');
    process.exitCode = 1;
    await storage.close();
  }
}

await main();
