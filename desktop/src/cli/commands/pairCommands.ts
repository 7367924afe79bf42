import os from 'node:os';
import { accountKeyToPhrase } from '@lva/shared';
import QRCode from 'qrcode';
import { CoreError } from '../../core/errors.ts';
import { listDevices, renameDevice, revokeDevice } from '../../core/sync/Devices.ts';
import { finishJoin } from '../../core/sync/Joining.ts';
import { createInvite, redeemInvite } from '../../core/sync/Pairing.ts';
import { recoverAccount } from '../../core/sync/Recovery.ts';
import { docStoreTarget, SyncEngine, type SyncEvent } from '../../core/sync/SyncEngine.ts';
import { readSyncKeys } from '../../core/sync/SyncKeys.ts';
import { UsageError } from '../CliError.ts';
import { parse, print, withCore, type GlobalValues } from '../context.ts';
import { dataDirOf, relayUrlOf } from './syncOptions.ts';

function deviceNameOf(value: string | undefined): string {
  const name = (value ?? os.hostname()).trim().slice(0, 100);
  return name || 'device';
}

/** First-sync progress on stderr: a joining device may pull thousands of chunks. */
function firstSyncReporter(json: boolean | undefined): (e: SyncEvent) => void {
  let last = 0;
  return (e) => {
    if (e.type !== 'progress' && e.type !== 'rejected') return;
    if (e.type === 'rejected') {
      process.stderr.write(`lva: rejected a chunk of ${e.docId}: ${e.reason}\n`);
      return;
    }
    const now = Date.now();
    if (now - last < 500 && !json) return;
    last = now;
    const of = e.head ? ` of ${e.head}` : '';
    process.stderr.write(`lva: first sync: ${e.received} chunk(s) received (position ${e.cursor}${of}), ${e.documents} document(s)\n`);
  };
}

/** Pulls everything, writes the device file, then indexes what arrived so search works at once. */
async function completeJoin(values: GlobalValues, dataDir: string): Promise<{ captures: number }> {
  await finishJoin(dataDir, firstSyncReporter(values.json));
  return withCore(values, async (core) => {
    await core.catchUpIndex();
    return { captures: core.stats().captures };
  });
}

/** `lva pair invite | join CODE`. */
export async function pairCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { relay: { type: 'string' }, name: { type: 'string' }, ttl: { type: 'string' } });
  const [sub, code, ...extra] = positionals;
  const dataDir = dataDirOf(values);
  if (sub === 'invite' && code === undefined) {
    const ttlSeconds = values.ttl === undefined ? undefined : Number(values.ttl);
    if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || ttlSeconds < 30 || ttlSeconds > 86_400)) {
      throw new UsageError(`--ttl must be whole seconds from 30 to 86400 (got "${values.ttl}")`);
    }
    const keys = readSyncKeys(dataDir);
    if (!keys) throw new CoreError('BAD_INPUT', `sync is not set up for ${dataDir}; run lva init --relay URL first`);
    // Synced first: the new device's first sync needs this account's documents on the relay.
    await withCore(values, async (core) => {
      await new SyncEngine(dataDir, docStoreTarget(await core.documents(), core.blobs)).syncOnce();
    });
    const invite = await createInvite(dataDir, ttlSeconds === undefined ? {} : { ttlSeconds });
    const minutes = Math.round((invite.expiresAt - Date.now()) / 60_000);
    const qr = values.json ? '' : await QRCode.toString(invite.link, { type: 'terminal', small: true });
    print(values.json, invite, () =>
      [
        `invite code: ${invite.code}`,
        '',
        qr.trimEnd(),
        '',
        `on the new device: lva pair join ${invite.code} --relay ${invite.relayUrl}`,
        `the code works once and expires in ${minutes} minute(s)`,
      ].join('\n'),
    );
    return;
  }
  if (sub === 'join' && code !== undefined && extra.length === 0) {
    const keys = await redeemInvite(dataDir, code, { ...(values.relay ? { relayUrl: relayUrlOf(values.relay, 'lva pair join CODE --relay URL') } : {}), deviceName: deviceNameOf(values.name) });
    const { captures } = await completeJoin(values, dataDir);
    print(values.json, { accountId: keys.accountId, deviceId: keys.deviceId, relayUrl: keys.relayUrl, captures }, () =>
      `paired: this device (${keys.deviceId}) joined account ${keys.accountId}; ${captures} capture(s) synced`,
    );
    return;
  }
  throw new UsageError('usage: lva pair invite [--ttl SECONDS] | lva pair join CODE [--relay URL] [--name NAME]');
}

async function readPhrase(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('type the 24-word recovery phrase, then press Enter:\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    // On a terminal one line is the whole phrase; piped input is read to its end.
    if (process.stdin.isTTY && Buffer.concat(chunks).includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `lva recover --relay URL`: the recovery phrase from stdin brings the account back to a new data dir. */
export async function recoverCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { relay: { type: 'string' }, name: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError('usage: lva recover --relay URL [--name NAME] < phrase.txt');
  const relayUrl = relayUrlOf(values.relay, 'lva recover --relay URL');
  const dataDir = dataDirOf(values);
  const keys = await recoverAccount(dataDir, { relayUrl, phrase: await readPhrase(), deviceName: deviceNameOf(values.name) });
  const { captures } = await completeJoin(values, dataDir);
  print(values.json, { accountId: keys.accountId, deviceId: keys.deviceId, relayUrl, captures }, () =>
    `recovered account ${keys.accountId} on this device (${keys.deviceId}); ${captures} capture(s) synced`,
  );
}

/** `lva recovery-phrase`: shows the phrase again on a paired device, for someone who lost the paper. */
export function recoveryPhraseCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  if (positionals.length > 0) throw new UsageError('usage: lva recovery-phrase');
  const dataDir = dataDirOf(values);
  const keys = readSyncKeys(dataDir);
  if (!keys) throw new CoreError('BAD_INPUT', `sync is not set up for ${dataDir}; there is no account to recover`);
  const phrase = accountKeyToPhrase(keys.accountKey);
  print(values.json, { phrase }, () => `${phrase}\n\nanyone with these words can read everything you sync: keep them offline`);
  return Promise.resolve();
}

/** `lva devices [rename ID NAME | revoke ID]`. */
export async function devicesCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  const dataDir = dataDirOf(values);
  const [sub, id, name, ...extra] = positionals;
  if (sub === undefined) {
    const devices = await listDevices(dataDir);
    print(values.json, { devices }, () =>
      devices
        .map((d) => `${d.current ? '*' : ' '} ${d.id}  ${d.name}  added ${new Date(d.createdAt).toISOString().slice(0, 10)}${d.revokedAt ? `  revoked ${new Date(d.revokedAt).toISOString().slice(0, 10)}` : ''}`)
        .join('\n'),
    );
    return;
  }
  if (sub === 'revoke' && id !== undefined && name === undefined) {
    const device = await revokeDevice(dataDir, id);
    print(values.json, device, () => `revoked ${device.id} (${device.name}): it can no longer sync`);
    return;
  }
  if (sub === 'rename' && id !== undefined && name !== undefined && extra.length === 0) {
    const device = await renameDevice(dataDir, id, name);
    print(values.json, device, () => `renamed ${device.id} to ${device.name}`);
    return;
  }
  throw new UsageError('usage: lva devices | lva devices rename ID NAME | lva devices revoke ID');
}
