import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { TokenBucket } from '../sync/TokenBucket.ts';
import { sendError } from './api.ts';

const DEFAULT_MAX_CLIENTS = 10_000;

/**
 * A token bucket per client address. Bounded: addresses idle long enough to have refilled their
 * bucket are forgotten (they would start full anyway), and past the bound the least recently seen
 * address is, so a scan from many addresses costs memory only up to the bound.
 */
export class RateLimiter {
  readonly #ratePerSecond: number;
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #maxClients: number;
  // Re-inserted on every use, so the first entry is the least recently seen.
  readonly #clients = new Map<string, { readonly bucket: TokenBucket; lastSeen: number }>();

  constructor(ratePerSecond: number, burst: number, maxClients = DEFAULT_MAX_CLIENTS) {
    this.#ratePerSecond = ratePerSecond;
    this.#burst = burst;
    this.#refillMs = (burst / ratePerSecond) * 1000;
    this.#maxClients = maxClients;
  }

  /** Takes one attempt for the client: 0 if allowed, else the ms until it will be. */
  take(client: string, now: number): number {
    let entry = this.#clients.get(client);
    if (entry) this.#clients.delete(client);
    else {
      this.#forgetIdle(now);
      entry = { bucket: new TokenBucket(this.#ratePerSecond, this.#burst, now), lastSeen: now };
    }
    entry.lastSeen = now;
    this.#clients.set(client, entry);
    return entry.bucket.take(now);
  }

  #forgetIdle(now: number): void {
    for (const [client, entry] of this.#clients) {
      if (this.#clients.size < this.#maxClients && now - entry.lastSeen < this.#refillMs) break;
      this.#clients.delete(client);
    }
  }

  get clients(): number {
    return this.#clients.size;
  }
}

/** An onRequest hook answering 429 with retry-after once the client's address is over its rate. */
export function rateLimitHook(limiter: RateLimiter, what: string, now: () => number = Date.now): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const waitMs = limiter.take(request.ip, now());
    if (waitMs === 0) return undefined;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    void reply.header('retry-after', String(seconds));
    return sendError(reply, 429, 'rate-limited', `too many ${what} from this address; try again in ${seconds} s`);
  };
}
