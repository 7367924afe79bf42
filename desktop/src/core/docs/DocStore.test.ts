import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AutomergeUrl } from '@automerge/automerge-repo';
import { SHARD_CAPACITY, listShards, newCaptureId, shardsOfMonth, type Capture } from '@lva/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { dataDirLayout } from '../DataDir.ts';
import { DocStore } from './DocStore.ts';
import { SqliteStorageAdapter } from './SqliteStorageAdapter.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function layout() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-docs-'));
  dirs.push(dir);
  return dataDirLayout(dir);
}

function capture(createdAt: number, text: string): Capture {
  return { id: newCaptureId(createdAt) as Capture['id'], createdAt, source: 'text', deviceId: 'd', title: text.slice(0, 20), text, blobs: [], status: {}, concepts: [], tags: [], edits: [] };
}

describe('DocStore', () => {
  it('creates an account and device once, and finds them again after a restart', async () => {
    const paths = layout();
    const first = await DocStore.open(paths, new SqliteStorageAdapter(paths.docs), 'laptop');
    const { deviceId, accountUrl } = first.device;
    expect(first.account.doc().devices[deviceId]?.name).toBe('laptop');
    await first.close();
    const again = await DocStore.open(paths, new SqliteStorageAdapter(paths.docs), 'ignored');
    expect(again.device.deviceId).toBe(deviceId);
    expect(again.device.accountUrl).toBe(accountUrl);
    await again.close();
  });

  it('files captures into monthly shards and opens a new shard when one is full', async () => {
    const paths = layout();
    const store = await DocStore.open(paths, new SqliteStorageAdapter(paths.docs));
    const nov = Date.UTC(2026, 10, 3);
    const oct = Date.UTC(2026, 9, 3);
    const many = Array.from({ length: SHARD_CAPACITY + 10 }, (_, i) => capture(nov + i, `note ${i}`));
    await store.addCaptures([...many, capture(oct, 'october note')]);
    const account = store.account.doc();
    expect([...new Set(listShards(account).map((s) => s.month))]).toEqual(['2026-10', '2026-11']);
    expect(shardsOfMonth(account, '2026-11')).toHaveLength(2);
    expect(shardsOfMonth(account, '2026-10')).toHaveLength(1);
    for (const url of shardsOfMonth(account, '2026-11')) {
      const doc = (await store.shard(url as AutomergeUrl)).doc();
      for (const bucket of Object.values(doc.buckets)) expect(Object.keys(bucket).length).toBeLessThan(1000);
    }
    await store.close();

    const reopened = await DocStore.open(paths, new SqliteStorageAdapter(paths.docs));
    expect((await reopened.getCapture(many.at(-1)!.id))?.text).toBe(`note ${SHARD_CAPACITY + 9}`);
    expect((await reopened.getCapture(many[0]!.id))?.text).toBe('note 0');
    expect(await reopened.getCapture(newCaptureId(nov))).toBeUndefined();
    await reopened.close();
  });

  it('refuses a device file that is not its own, with a message a person can act on', async () => {
    const paths = layout();
    fs.writeFileSync(paths.device, '{"hello": 1}');
    await expect(DocStore.open(paths, new SqliteStorageAdapter(paths.docs))).rejects.toMatchObject({ code: 'DATA_DIR_INVALID' });
    fs.writeFileSync(paths.device, 'not json');
    await expect(DocStore.open(paths, new SqliteStorageAdapter(paths.docs))).rejects.toThrow(/not valid JSON/);
  });
});
