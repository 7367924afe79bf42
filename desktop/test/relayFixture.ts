import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRelayLogger, createRelayServer, relayConfig, SqliteRelayStorage } from '../../relay/src/index.ts';
import type { RelayServer } from '../../relay/src/index.ts';

/** A real relay on loopback, with its own data dir under a temp root the test can also use for devices. */
export interface RelayFixture {
  readonly root: string;
  readonly relayDir: string;
  readonly storage: SqliteRelayStorage;
  readonly url: string;
  /** Closes the server but keeps its storage, to simulate an outage. */
  stopServer(): Promise<void>;
  /** Starts the server again on the given port (the same URL when given the old one's). */
  startServer(port: number): Promise<string>;
  close(): Promise<void>;
}

export async function startRelay(prefix: string): Promise<RelayFixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const relayDir = path.join(root, 'relay');
  fs.mkdirSync(relayDir);
  const storage = SqliteRelayStorage.open(relayDir);
  let server: RelayServer | undefined;
  const startServer = async (port: number): Promise<string> => {
    const config = relayConfig(['--port', String(port), '--host', '127.0.0.1', '--data-dir', relayDir], {});
    server = createRelayServer({ storage, logger: createRelayLogger({ level: 'silent' }), config });
    return server.listen();
  };
  const stopServer = async (): Promise<void> => {
    await server?.close();
    server = undefined;
  };
  const url = await startServer(0);
  return {
    root,
    relayDir,
    storage,
    url,
    stopServer,
    startServer,
    close: async () => {
      await stopServer();
      await storage.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
