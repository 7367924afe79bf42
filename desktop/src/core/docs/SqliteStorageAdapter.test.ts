import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, afterEach } from 'vitest';
import { Repo } from '@automerge/automerge-repo';
import { runStorageAdapterTests } from '@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js';
import { SqliteStorageAdapter } from './SqliteStorageAdapter.ts';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'lva-sqlite-storage-'));
}

runStorageAdapterTests(() => {
  const dir = tempDir();
  const adapter = new SqliteStorageAdapter(join(dir, 'docs.sqlite'));
  return Promise.resolve({
    adapter,
    teardown: () => {
      adapter.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}, 'SqliteStorageAdapter');

describe('SqliteStorageAdapter', () => {
  const dirs: string[] = [];
  const open: SqliteStorageAdapter[] = [];

  function openAdapter(path: string): SqliteStorageAdapter {
    const adapter = new SqliteStorageAdapter(path);
    open.push(adapter);
    return adapter;
  }

  function newPath(): string {
    const dir = tempDir();
    dirs.push(dir);
    return join(dir, 'nested', 'deeper', 'docs.sqlite');
  }

  function reopen(adapter: SqliteStorageAdapter, path: string): SqliteStorageAdapter {
    adapter.close();
    open.splice(open.indexOf(adapter), 1);
    return openAdapter(path);
  }

  afterEach(() => {
    for (const adapter of open.splice(0)) adapter.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('creates missing parent directories', () => {
    const path = newPath();
    openAdapter(path);
    expect(existsSync(path)).toBe(true);
  });

  it('keeps data across close and reopen', async () => {
    const path = newPath();
    const first = openAdapter(path);
    // Not awaited in between, as automerge-repo does.
    const writes = [
      first.save(['doc1', 'snapshot', 'h1'], bytes(1, 2, 3)),
      first.save(['doc1', 'incremental', 'h2'], bytes(4)),
      first.remove(['doc1', 'incremental', 'h2']),
      first.save(['storage-adapter-id'], bytes(9)),
    ];
    await Promise.all(writes);
    const second = reopen(first, path);
    expect(await second.load(['doc1', 'snapshot', 'h1'])).toStrictEqual(bytes(1, 2, 3));
    expect(await second.load(['storage-adapter-id'])).toStrictEqual(bytes(9));
    expect(await second.loadRange(['doc1'])).toStrictEqual([{ key: ['doc1', 'snapshot', 'h1'], data: bytes(1, 2, 3) }]);
  });

  it('stores a view of a larger buffer without its neighbours', async () => {
    const adapter = openAdapter(newPath());
    await adapter.save(['k'], bytes(0, 1, 2, 3, 4).subarray(1, 3));
    expect(await adapter.load(['k'])).toStrictEqual(bytes(1, 2));
  });

  it('matches prefixes by whole key parts', async () => {
    const adapter = openAdapter(newPath());
    await adapter.save(['a', 'b'], bytes(1));
    await adapter.save(['a', 'b', 'c'], bytes(2));
    await adapter.save(['a', 'bc'], bytes(3));
    await adapter.save(['a', 'bc', 'd'], bytes(4));
    await adapter.save(['ab'], bytes(5));

    expect((await adapter.loadRange(['a', 'b'])).map((c) => c.key)).toStrictEqual([
      ['a', 'b'],
      ['a', 'b', 'c'],
    ]);
    expect((await adapter.loadRange(['a'])).map((c) => c.key)).toHaveLength(4);
    expect((await adapter.loadRange([])).map((c) => c.key)).toHaveLength(5);

    await adapter.removeRange(['a', 'b']);
    expect((await adapter.loadRange(['a'])).map((c) => c.key)).toStrictEqual([
      ['a', 'bc'],
      ['a', 'bc', 'd'],
    ]);
    expect(await adapter.load(['ab'])).toStrictEqual(bytes(5));
  });

  it('round-trips key parts containing separators and escapes', async () => {
    const adapter = openAdapter(newPath());
    const tricky = ['a/b', '%2F', '', 'ü 😀', '0'];
    await adapter.save(tricky, bytes(7));
    await adapter.save(['a'], bytes(8));
    expect(await adapter.load(tricky)).toStrictEqual(bytes(7));
    expect(await adapter.loadRange(['a/b'])).toStrictEqual([{ key: tricky, data: bytes(7) }]);
    expect((await adapter.loadRange(['a'])).map((c) => c.key)).toStrictEqual([['a']]);
  });

  it('rejects keys it cannot store faithfully', async () => {
    const adapter = openAdapter(newPath());
    await expect(adapter.save([], bytes(1))).rejects.toThrow(TypeError);
    await expect(adapter.save(['\ud800'], bytes(1))).rejects.toThrow(/well-formed/);
  });

  it('bumps document versions on document writes but not on sync states', async () => {
    const path = newPath();
    const adapter = openAdapter(path);
    expect(adapter.docVersion('doc1')).toBe(0);

    await adapter.save(['doc1', 'snapshot', 'h1'], bytes(1));
    const v1 = adapter.docVersion('doc1');
    expect(v1).toBeGreaterThan(0);

    await adapter.save(['doc1', 'sync-state', 'peer'], bytes(2));
    await adapter.removeRange(['doc1', 'sync-state']);
    await adapter.save(['storage-adapter-id'], bytes(3));
    await adapter.remove(['doc1', 'incremental', 'missing']);
    expect(adapter.docVersion('doc1')).toBe(v1);

    await adapter.save(['doc2', 'incremental', 'h2'], bytes(4));
    const v2 = adapter.docVersion('doc2');
    expect(v2).toBeGreaterThan(v1);

    await adapter.save(['doc1', 'incremental', 'h3'], bytes(5));
    const v3 = adapter.docVersion('doc1');
    expect(v3).toBeGreaterThan(v2);

    await adapter.remove(['doc1', 'incremental', 'h3']);
    const v4 = adapter.docVersion('doc1');
    expect(v4).toBeGreaterThan(v3);

    await adapter.save(['doc2', 'sync-state', 'peer'], bytes(6));
    await adapter.removeRange(['doc2']);
    const v5 = adapter.docVersion('doc2');
    expect(v5).toBeGreaterThan(v4);

    const reopened = reopen(adapter, path);
    expect(reopened.docVersions()).toStrictEqual(
      new Map([
        ['doc1', v4],
        ['doc2', v5],
      ]),
    );
    // The counter itself must survive, or a post-restart write could reuse an old version.
    await reopened.save(['doc1', 'snapshot', 'h4'], bytes(7));
    expect(reopened.docVersion('doc1')).toBeGreaterThan(v5);
  });

  it('rejects calls after close', async () => {
    const adapter = openAdapter(newPath());
    open.splice(open.indexOf(adapter), 1);
    adapter.close();
    await expect(adapter.load(['k'])).rejects.toThrow();
  });

  it('serves an automerge-repo across a restart', async () => {
    const path = newPath();
    const firstAdapter = openAdapter(path);
    const first = new Repo({ storage: firstAdapter, network: [] });
    const created = first.create<{ notes: string[] }>({ notes: [] });
    created.change((doc) => {
      doc.notes.push('spoken thought');
    });
    created.change((doc) => {
      doc.notes.push('second thought');
    });
    const url = created.url;
    await first.flush();
    await first.shutdown();
    expect(firstAdapter.docVersion(created.documentId)).toBeGreaterThan(0);

    const secondAdapter = reopen(firstAdapter, path);
    const second = new Repo({ storage: secondAdapter, network: [] });
    const found = await second.find<{ notes: string[] }>(url);
    expect(found.doc().notes).toStrictEqual(['spoken thought', 'second thought']);
    await second.shutdown();
  });
});
