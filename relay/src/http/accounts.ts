import { AccountId, DeviceId, fromBase64Url, PublicKey } from '@lva/shared';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { RelayConfig } from '../config.ts';
import { RelayStorageError } from '../storage/errors.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';

export interface AccountRoutesOptions {
  readonly storage: RelayStorage;
  readonly config: RelayConfig;
}

const ED25519_PUBLIC_KEY_BYTES = 32;
const MAX_DEVICE_NAME_LENGTH = 100;

// zod runs refinements even after the pattern check failed, so this must not throw on bad input.
function isEd25519Key(key: string): boolean {
  try {
    return fromBase64Url(key).length === ED25519_PUBLIC_KEY_BYTES;
  } catch {
    return false;
  }
}

const RegisterAccountBody = z.strictObject({
  accountId: AccountId,
  device: z.strictObject({
    id: DeviceId,
    name: z.string().trim().min(1).max(MAX_DEVICE_NAME_LENGTH),
    // The shared schema leaves room for other curves; storage takes Ed25519 only, so refuse others
    // here rather than after the account row exists.
    publicKey: PublicKey.refine(isEd25519Key, 'publicKey must be a 32-byte Ed25519 key'),
  }),
});

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

/**
 * POST /v1/accounts: a new account with its first device. Open to anyone, like signing up; the
 * device proves it holds the key only when it authenticates on the sync socket.
 */
// async because Fastify waits on a plugin's promise; a sync plugin would have to call done().
// eslint-disable-next-line @typescript-eslint/require-await
export async function accountRoutes(app: FastifyInstance, { storage, config }: AccountRoutesOptions): Promise<void> {
  // Encapsulated by register(), so only these routes answer in the { error } shape; Fastify's own
  // errors (bad JSON, body too large) would otherwise come back in its format.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply, status, 'bad-request', error.message);
    request.log.error({ err: error }, 'account registration failed');
    return sendError(reply, 500, 'internal', 'internal error');
  });

  app.post('/v1/accounts', async (request, reply) => {
    const parsed = RegisterAccountBody.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : '';
      return sendError(reply, 400, 'invalid-body', `${where}${issue?.message ?? 'invalid body'}`);
    }
    const { accountId, device } = parsed.data;
    const now = Date.now();
    try {
      const account = await storage.createAccount({ id: accountId, createdAt: now, quotaBytes: config.limits.accountQuotaBytes });
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
