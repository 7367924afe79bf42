import { fromBase64Url } from '@lva/shared';
import type { DeviceInfo, NewDeviceBody } from '@lva/shared';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { RelayConfig } from '../config.ts';
import type { Device } from '../storage/RelayStorage.ts';

/**
 * Plumbing shared by the relay's HTTP API routes: the `{ error: { code, message } }` shape, raw
 * bodies (a signed request's hash covers the exact bytes sent, which a parsed-and-reserialised
 * body would not reproduce) and the host that signatures are bound to.
 */

/** JSON bodies of the API are a few kilobytes at most (an invite is the largest); the relay-wide limit is for snapshots. */
const API_JSON_BODY_LIMIT = 64 * 1024;

const ED25519_PUBLIC_KEY_BYTES = 32;

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

export function jsonBodyLimit(config: RelayConfig): number {
  return Math.min(API_JSON_BODY_LIMIT, config.limits.bodyLimitBytes);
}

/**
 * For an encapsulated plugin: Fastify's own refusals (bad content type, body too large) answer in
 * the API's error shape, and request bodies arrive as the raw Buffer for the route to verify and
 * parse. Other content types, text/plain included, are refused with 415.
 */
export function useApiPlumbing(
  app: FastifyInstance,
  options: { readonly what: string; readonly contentTypes: readonly string[]; readonly tooLarge?: (limit: number) => string },
): void {
  app.removeAllContentTypeParsers();
  for (const type of options.contentTypes) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  }
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 413) {
      const limit = request.routeOptions.bodyLimit;
      return sendError(reply, 413, 'too-large', options.tooLarge?.(limit) ?? `request body is over this route's limit of ${limit} bytes`);
    }
    if (status === 415) {
      return sendError(reply, 415, 'unsupported-media-type', `expected a body of type ${options.contentTypes.join(' or ')}`);
    }
    if (status >= 400 && status < 500) return sendError(reply, status, 'bad-request', error.message);
    request.log.error({ err: error }, `${options.what} failed`);
    return sendError(reply, 500, 'internal', 'internal error');
  });
}

/** The body as received: the parser keeps Buffers, and a request without a body has none. */
export function rawBody(request: FastifyRequest): Uint8Array {
  return Buffer.isBuffer(request.body) ? request.body : new Uint8Array(0);
}

export type ParsedBody<T> =
  | { readonly ok: true; readonly data: T }
  | { readonly ok: false; readonly code: 'bad-request' | 'invalid-body'; readonly message: string };

/**
 * Parses the raw JSON body against a shared schema. Not JSON at all is `bad-request`, as Fastify's
 * own parser called it; JSON of the wrong shape is `invalid-body`, naming the first offending field.
 */
export function parseJsonBody<T extends z.ZodType>(request: FastifyRequest, schema: T): ParsedBody<z.output<T>> {
  const bytes = rawBody(request);
  if (bytes.length === 0) return { ok: false, code: 'bad-request', message: 'the request has no body; expected JSON' };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return { ok: false, code: 'bad-request', message: 'the body is not valid JSON' };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, data: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  return { ok: false, code: 'invalid-body', message: `${where}${issue?.message ?? 'invalid body'}` };
}

// The shared schema leaves room for other curves; storage takes Ed25519 only, so refuse others
// before anything is written (or an invite is used up).
export function isEd25519Key(key: string): boolean {
  try {
    return fromBase64Url(key).length === ED25519_PUBLIC_KEY_BYTES;
  } catch {
    return false;
  }
}

/** The 400 message for a new device whose key storage would refuse, or undefined if it is fine. */
export function newDeviceProblem(device: NewDeviceBody): string | undefined {
  return isEd25519Key(device.publicKey) ? undefined : 'device.publicKey: publicKey must be a 32-byte Ed25519 key';
}

export function deviceInfo(device: Device): z.input<typeof DeviceInfo> {
  return {
    id: device.id,
    name: device.name,
    createdAt: device.createdAt,
    ...(device.revokedAt === undefined ? {} : { revokedAt: device.revokedAt }),
  };
}

/**
 * The host signatures must name: the configured public origin's (behind TLS termination the Host
 * header is the proxy's business), else the Host header, which suits local use.
 */
export function signedHost(config: RelayConfig, request: FastifyRequest): string {
  if (config.publicOrigin) return new URL(config.publicOrigin).host;
  return request.headers.host ?? '';
}
