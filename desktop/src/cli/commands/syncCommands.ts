import { accountKeyToPhrase } from '@lva/shared';
import { CoreError } from '../../core/errors.ts';
import { finishJoin } from '../../core/sync/Joining.ts';
import { docStoreTarget, SyncEngine, type SyncEvent } from '../../core/sync/SyncEngine.ts';
import { initSync, readSyncKeys } from '../../core/sync/SyncKeys.ts';
import { UsageError } from '../CliError.ts';
import { parse, print, withCore } from '../context.ts';
import { dataDirOf, relayUrlOf } from './syncOptions.ts';
import { untilSignalled } from '../signals.ts';

/** `lva init --relay URL`: creates the sync account for this device and registers it with the relay. */
export async function initCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { relay: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError('usage: lva init --relay URL');
  const relayUrl = relayUrlOf(values.relay, 'lva init --relay URL');
  const dataDir = dataDirOf(values);
  const existing = readSyncKeys(dataDir);
  if (existing) throw new CoreError('BAD_INPUT', `sync is already set up for ${dataDir} (account ${existing.accountId} at ${existing.relayUrl})`);
  // Opening the core once makes sure the device (and its account document) exists.
  await withCore(values, async () => {
    const keys = await initSync(dataDir, relayUrl);
    const recoveryPhrase = accountKeyToPhrase(keys.accountKey);
    print(values.json, { accountId: keys.accountId, deviceId: keys.deviceId, relayUrl: keys.relayUrl, recoveryPhrase }, () =>
      [
        `sync is on: account ${keys.accountId} at ${keys.relayUrl}`,
        '',
        'recovery phrase (write it down and keep it offline; it restores everything if every device is lost):',
        '',
        `  ${recoveryPhrase}`,
        '',
        'lva recovery-phrase shows it again on any paired device',
      ].join('\n'),
    );
  });
}

/** `lva sync --once | --watch`: one round of push and pull, or stay connected until interrupted. */
export async function syncCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { once: { type: 'boolean', default: false }, watch: { type: 'boolean', default: false } });
  if (positionals.length > 0 || values.once === values.watch) throw new UsageError('usage: lva sync --once | --watch');
  const dataDir = dataDirOf(values);
  const keys = readSyncKeys(dataDir);
  if (!keys) throw new CoreError('BAD_INPUT', `sync is not set up for ${dataDir}; run lva init --relay URL first`);
  // A join or recovery interrupted during its first sync resumes here.
  if (keys.joining) await finishJoin(dataDir);
  await withCore(values, async (core) => {
    const engine = new SyncEngine(dataDir, docStoreTarget(await core.documents(), core.blobs));
    if (values.once) {
      const rejected: SyncEvent[] = [];
      engine.on((e) => {
        if (e.type === 'rejected') rejected.push(e);
      });
      const counts = await engine.syncOnce();
      if (counts.pulled > 0) await core.catchUpIndex();
      print(values.json, { ...counts, rejected: rejected.length, status: 'offline', relayUrl: keys.relayUrl }, () =>
        `synced with ${keys.relayUrl}: pushed ${counts.pushed} document(s), pulled ${counts.pulled} chunk(s)${rejected.length ? `, rejected ${rejected.length} chunk(s) that did not decrypt` : ''}`,
      );
      return;
    }
    await watch(engine, keys.relayUrl);
  });
}

/** Prints status changes to stderr until SIGINT or SIGTERM, then disconnects. */
async function watch(engine: SyncEngine, relayUrl: string): Promise<void> {
  let last = '';
  const say = (line: string): void => {
    if (line === last) return;
    last = line;
    process.stderr.write(`lva: ${line}\n`);
  };
  engine.on((e) => {
    if (e.type === 'status') say(`${e.status} (${relayUrl})`);
    else if (e.type === 'retry') say(`offline: ${e.reason}; retrying in ${(e.delayMs / 1000).toFixed(1)} s`);
    else if (e.type === 'rejected') say(`rejected a chunk of ${e.docId} from ${e.fromDevice}: ${e.reason}`);
    else if (e.type === 'error') say(`sync error: ${e.message}`);
  });
  const stopped = untilSignalled();
  await engine.watch();
  await stopped;
  engine.close();
  say('stopped');
}
