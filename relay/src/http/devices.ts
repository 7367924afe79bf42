import { DeviceId, RenameDeviceBody } from '@lva/shared';
import type { DeviceList } from '@lva/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { RelayConfig } from '../config.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';
import type { SyncHub } from '../sync/syncSocket.ts';
import { deviceInfo, jsonBodyLimit, parseJsonBody, sendError, useApiPlumbing } from './api.ts';
import { authenticatedDevice } from './deviceAuth.ts';
import type { DeviceAuthHooks } from './deviceAuth.ts';

export interface DeviceRoutesOptions {
  readonly storage: RelayStorage;
  readonly config: RelayConfig;
  readonly auth: DeviceAuthHooks;
  /** Ends a revoked device's sync sessions, which were authenticated before the revocation. */
  readonly sync: SyncHub;
}

// The same answer for another account's device as for none at all: ids of other accounts are not confirmed.
function notFound(reply: FastifyReply): FastifyReply {
  return sendError(reply, 404, 'device-not-found', 'this account has no device with that id');
}

function deviceIdParam(params: unknown): string | undefined {
  const { deviceId } = params as { deviceId: string };
  return DeviceId.safeParse(deviceId).success ? deviceId : undefined;
}

/** The signing device's own account's devices: list, rename and revoke. */
// eslint-disable-next-line @typescript-eslint/require-await
export async function deviceRoutes(app: FastifyInstance, { storage, config, auth, sync }: DeviceRoutesOptions): Promise<void> {
  useApiPlumbing(app, { what: 'device request', contentTypes: ['application/json'] });
  const bodyLimit = jsonBodyLimit(config);

  app.get('/v1/devices', { ...auth }, async (request) => {
    const { accountId } = authenticatedDevice(request);
    const list: z.input<typeof DeviceList> = { devices: (await storage.listDevices(accountId)).map(deviceInfo) };
    return list;
  });

  app.patch('/v1/devices/:deviceId', { ...auth, bodyLimit }, async (request, reply) => {
    const { accountId } = authenticatedDevice(request);
    const parsed = parseJsonBody(request, RenameDeviceBody);
    if (!parsed.ok) return sendError(reply, 400, parsed.code, parsed.message);
    const deviceId = deviceIdParam(request.params);
    const renamed = deviceId === undefined ? undefined : await storage.renameDevice(accountId, deviceId, parsed.data.name);
    return renamed ? deviceInfo(renamed) : notFound(reply);
  });

  // Any body is ignored: there is nothing to say, but a client may still send `{}`.
  app.post('/v1/devices/:deviceId/revoke', { ...auth, bodyLimit }, async (request, reply) => {
    const { accountId } = authenticatedDevice(request);
    const deviceId = deviceIdParam(request.params);
    if (deviceId === undefined || !(await storage.revokeDevice(accountId, deviceId, Date.now()))) return notFound(reply);
    // Sessions check revocation only when they authenticate, so open ones are ended here.
    const closed = sync.closeDevice(accountId, deviceId);
    request.log.info({ accountId, deviceId, closedSessions: closed }, 'device revoked');
    const device = await storage.getDevice(accountId, deviceId);
    return device ? deviceInfo(device) : notFound(reply);
  });
}
