import { RpcMethods, RpcRequest, type RpcMethod, type RpcServerMessage } from '@lva/shared';
import type { z } from 'zod';
import { converse } from '../core/agents/conversation/turn.ts';
import type { BudgetGuard } from '../core/agents/cost/Budget.ts';
import type { ProviderSettings } from '../core/agents/ProviderSettings.ts';
import type { Core, CoreEvent } from '../core/Core.ts';
import { CoreError } from '../core/errors.ts';

export type Send = (msg: RpcServerMessage) => void;

export interface RpcServerOptions {
  /** Providers for `ask`; without an Anthropic key, `ask` fails with NOT_CONFIGURED. */
  settings: ProviderSettings;
  budget?: BudgetGuard;
}

type Params<M extends RpcMethod> = z.output<(typeof RpcMethods)[M]['params']>;
type Handler<M extends RpcMethod> = (params: Params<M>, stream: (data: unknown) => void) => Promise<unknown>;

/**
 * The core behind the RPC contract, for any transport: a transport hands over each decoded frame and
 * a way to answer its sender, and registers its connections to hear core events. Nothing reaches the
 * core before its params have passed the contract's schema.
 */
export class RpcServer {
  readonly #core: Core;
  readonly #options: RpcServerOptions;
  readonly #connections = new Set<Send>();
  readonly #off: () => void;
  readonly #handlers: { [M in RpcMethod]: Handler<M> };

  constructor(core: Core, options: RpcServerOptions) {
    this.#core = core;
    this.#options = options;
    this.#off = core.on((e) => this.#broadcast(e));
    this.#handlers = {
      capture: async (params) => ({ id: (await core.capture(params)).id }),
      list: (params) => {
        const captures = core.list({ limit: params.limit, ...(params.before ? { before: params.before } : {}) });
        return Promise.resolve({ captures: captures.map((c) => ({ id: c.id, title: c.title, createdAt: c.createdAt, source: c.source, text: c.text, status: c.status })) });
      },
      // JSON has no undefined: an unknown id answers null, which the client reads as "none".
      get: async (params) => (await core.get(params.id)) ?? null,
      search: (params) => core.search({ query: params.query, limit: params.limit, asYouType: params.asYouType }),
      ask: (params, stream) => this.#ask(params, stream),
      feedback: async (params) => {
        const conversations = await core.conversations();
        await conversations.feedback(params.conversationId, params.turnId, { rating: params.rating, ...(params.correction !== undefined ? { correction: params.correction } : {}) });
        return { ok: true };
      },
      concepts: (params) => core.graph.topConcepts({ limit: params.limit }),
      neighbours: (params) => core.graph.neighbours(params.concept),
      stats: () => Promise.resolve(core.stats()),
      jobs: () => Promise.resolve(core.jobs()),
    };
  }

  /** Registers a connection for core events; returns the function that unregisters it. */
  connect(send: Send): () => void {
    this.#connections.add(send);
    return () => this.#connections.delete(send);
  }

  /** Answers one decoded frame. Never rejects: every failure becomes an error message to `send`. */
  async handle(raw: unknown, send: Send): Promise<void> {
    // A call without params loses the key in JSON.stringify; the contract's envelope wants it present.
    const framed = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !('params' in raw) ? { ...raw, params: {} } : raw;
    const envelope = RpcRequest.safeParse(framed);
    if (!envelope.success) {
      send(errorMessage(idOf(raw), 'BAD_INPUT', `not an RPC request: ${describeIssues(envelope.error.issues)}`));
      return;
    }
    const { id, method } = envelope.data;
    if (!isMethod(method)) {
      send(errorMessage(id, 'BAD_INPUT', `unknown method "${method}"`));
      return;
    }
    // Params arrive absent for methods that take none; their schemas supply the default.
    const params = RpcMethods[method].params.safeParse(envelope.data.params ?? {});
    if (!params.success) {
      send(errorMessage(id, 'BAD_INPUT', `bad params for ${method}: ${describeIssues(params.error.issues)}`));
      return;
    }
    try {
      const handler = this.#handlers[method] as Handler<RpcMethod>;
      const result = await handler(params.data, (data) => send({ type: 'event', event: 'turn', id, data }));
      send({ type: 'result', id, result });
    } catch (err) {
      if (err instanceof CoreError) {
        send(errorMessage(id, err.code, err.message));
        return;
      }
      // Internals (paths, SQL, stacks) stay on this machine's stderr; the client learns only that it failed.
      process.stderr.write(`lva: rpc ${method} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      send(errorMessage(id, 'INTERNAL', `${method} failed unexpectedly; see the server's log`));
    }
  }

  /** Stops forwarding core events; the core itself is the caller's to close. */
  close(): void {
    this.#off();
    this.#connections.clear();
  }

  async #ask(params: Params<'ask'>, stream: (data: unknown) => void): Promise<{ conversationId: string }> {
    let conversationId = params.conversationId ?? '';
    const input = { mode: params.mode, text: params.text, ...(params.conversationId ? { conversationId: params.conversationId } : {}) };
    const options = this.#options.budget ? { budget: this.#options.budget } : {};
    for await (const event of converse(this.#core, this.#options.settings, input, options)) {
      if (event.type === 'conversation') conversationId = event.conversationId;
      stream(event);
    }
    return { conversationId };
  }

  #broadcast(e: CoreEvent): void {
    const msg: RpcServerMessage = { type: 'event', event: e.type, data: e };
    for (const send of this.#connections) {
      try {
        send(msg);
      } catch (err) {
        // One broken connection must not keep the event from the others, nor reach the core's emitter.
        process.stderr.write(`lva: could not forward a core event: ${(err as Error).message}\n`);
      }
    }
  }
}

function isMethod(name: string): name is RpcMethod {
  return Object.hasOwn(RpcMethods, name);
}

/** The id of a request too broken to parse, if it has a usable one, so the client can settle that call. */
function idOf(raw: unknown): number | null {
  if (typeof raw !== 'object' || raw === null || !('id' in raw)) return null;
  const id = raw.id;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 ? id : null;
}

function errorMessage(id: number | null, code: string, message: string): RpcServerMessage {
  return { type: 'error', id, error: { code, message: message.slice(0, 5000) } };
}

/** Field by field, so a caller sees which one to fix: `limit: Too big: expected number to be <=500`. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(whole value)'}: ${i.message}`)
    .join('; ');
}
