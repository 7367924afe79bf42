import { fromBase64Url, RegisterAccountBody } from '@lva/shared';
import type { FastifyInstance } from 'fastify';
import type { RelayConfig } from '../config.ts';
import { RelayStorageError } from '../storage/errors.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';
import { isEd25519Key, jsonBodyLimit, newDeviceProblem, parseJsonBody, sendError, useApiPlumbing } from './api.ts';
import { RateLimiter, rateLimitHook } from './rateLimit.ts';

export interface AccountRoutesOptions {
  readonly storage: RelayStorage;
  readonly config: RelayConfig;
}

/**
 * POST /v1/accounts: a new account with its first device and its recovery key. Open to anyone,
 * like signing up, but limited per client address; the device proves it holds its key on every
 * signed request and sync session.
 */
// async because Fastify waits on a plugin's promise; a sync plugin would have to call done().
// eslint-disable-next-line @typescript-eslint/require-await
export async function accountRoutes(app: FastifyInstance, { storage, config }: AccountRoutesOptions): Promise<void> {
  useApiPlumbing(app, { what: 'account registration', contentTypes: ['application/json'] });
  const perHour = config.limits.signupsPerHour;
  const limiter = new RateLimiter(perHour / 3600, perHour);

  app.post('/v1/accounts', { bodyLimit: jsonBodyLimit(config), onRequest: rateLimitHook(limiter, 'new accounts') }, async (request, reply) => {
    const parsed = parseJsonBody(request, RegisterAccountBody);
    if (!parsed.ok) return sendError(reply, 400, parsed.code, parsed.message);
    const { accountId, device, recoveryPublicKey, inboxPublicKey } = parsed.data;
    const problem = newDeviceProblem(device);
    if (problem) return sendError(reply, 400, 'invalid-body', problem);
    // Recovery verifies Ed25519 signatures with it, so any other key would lock recovery out for good.
    if (!isEd25519Key(recoveryPublicKey)) {
      return sendError(reply, 400, 'invalid-body', 'recoveryPublicKey: recoveryPublicKey must be a 32-byte Ed25519 key');
    }
    if (!isEd25519Key(inboxPublicKey)) return sendError(reply, 400, 'invalid-body', 'inboxPublicKey: inboxPublicKey must be a 32-byte X25519 key');
    const now = Date.now();
    try {
      const account = await storage.createAccount({
        id: accountId,
        createdAt: now,
        quotaBytes: config.limits.accountQuotaBytes,
        recoveryPublicKey: fromBase64Url(recoveryPublicKey),
        inboxPublicKey: fromBase64Url(inboxPublicKey),
      });
      const stored = await storage.addDevice(accountId, {
        id: device.id,
        name: device.name,
        publicKey: fromBase64Url(device.publicKey),
        createdAt: now,
      });
      return reply.code(201).send({
        account: { id: account.id, quotaBytes: account.quotaBytes, createdAt: account.createdAt },
        device: { id: stored.id, name: stored.name, createdAt: stored.createdAt },
      });
    } catch (error) {
      if (error instanceof RelayStorageError && error.code === 'account-exists') {
        return sendError(reply, 409, 'account-exists', `account ${accountId} already exists`);
      }
      if (error instanceof RelayStorageError && (error.code === 'invalid-id' || error.code === 'invalid-argument')) {
        return sendError(reply, 400, 'invalid-body', error.message);
      }
      throw error;
    }
  });
}
