import { z } from 'zod';
import { NewCapture } from '../capture/Capture.ts';

/**
 * The typed RPC between the UI and the core. One contract for both transports (a MessagePort in
 * Electron, a WebSocket in headless mode): the server validates every request's params with these
 * schemas before anything reaches the core, and the client types its calls from them.
 */
export const RPC_VERSION = 1;

/** Largest frame either side accepts; files travel as paths (Electron) or uploads, not in frames. */
export const MAX_RPC_FRAME_BYTES = 2 * 1024 * 1024;

const Id = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not an id');

export const RpcMethods = {
  /** Stores a text capture; resolves once it is on disk. */
  capture: { params: NewCapture, result: z.object({ id: Id }) },
  /** Newest first, a page at a time. */
  list: {
    params: z.object({ limit: z.number().int().min(1).max(500).default(50), before: z.object({ createdAt: z.number().int(), id: Id }).optional() }),
    result: z.object({ captures: z.array(z.object({ id: Id, title: z.string(), createdAt: z.number(), source: z.string(), text: z.string(), status: z.record(z.string(), z.unknown()) })) }),
  },
  get: { params: z.object({ id: Id }), result: z.unknown() },
  search: {
    params: z.object({ query: z.string().min(1).max(1000), limit: z.number().int().min(1).max(100).default(20), asYouType: z.boolean().default(false) }),
    result: z.unknown(),
  },
  /** One conversation turn; its events arrive as `turn` events carrying this call's id, then the call resolves. */
  ask: { params: z.object({ text: z.string().min(1).max(10_000), conversationId: Id.optional(), mode: z.enum(['ask', 'capture']).default('ask') }), result: z.object({ conversationId: z.string() }) },
  feedback: { params: z.object({ conversationId: Id, turnId: Id, rating: z.enum(['up', 'down']), correction: z.string().max(10_000).optional() }), result: z.object({ ok: z.literal(true) }) },
  concepts: { params: z.object({ limit: z.number().int().min(1).max(500).default(50) }), result: z.unknown() },
  neighbours: { params: z.object({ concept: z.string().min(1).max(200) }), result: z.unknown() },
  stats: { params: z.object({}).default({}), result: z.unknown() },
  jobs: { params: z.object({}).default({}), result: z.unknown() },
} as const;

export type RpcMethod = keyof typeof RpcMethods;
export type RpcParams<M extends RpcMethod> = z.input<(typeof RpcMethods)[M]['params']>;
export type RpcResult<M extends RpcMethod> = z.output<(typeof RpcMethods)[M]['result']>;

export const RpcRequest = z.strictObject({ v: z.literal(RPC_VERSION), id: z.number().int().nonnegative(), method: z.string().min(1).max(50), params: z.unknown() });
export type RpcRequest = z.infer<typeof RpcRequest>;

export const RpcError = z.object({ code: z.string().max(50), message: z.string().max(5000) });
export type RpcError = z.infer<typeof RpcError>;

export const RpcServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('result'), id: z.number().int(), result: z.unknown() }),
  z.object({ type: z.literal('error'), id: z.number().int().nullable(), error: RpcError }),
  /** Core events (progress, notices, jobs, sync status) and streamed turns (`id` of the ask call). */
  z.object({ type: z.literal('event'), event: z.string().max(50), id: z.number().int().optional(), data: z.unknown() }),
]);
export type RpcServerMessage = z.infer<typeof RpcServerMessage>;
