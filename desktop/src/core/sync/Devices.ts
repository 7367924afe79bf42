import { DeviceInfo, DeviceList, RELAY_ROUTES } from '@lva/shared';
import { CoreError } from '../errors.ts';
import { RelayApi, RelayHttpError } from './RelayApi.ts';
import { readSyncKeys, signerOf, type SyncKeys } from './SyncKeys.ts';

export type DeviceEntry = DeviceInfo & { current: boolean };

function keysOf(dataDir: string): SyncKeys {
  const keys = readSyncKeys(dataDir);
  if (!keys) throw new CoreError('BAD_INPUT', `sync is not set up for ${dataDir}; run lva init --relay URL or lva pair join CODE first`);
  return keys;
}

function notFound(err: unknown, deviceId: string): never {
  if (err instanceof RelayHttpError && err.status === 404) throw new CoreError('NOT_FOUND', `this account has no device ${deviceId}; lva devices lists them`, { cause: err });
  throw err;
}

/** The account's devices as the relay knows them, revoked ones included, this one marked. */
export async function listDevices(dataDir: string): Promise<DeviceEntry[]> {
  const keys = keysOf(dataDir);
  const list = await new RelayApi(keys.relayUrl).json(DeviceList, { method: 'GET', path: RELAY_ROUTES.devices, signer: signerOf(keys) });
  return list.devices.map((d) => ({ ...d, current: d.id === keys.deviceId }));
}

export async function renameDevice(dataDir: string, deviceId: string, name: string): Promise<DeviceInfo> {
  const keys = keysOf(dataDir);
  try {
    return await new RelayApi(keys.relayUrl).json(DeviceInfo, { method: 'PATCH', path: RELAY_ROUTES.device(deviceId), body: { name }, signer: signerOf(keys) });
  } catch (err) {
    return notFound(err, deviceId);
  }
}

/** From then on the device cannot connect; its open sync socket is closed at once. */
export async function revokeDevice(dataDir: string, deviceId: string): Promise<DeviceInfo> {
  const keys = keysOf(dataDir);
  try {
    return await new RelayApi(keys.relayUrl).json(DeviceInfo, { method: 'POST', path: RELAY_ROUTES.revoke(deviceId), signer: signerOf(keys) });
  } catch (err) {
    return notFound(err, deviceId);
  }
}
