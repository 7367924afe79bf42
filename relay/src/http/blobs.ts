import { MAX_ID_LENGTH } from '@lva/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RelayConfig } from '../config.ts';
import { QuotaExceededError } from '../storage/errors.ts';
import type { RelayStorage } from '../storage/RelayStorage.ts';
import { rawBody, sendError, useApiPlumbing } from './api.ts';
import { authenticatedDevice } from './deviceAuth.ts';
import type { DeviceAuthHooks } from './deviceAuth.ts';

export interface BlobRoutesOptions {
  readonly storage: RelayStorage;
  readonly config: RelayConfig;
  readonly auth: DeviceAuthHooks;
}

const OCTET_STREAM = 'application/octet-stream';
const BLOB_ID = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_ID_LENGTH}}$`);

function blobIdParam(params: unknown): string | undefined {
  const { blobId } = params as { blobId: string };
  return BLOB_ID.test(blobId) ? blobId : undefined;
}

function badBlobId(reply: FastifyReply): FastifyReply {
  return sendError(reply, 400, 'invalid-blob-id', `a blob id is 1-${MAX_ID_LENGTH} base64url characters`);
}

// The same answer for another account's blob as for none: storage matches on the account.
function notFound(reply: FastifyReply): FastifyReply {
  return sendError(reply, 404, 'blob-not-found', 'this account has no blob with that id');
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Encrypted blobs (attachments, audio) by content-derived id: PUT stores, GET reads, HEAD asks
 * whether the account has one. Raw bytes both ways, since base64 in JSON would add a third.
 */
// eslint-disable-next-line @typescript-eslint/require-await
export async function blobRoutes(app: FastifyInstance, { storage, config, auth }: BlobRoutesOptions): Promise<void> {
  const maxBytes = config.limits.maxBlobBytes;
  useApiPlumbing(app, {
    what: 'blob request',
    contentTypes: [OCTET_STREAM],
    tooLarge: () => `blob is over this relay's limit of ${maxBytes} bytes (${mib(maxBytes)})`,
  });

  app.put('/v1/blobs/:blobId', { ...auth, bodyLimit: maxBytes }, async (request, reply) => {
    const { accountId } = authenticatedDevice(request);
    const blobId = blobIdParam(request.params);
    if (blobId === undefined) return badBlobId(reply);
    const bytes = rawBody(request);
    // A sealed blob always has at least its nonce and tag, so an empty one is a client bug.
    if (bytes.length === 0) return sendError(reply, 400, 'invalid-body', `the blob is empty; send its sealed bytes as ${OCTET_STREAM}`);
    // Racing puts of one id both answer 201 at worst; ids name their content, so either copy is right.
    const existed = await storage.hasBlob(accountId, blobId);
    try {
      await storage.putBlob(accountId, blobId, bytes);
    } catch (error) {
      if (error instanceof QuotaExceededError) {
        return sendError(
          reply,
          507,
          'quota-exceeded',
          `the account's storage on this relay is full: this blob would bring it to ${mib(error.wouldUseBytes)} of ${mib(error.quotaBytes)}`,
        );
      }
      throw error;
    }
    return reply.code(existed ? 200 : 201).send({ blobId, bytes: bytes.length });
  });

  // Declared before GET, whose automatic HEAD route would read the whole blob to send nothing.
  app.head('/v1/blobs/:blobId', { ...auth }, async (request, reply) => {
    const { accountId } = authenticatedDevice(request);
    const blobId = blobIdParam(request.params);
    if (blobId === undefined) return reply.code(400).send();
    return reply.code((await storage.hasBlob(accountId, blobId)) ? 200 : 404).send();
  });

  app.get('/v1/blobs/:blobId', { ...auth, exposeHeadRoute: false }, async (request, reply) => {
    const { accountId } = authenticatedDevice(request);
    const blobId = blobIdParam(request.params);
    if (blobId === undefined) return badBlobId(reply);
    const bytes = await storage.getBlob(accountId, blobId);
    if (!bytes) return notFound(reply);
    return reply.type(OCTET_STREAM).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
