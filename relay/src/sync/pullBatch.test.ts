import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, MAX_FRAME_BYTES, PROTOCOL_VERSION, randomBytes } from '@lva/shared';
import type { ServerFrame } from '@lva/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../shared/test/seededRandom.ts';
import { SqliteRelayStorage } from '../storage/SqliteRelayStorage.ts';
import { readPullBatch } from './pullBatch.ts';

describe('readPullBatch', () => {
  let dir: string;
  let storage: SqliteRelayStorage;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lva-pull-'));
    storage = SqliteRelayStorage.open(dir);
    await storage.createAccount({ id: 'acct', createdAt: 0, quotaBytes: 1024 ** 3 });
  });

  afterEach(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fills frames up to the size limit without passing it, and returns every item once in order', async () => {
    const random = seededRandom(7);
    const sizes = Array.from({ length: 40 }, () => Math.floor(random() * 300 * 1024) + 16);
    for (const [i, size] of sizes.entries()) {
      await storage.appendChunk('acct', `doc${i % 3}`, { clientChunkId: `c${i}`, fromDevice: 'dev1', nonce: randomBytes(24), ciphertext: randomBytes(size) });
    }
    // doc0's first chunks folded into a snapshot at its third chunk (seq 7).
    await storage.putSnapshot('acct', 'doc0', 7, randomBytes(24), randomBytes(200 * 1024), 'dev1');

    const seen: number[] = [];
    let cursor = 0;
    let frames = 0;
    for (;;) {
      const batch = await readPullBatch(storage, 'acct', { cursor, limit: 500 });
      const frame = encodeFrame({ v: PROTOCOL_VERSION, type: 'chunks', rid: 'r1', ...batch, head: 40 } as ServerFrame);
      expect(new TextEncoder().encode(frame).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      seen.push(...batch.items.map((item) => item.seq));
      frames++;
      cursor = batch.cursor;
      if (!batch.more) break;
    }
    const expected = Array.from({ length: 40 }, (_, i) => i + 1).filter((seq) => !(seq <= 7 && (seq - 1) % 3 === 0) || seq === 7);
    expect(seen).toEqual(expected);
    // About 6 MiB of items in 1 MiB frames: the frames are used, not one item each.
    expect(frames).toBeLessThan(seen.length / 2);
  });
});
