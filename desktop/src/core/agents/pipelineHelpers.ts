import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { expect } from 'vitest';
import { Core, type CoreEvent, type CoreOptions } from '../Core.ts';
import type { EmbedderSource } from '../embed/Embedder.ts';
import type { Job } from '../jobs/JobQueue.ts';
import { providerSettingsFromEnv, type ProviderSettings } from './ProviderSettings.ts';

/**
 * Shared set-up for the pipeline tests (pipeline.test.ts, pipelineFailures.test.ts, pipelineDocuments.test.ts).
 * Not a test file itself: vitest only collects *.test.ts.
 */

/** Words hashed into a small vector: search stays hybrid without loading a real model, which these tests do not exercise. */
export const hashEmbedder: EmbedderSource = {
  id: 'test-hash-32',
  dimension: 32,
  load: () =>
    Promise.resolve({
      id: 'test-hash-32',
      dimension: 32,
      embed: (texts) =>
        Promise.resolve(
          texts.map((text) => {
            const v = new Float32Array(32);
            for (const word of text.toLowerCase().split(/\W+/).filter(Boolean)) {
              let h = 0;
              for (const ch of word) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
              v[h % 32]! += 1;
            }
            const norm = Math.hypot(...v) || 1;
            return v.map((x) => x / norm);
          }),
        ),
    }),
};

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `lva-${prefix}-`));
}

export function settingsFor(url: string | undefined, key: string | undefined = 'sk-test'): ProviderSettings {
  return providerSettingsFromEnv({
    ...(key ? { ANTHROPIC_API_KEY: key } : {}),
    ...(url ? { ANTHROPIC_BASE_URL: url } : {}),
    LVA_AI_MAX_RETRIES: '0',
    LVA_AI_TIMEOUT_MS: '60000',
  });
}

export function openCore(dataDir: string, agents: CoreOptions['agents']): Promise<Core> {
  return Core.open({ dataDir, background: false, embedder: hashEmbedder, ...(agents ? { agents } : {}) });
}

/** Every event the core emits, from now on. */
export function record(core: Core): CoreEvent[] {
  const events: CoreEvent[] = [];
  core.on((e) => events.push(e));
  return events;
}

export function jobOf(core: Core, kind: string, key: string): Job {
  const job = core.queue.get(kind, key);
  expect(job, `${kind} job for ${key}`).toBeDefined();
  return job!;
}

/**
 * Drains until `done` holds, making retried agent jobs due at once instead of sleeping through their
 * backoff. The deadline is generous; it only turns a hang into a readable failure.
 */
export async function drainUntil(core: Core, done: () => boolean, what: string, deadlineMs = 60_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    await core.drain();
    if (done()) return;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    core.wakeAgents();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function waitFor(condition: () => boolean, what: string, deadlineMs = 60_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A port nothing listens on (for now): listen on 0, note it, close. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid 2×2 RGB PNG, built here rather than checked in. */
export function tinyPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const rows = Buffer.from([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(rows)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
