import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The relay runs in this process, so the CLI is spawned asynchronously (spawnSync would block the relay).
import { LVA, runLva, type LvaRun } from '../../test/lvaProcess.ts';
import { startRelay, type RelayFixture } from '../../test/relayFixture.ts';

type Run = LvaRun;

function lva(dataDir: string, ...args: string[]): Promise<Run> {
  return runLva(dataDir, args);
}

/** A port nothing listens on: bound, read, released. */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function oneLineError(r: Run): string {
  expect(r.status).toBe(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr;
}

describe('lva init and lva sync against the real relay', () => {
  let relay: RelayFixture;
  let root: string;
  let storage: RelayFixture['storage'];
  let relayUrl: string;

  beforeAll(async () => {
    relay = await startRelay('lva-sync-cli-');
    ({ root, storage, url: relayUrl } = relay);
  });

  afterAll(() => relay.close());

  it('inits, captures and syncs once: the relay holds chunks for the account; a second init is refused', async () => {
    const dir = path.join(root, 'a');
    const init = await lva(dir, 'init', '--relay', relayUrl, '--json');
    expect(init.status, init.stderr).toBe(0);
    const { accountId } = JSON.parse(init.stdout) as { accountId: string };
    expect(accountId).toMatch(/^[A-Za-z0-9_-]{16,64}$/);

    expect((await lva(dir, 'capture', '--no-wait', 'octopuses have three hearts and blue blood')).status).toBe(0);
    const sync = await lva(dir, 'sync', '--once', '--json');
    expect(sync.status, sync.stderr).toBe(0);
    const summary = JSON.parse(sync.stdout) as { pushed: number; pulled: number; status: string };
    expect(summary.pushed).toBeGreaterThan(0);
    expect(summary.pulled).toBe(0);
    const chunks = await storage.readChunks(accountId, { afterSeq: 0, limit: 100 });
    expect(chunks.length).toBeGreaterThanOrEqual(summary.pushed);

    // Nothing new: a second round pushes nothing.
    const again = await lva(dir, 'sync', '--once');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('pushed 0 document(s)');

    expect(oneLineError(await lva(dir, 'init', '--relay', relayUrl))).toMatch(/already set up/);
  });

  it('refuses to sync a data dir that was never initialised', async () => {
    const r = await lva(path.join(root, 'fresh'), 'sync', '--once');
    expect(oneLineError(r)).toMatch(/run lva init --relay URL/);
  });

  it('names the relay URL when it cannot be reached', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const dir = path.join(root, 'dead');
    expect(oneLineError(await lva(dir, 'init', '--relay', dead))).toContain(dead);
    // Nothing was written: init can be retried once the relay is up.
    expect(fs.existsSync(path.join(dir, 'sync.json'))).toBe(false);
  });

  it('watches until SIGTERM and exits cleanly', async () => {
    const dir = path.join(root, 'watcher');
    expect((await lva(dir, 'init', '--relay', relayUrl)).status).toBe(0);
    const child = spawn(process.execPath, [LVA, 'sync', '--watch', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stderr = '';
    const connected = new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('connected')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await connected;
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopped');
  });
});
