import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QuotaExceededError } from './errors.ts';
import { runRelayStorageTests } from './relayStorageTests.ts';
import type { RelayStorageFixture } from './relayStorageTests.ts';
import { SqliteRelayStorage } from './SqliteRelayStorage.ts';

async function sqliteFixture(): Promise<RelayStorageFixture & { dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lva-relay-storage-'));
  let current = SqliteRelayStorage.open(dataDir);
  return {
    dataDir,
    storage: current,
    async reopen() {
      await current.close();
      current = SqliteRelayStorage.open(dataDir);
      return current;
    },
    async teardown() {
      await current.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

runRelayStorageTests('SqliteRelayStorage', sqliteFixture);

describe('SqliteRelayStorage blob files', () => {
  let fixture: Awaited<ReturnType<typeof sqliteFixture>> | undefined;
  afterEach(async () => {
    await fixture?.teardown();
  });

  it("keeps each blob at blobs/<accountId>/<blobId> and leaves no temp file when it refuses one", async () => {
    fixture = await sqliteFixture();
    const { storage, dataDir } = fixture;
    await storage.createAccount({ id: 'acct', createdAt: 0, quotaBytes: 8 });
    await storage.putBlob('acct', 'b1', new Uint8Array(8));
    await expect(storage.putBlob('acct', 'b2', new Uint8Array(1))).rejects.toBeInstanceOf(QuotaExceededError);
    expect(await readdir(join(dataDir, 'blobs', 'acct'))).toEqual(['b1']);
  });
});
