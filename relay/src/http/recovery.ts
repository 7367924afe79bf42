import { AccountId, fromBase64Url, RecoverBody, recoveryMessage, verifySignature } from '@lva/shared';
import type { RecoverResponse } from '@lva/shared';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { RelayConfig } from '../config.ts';
import { RelayStorageError } from '../storage/errors.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';
import { deviceInfo, jsonBodyLimit, newDeviceProblem, parseJsonBody, sendError, signedHost, useApiPlumbing } from './api.ts';
import { clockSkewMessage, isWithinSkew } from './deviceAuth.ts';
import { RateLimiter, rateLimitHook } from './rateLimit.ts';

export interface RecoveryRoutesOptions {
  readonly storage: RelayStorage;
  readonly config: RelayConfig;
  /** Recovery attempts per client address. */
  readonly recoverLimiter?: RateLimiter;
}

// One answer for an unknown account, one without a recovery key and a forged signature.
const REFUSED = 'recovery refused: unknown account or a signature that is not from its recovery key';

function decodeSignature(text: string): Uint8Array | undefined {
  try {
    return fromBase64Url(text);
  } catch {
    return undefined;
  }
}

/**
 * POST /v1/accounts/:accountId/recover: enrols a device when every paired one is lost, on the
 * strength of a signature by the recovery key, which only the recovery phrase can produce. The
 * signature names the relay, account, device, its key and the time, so it enrols nothing else.
 */
// eslint-disable-next-line @typescript-eslint/require-await
export async function recoveryRoutes(
  app: FastifyInstance,
  { storage, config, recoverLimiter = new RateLimiter(10 / 60, 10) }: RecoveryRoutesOptions,
): Promise<void> {
  useApiPlumbing(app, { what: 'recovery', contentTypes: ['application/json'] });

  app.post(
    '/v1/accounts/:accountId/recover',
    { onRequest: rateLimitHook(recoverLimiter, 'recovery attempts'), bodyLimit: jsonBodyLimit(config) },
    async (request, reply) => {
      const { accountId } = request.params as { accountId: string };
      const parsed = parseJsonBody(request, RecoverBody);
      if (!parsed.ok) return sendError(reply, 400, parsed.code, parsed.message);
      const { device, time, signature } = parsed.data;
      const problem = newDeviceProblem(device);
      if (problem) return sendError(reply, 400, 'invalid-body', problem);
      const now = Date.now();
      if (!isWithinSkew(time, now)) return sendError(reply, 401, 'unauthenticated', clockSkewMessage(time, now));

      const account = AccountId.safeParse(accountId).success ? await storage.getAccount(accountId) : undefined;
      const signatureBytes = decodeSignature(signature);
      const devicePublicKey = fromBase64Url(device.publicKey);
      const message = recoveryMessage(signedHost(config, request), accountId, device.id, devicePublicKey, time);
      if (!account?.recoveryPublicKey || !signatureBytes || !verifySignature(account.recoveryPublicKey, message, signatureBytes)) {
        return sendError(reply, 401, 'unauthenticated', REFUSED);
      }
      try {
        const stored = await storage.addDevice(accountId, { id: device.id, name: device.name, publicKey: devicePublicKey, createdAt: now });
        request.log.info({ accountId, deviceId: stored.id }, 'device enrolled by recovery');
        const body: z.input<typeof RecoverResponse> = { accountId, device: deviceInfo(stored) };
        return await reply.code(201).send(body);
      } catch (error) {
        // Also what a replayed recovery request meets: its signature names this same device.
        if (error instanceof RelayStorageError && error.code === 'device-exists') {
          return sendError(reply, 409, 'device-exists', 'the account already has a device with this id; start recovery again');
        }
        throw error;
      }
    },
  );
}
