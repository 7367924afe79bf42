/**
 * What the sync benchmarks share: the real relay (in this process, or as its own process), a pair of
 * devices joined the way the app joins them, a keyword-only embedder, and /proc readings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Core } from '../desktop/src/core/Core.ts';
import { EmbedderUnavailableError, type EmbedderSource } from '../desktop/src/core/embed/Embedder.ts';
import { finishJoin } from '../desktop/src/core/sync/Joining.ts';
import { createInvite, redeemInvite } from '../desktop/src/core/sync/Pairing.ts';
import { docStoreTarget, SyncEngine } from '../desktop/src/core/sync/SyncEngine.ts';
import { initSync } from '../desktop/src/core/sync/SyncKeys.ts';
import { createRelayLogger, createRelayServer, relayConfig, SqliteRelayStorage, type RelayServer } from '../relay/src/index.ts';

export const RELAY_MAIN = path.join(import.meta.dirname, '..', 'relay', 'src', 'main.ts');

/**
 * Stands in for USE where only keyword search is measured: loading the real model costs ~0.6 s and
 * embedding each synced capture would compete with the sync path for the one event loop. Search
 * then answers in keyword mode, as the app does while its model is unavailable.
 */
export function keywordOnlyEmbedder(): EmbedderSource {
  return {
    id: 'use-lite-512',
    dimension: 512,
    load: () => Promise.reject(new EmbedderUnavailableError('use-lite-512', 'not loaded in this benchmark (keyword search only)')),
  };
}

export interface InProcessRelay {
  readonly url: string;
  readonly storage: SqliteRelayStorage;
  readonly server: RelayServer;
  close(): Promise<void>;
}

/** The real relay on loopback in this process; `args` are extra relay flags. */
export async function startRelayInProcess(dataDir: string, args: readonly string[] = []): Promise<InProcessRelay> {
  fs.mkdirSync(dataDir, { recursive: true });
  const storage = SqliteRelayStorage.open(dataDir);
  const config = relayConfig(['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, ...args], {});
  const server = createRelayServer({ storage, logger: createRelayLogger({ level: 'silent' }), config });
  const url = await server.listen();
  return {
    url,
    storage,
    server,
    close: async () => {
      await server.close();
      await storage.close();
    },
  };
}

export interface RelayProcess {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** The relay as its own process (`node relay/src/main.ts`), so its memory and CPU are its own. */
export function spawnRelay(dataDir: string, args: readonly string[] = []): Promise<RelayProcess> {
  fs.mkdirSync(dataDir, { recursive: true });
  const child = spawn(process.execPath, [RELAY_MAIN, '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let buffered = '';
    let found = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the relay did not log "relay listening" within 30 s'));
    }, 30_000);
    // Read to the end even after the address is found: a pipe nobody drains would stall the relay's logging.
    child.stdout.on('data', (data: Buffer) => {
      if (found) return;
      buffered += data.toString('utf8');
      for (const line of buffered.split('\n')) {
        let entry: { msg?: string; address?: string };
        try {
          entry = JSON.parse(line) as { msg?: string; address?: string };
        } catch {
          continue;
        }
        if (entry.msg === 'relay listening' && entry.address) {
          found = true;
          clearTimeout(timer);
          resolve({
            url: entry.address,
            pid: child.pid!,
            child,
            stop: async () => {
              child.kill('SIGTERM');
              const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
              await exited;
              clearTimeout(killer);
            },
          });
          return;
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!found) reject(new Error(`the relay exited (code ${code}) before listening`));
    });
  });
}

/** VmRSS and VmHWM of a process, in MB. */
export function procMemoryMB(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** CPU time (user + system) a process has used, in ms. */
export function procCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // USER_HZ is 100 on every Linux this runs on.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Counters of the relay's /metrics, as `name{labels}` → value. */
export async function relayMetrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

export interface DeviceA {
  core: Core;
  dir: string;
}

/** Device A: a new data dir with sync turned on, a new account at the relay. */
export async function openFirstDevice(dir: string, relayUrl: string, background: boolean): Promise<DeviceA> {
  const core = await Core.open({ dataDir: dir, background, deviceName: 'bench-a', embedder: keywordOnlyEmbedder() });
  await initSync(dir, relayUrl);
  return { core, dir };
}

/** One push and pull of A's documents; B cannot join before the account document is on the relay. */
export async function syncOnce(core: Core, dir: string): Promise<{ pushed: number; pulled: number }> {
  return new SyncEngine(dir, docStoreTarget(await core.documents())).syncOnce();
}

/** Pairs a new device B with A's account (invite → redeem → finishJoin), as `lva pair` does. */
export async function joinDevice(dirA: string, dirB: string, relayUrl: string): Promise<void> {
  const invite = await createInvite(dirA);
  await redeemInvite(dirB, invite.code, { relayUrl, deviceName: 'bench-b' });
  await finishJoin(dirB);
}
