import { CreateInviteBody, fromBase64Url, RedeemInviteBody, redeemProofHash, toBase64Url } from '@lva/shared';
import type { CreateInviteResponse, RedeemInviteResponse } from '@lva/shared';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { RelayConfig } from '../config.ts';
import { RelayStorageError } from '../storage/errors.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';
import { deviceInfo, jsonBodyLimit, newDeviceProblem, parseJsonBody, sendError, useApiPlumbing } from './api.ts';
import { authenticatedDevice } from './deviceAuth.ts';
import type { DeviceAuthHooks } from './deviceAuth.ts';
import { RateLimiter, rateLimitHook } from './rateLimit.ts';

export interface InviteRoutesOptions {
  readonly storage: RelayStorage;
  readonly config: RelayConfig;
  readonly auth: DeviceAuthHooks;
  /** Redeem attempts per client address; invite ids are unguessable, this keeps hammering cheap. */
  readonly redeemLimiter?: RateLimiter;
}

const INVITE_NOT_FOUND = 'this invite code is unknown, already used or expired; create a new one on a paired device';
// Matches the shared InviteId: anything else cannot have been stored, so it is simply not found.
const INVITE_ID = /^[A-Za-z0-9_-]{16,64}$/;

function decodes(text: string): boolean {
  try {
    fromBase64Url(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Pairing: a paired device leaves the account key, wrapped under the invite's secret, at
 * POST /v1/invites; the joining device, which has no key the relay knows yet, takes it once at
 * POST /v1/invites/:inviteId/redeem and is registered with the account in the same step.
 */
// eslint-disable-next-line @typescript-eslint/require-await
export async function inviteRoutes(
  app: FastifyInstance,
  { storage, config, auth, redeemLimiter = new RateLimiter(10 / 60, 10) }: InviteRoutesOptions,
): Promise<void> {
  useApiPlumbing(app, { what: 'invite request', contentTypes: ['application/json'] });
  const bodyLimit = jsonBodyLimit(config);

  app.post('/v1/invites', { ...auth, bodyLimit }, async (request, reply) => {
    const { accountId } = authenticatedDevice(request);
    const parsed = parseJsonBody(request, CreateInviteBody);
    if (!parsed.ok) return sendError(reply, 400, parsed.code, parsed.message);
    const { inviteId, wrapped, ttlSeconds, proofHash } = parsed.data;
    if (!decodes(inviteId)) return sendError(reply, 400, 'invalid-body', 'inviteId: not valid base64url');
    if (!decodes(wrapped)) return sendError(reply, 400, 'invalid-body', 'wrapped: not valid base64url');
    if (!decodes(proofHash)) return sendError(reply, 400, 'invalid-body', 'proofHash: not valid base64url');
    const expiresAt = Date.now() + ttlSeconds * 1000;
    try {
      await storage.putInvite(inviteId, accountId, fromBase64Url(wrapped), expiresAt, fromBase64Url(proofHash));
    } catch (error) {
      // putInvite's only argument it can refuse here is an invite id already in use.
      if (error instanceof RelayStorageError && error.code === 'invalid-argument') {
        return sendError(reply, 409, 'invite-exists', 'an invite with this id is already waiting; create a new invite');
      }
      throw error;
    }
    const body: z.input<typeof CreateInviteResponse> = { inviteId, expiresAt };
    return reply.code(201).send(body);
  });

  app.post(
    '/v1/invites/:inviteId/redeem',
    { onRequest: rateLimitHook(redeemLimiter, 'invite attempts'), bodyLimit },
    async (request, reply) => {
      const { inviteId } = request.params as { inviteId: string };
      // Checked before the invite is taken, so a malformed request does not use it up.
      const parsed = parseJsonBody(request, RedeemInviteBody);
      if (!parsed.ok) return sendError(reply, 400, parsed.code, parsed.message);
      const { device, proof } = parsed.data;
      const problem = newDeviceProblem(device);
      if (problem) return sendError(reply, 400, 'invalid-body', problem);
      if (!decodes(proof)) return sendError(reply, 400, 'invalid-body', 'proof: not valid base64url');
      const now = Date.now();
      // A wrong proof gets the same answer as an unknown invite, so ids cannot be probed.
      const invite = INVITE_ID.test(inviteId) ? await storage.takeInvite(inviteId, now, redeemProofHash(fromBase64Url(proof))) : undefined;
      if (!invite) return sendError(reply, 404, 'invite-not-found', INVITE_NOT_FOUND);
      try {
        const stored = await storage.addDevice(invite.accountId, {
          id: device.id,
          name: device.name,
          publicKey: fromBase64Url(device.publicKey),
          createdAt: now,
        });
        const body: z.input<typeof RedeemInviteResponse> = {
          accountId: invite.accountId,
          wrapped: toBase64Url(invite.wrapped),
          device: deviceInfo(stored),
        };
        return await reply.code(201).send(body);
      } catch (error) {
        if (error instanceof RelayStorageError && error.code === 'device-exists') {
          return sendError(reply, 409, 'device-exists', 'the account already has a device with this id; create a new invite and join again');
        }
        throw error;
      }
    },
  );
}
