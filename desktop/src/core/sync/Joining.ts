import type { AutomergeUrl, DocHandle } from '@automerge/automerge-repo';
import { Repo } from '@automerge/automerge-repo';
import fs from 'node:fs';
import { dataDirLayout } from '../DataDir.ts';
import { DataDirLock } from '../device/DataDirLock.ts';
import { readDeviceState, writeDeviceState, type DeviceState } from '../device/DeviceState.ts';
import { SqliteStorageAdapter } from '../docs/SqliteStorageAdapter.ts';
import { CoreError } from '../errors.ts';
import { SyncEngine, type SyncEvent } from './SyncEngine.ts';
import { readSyncKeys, writeSyncKeys, type SyncKeys } from './SyncKeys.ts';

/**
 * A device joining an account (by pairing or recovery) starts as sync.json marked `joining` and no
 * device.json. Its first sync pulls every document into local storage; only then is device.json
 * written, naming the account document, which is what makes the data dir a device that Core can
 * open. Interrupted anywhere, running this again resumes from the saved cursor.
 */
export async function finishJoin(dataDir: string, onEvent?: (e: SyncEvent) => void): Promise<DeviceState> {
  const layout = dataDirLayout(dataDir);
  const keys = readSyncKeys(dataDir);
  if (!keys) throw new CoreError('BAD_INPUT', `sync is not set up for ${dataDir}`);
  const done = readDeviceState(layout.device);
  if (done) return done;
  if (!keys.joining) throw new CoreError('DATA_DIR_INVALID', `${dataDir} has sync keys but no device file; it was not joining an account`);
  fs.mkdirSync(layout.root, { recursive: true });
  const lock = new DataDirLock(layout.lock);
  lock.acquire();
  const storage = new SqliteStorageAdapter(layout.docs);
  const repo = new Repo({ storage, network: [], saveDebounceRate: 50 });
  try {
    const engine = new SyncEngine(dataDir, { repo, docIds: () => [], onChange: () => () => undefined, afterImport: () => Promise.resolve() });
    const off = onEvent ? engine.on(onEvent) : undefined;
    try {
      await engine.connect();
      await engine.pull();
    } finally {
      engine.close();
      off?.();
    }
    await repo.flush();
    const accountUrl = keys.joining.accountUrl ?? (await findAccountDoc(repo));
    await requireAccountDoc(repo, accountUrl);
    const device: DeviceState = {
      version: 1,
      deviceId: keys.deviceId,
      deviceName: keys.deviceName ?? 'device',
      accountUrl,
      createdAt: Date.now(),
    };
    // device.json last: from here on the data dir is a device, and sync.json no longer says joining.
    writeDeviceState(layout.device, device);
    const { joining: _joined, ...rest } = keys;
    writeSyncKeys(dataDir, rest satisfies SyncKeys);
    return device;
  } finally {
    try {
      await repo.shutdown();
    } catch {
      // A handle for a document that never arrived cannot shut down cleanly; the error that got
      // us here is the one to report, and the storage and lock must still be released.
    }
    storage.close();
    lock.release();
  }
}

function isAccountDoc(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'lva/account';
}

/** Recovery knows the account key but not which document is the account's: it is the one of that kind. */
async function findAccountDoc(repo: Repo): Promise<string> {
  // A bare repo holds handles only for what the pull imported, which is every document of the account.
  const ids = Object.keys(repo.handles);
  const found: { url: string; createdAt: number }[] = [];
  for (const id of ids) {
    const handle = await repo.find<{ kind?: string; createdAt?: number }>(id as AutomergeUrl);
    const doc = handle.doc();
    if (isAccountDoc(doc)) found.push({ url: handle.url, createdAt: doc.createdAt ?? 0 });
  }
  // One per account in practice; if a bug ever made two, the oldest is the one devices share.
  found.sort((a, b) => a.createdAt - b.createdAt);
  if (!found[0]) throw new CoreError('SYNC_FAILED', 'the relay holds no account document for this account yet: sync once from a device that has it, then try again');
  return found[0].url;
}

async function requireAccountDoc(repo: Repo, accountUrl: string): Promise<void> {
  let handle: DocHandle<unknown>;
  try {
    handle = await repo.find<unknown>(accountUrl as AutomergeUrl);
  } catch (err) {
    throw new CoreError('SYNC_FAILED', 'the account document has not reached the relay yet: run lva sync --once on the inviting device, then lva sync --once here', { cause: err });
  }
  if (!isAccountDoc(handle.doc())) throw new CoreError('SYNC_FAILED', `${accountUrl} is not an account document`);
}
