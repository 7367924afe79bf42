import { accountIdFor, newDeviceKeyPair, phraseToAccountKey, RecoverBody, RecoverResponse, RELAY_ROUTES, recoveryMessage, signRecovery, toBase64Url } from '@lva/shared';
import fs from 'node:fs';
import { dataDirLayout } from '../DataDir.ts';
import { newDeviceId } from '../device/DeviceState.ts';
import { CoreError } from '../errors.ts';
import { RelayApi, RelayHttpError } from './RelayApi.ts';
import { readSyncKeys, writeSyncKeys, type SyncKeys } from './SyncKeys.ts';

export interface RecoverOptions {
  relayUrl: string;
  phrase: string;
  deviceName: string;
}

/**
 * When every device is lost: the recovery phrase is the account key, which yields the account id
 * and the recovery signing key. A signature by that key enrols this device's new key pair; then
 * `finishJoin` pulls the documents and finds the account document among them.
 */
export async function recoverAccount(dataDir: string, options: RecoverOptions): Promise<SyncKeys> {
  if (fs.existsSync(dataDirLayout(dataDir).device) || readSyncKeys(dataDir)) {
    throw new CoreError('BAD_INPUT', `${dataDir} already belongs to a device; recover into a new data directory`);
  }
  let accountKey: Uint8Array;
  try {
    accountKey = phraseToAccountKey(options.phrase);
  } catch (err) {
    throw new CoreError('BAD_INPUT', (err as Error).message, { cause: err });
  }
  const accountId = accountIdFor(accountKey);
  const pair = newDeviceKeyPair();
  const deviceId = newDeviceId();
  const api = new RelayApi(options.relayUrl);
  const time = Date.now();
  const signature = signRecovery(accountKey, recoveryMessage(new URL(options.relayUrl).host, accountId, deviceId, pair.publicKey, time));
  const body = RecoverBody.parse({
    device: { id: deviceId, name: options.deviceName, publicKey: toBase64Url(pair.publicKey) },
    time,
    signature: toBase64Url(signature),
  });
  try {
    await api.json(RecoverResponse, { method: 'POST', path: RELAY_ROUTES.recover(accountId), body });
  } catch (err) {
    if (err instanceof RelayHttpError && (err.status === 401 || err.status === 404)) {
      throw new CoreError('NOT_FOUND', `the relay at ${new URL(options.relayUrl).origin} has no account for this recovery phrase; check the relay URL`, { cause: err });
    }
    throw err;
  }
  const keys: SyncKeys = {
    relayUrl: options.relayUrl,
    accountId,
    accountKey,
    deviceId,
    deviceName: options.deviceName,
    publicKey: pair.publicKey,
    secretKey: pair.secretKey,
    joining: {},
  };
  writeSyncKeys(dataDir, keys);
  return keys;
}
