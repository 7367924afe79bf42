import { AccountId, AUTH_HEADERS, DeviceId, REQUEST_MAX_SKEW_MS, verifyRequest } from '@lva/shared';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import type { RelayConfig } from '../config.ts';
import type { Device, RelayStorage } from '../storage/RelayStorage.ts';
import { rawBody, sendError, signedHost } from './api.ts';

/** The device a request was signed by, once deviceAuth's hooks have passed it. */
export interface AuthenticatedDevice {
  readonly accountId: string;
  readonly deviceId: string;
}

// One answer for unknown, revoked and forged alike, so the relay cannot be asked which ids exist.
export const REFUSED_MESSAGE = 'request refused: unknown or revoked device, or a bad signature';
const MISSING_MESSAGE = `this route needs a device-signed request (${Object.values(AUTH_HEADERS).join(', ')} headers)`;
const REPLAYED_MESSAGE = 'this signed request was already used; sign each request anew';

const TIME_PATTERN = /^\d{1,16}$/;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Enough for ~300 signed requests a second over the ten minutes a nonce is kept. */
const DEFAULT_MAX_NONCES = 200_000;

/**
 * Nonces of accepted requests, remembered for as long as their signed time could still pass the
 * skew check, so a captured request cannot be sent again.
 */
export class NonceCache {
  readonly #keepMs: number;
  readonly #maxEntries: number;
  // Map order is insertion order and every entry is kept equally long, so the oldest is first.
  readonly #entries = new Map<string, { readonly forgetAt: number; readonly time: number }>();
  // Signed times at or before this may belong to nonces evicted early; such requests are refused.
  #horizon = Number.NEGATIVE_INFINITY;

  constructor(skewMs: number, maxEntries = DEFAULT_MAX_NONCES) {
    // A signed time is accepted up to skew after `now`, and stays acceptable for skew after that.
    this.#keepMs = 2 * skewMs;
    this.#maxEntries = maxEntries;
  }

  /** Remembers the nonce and returns true, or false if it was seen already (or may have been). */
  remember(key: string, signedTime: number, now: number): boolean {
    for (const [oldest, entry] of this.#entries) {
      if (entry.forgetAt > now) break;
      this.#entries.delete(oldest);
    }
    if (this.#entries.has(key) || signedTime <= this.#horizon) return false;
    // Bounded memory; evicting early would reopen replay, so the horizon closes it again at the
    // cost of refusing honest requests signed at or before the evicted ones.
    while (this.#entries.size >= this.#maxEntries) {
      const [oldest, entry] = this.#entries.entries().next().value!;
      this.#entries.delete(oldest);
      this.#horizon = Math.max(this.#horizon, entry.time);
    }
    this.#entries.set(key, { forgetAt: now + this.#keepMs, time: signedTime });
    return true;
  }

  get size(): number {
    return this.#entries.size;
  }
}

export interface DeviceAuthOptions {
  readonly storage: RelayStorage;
  readonly config: RelayConfig;
  readonly nonces?: NonceCache;
  readonly now?: () => number;
}

export interface DeviceAuthHooks {
  /**
   * Header, clock and device checks before the body is read, so an unknown caller cannot make the
   * relay buffer a large upload; the signature, which covers the body, is checked in preHandler.
   */
  readonly onRequest: onRequestAsyncHookHandler;
  readonly preHandler: preHandlerAsyncHookHandler;
}

interface SignedHeaders {
  readonly accountId: string;
  readonly deviceId: string;
  readonly time: number;
  readonly nonce: string;
  readonly signature: string;
}

const authenticated = new WeakMap<FastifyRequest, AuthenticatedDevice>();

/** The signing device of a request on a route that uses deviceAuth's hooks. */
export function authenticatedDevice(request: FastifyRequest): AuthenticatedDevice {
  const device = authenticated.get(request);
  if (!device) throw new Error(`${request.method} ${request.routeOptions.url ?? ''} is not behind deviceAuth`);
  return device;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function readHeaders(request: FastifyRequest): SignedHeaders | undefined {
  const accountId = header(request, AUTH_HEADERS.account);
  const deviceId = header(request, AUTH_HEADERS.device);
  const time = header(request, AUTH_HEADERS.time);
  const nonce = header(request, AUTH_HEADERS.nonce);
  const signature = header(request, AUTH_HEADERS.signature);
  if (accountId === undefined || deviceId === undefined || time === undefined || nonce === undefined || signature === undefined) {
    return undefined;
  }
  if (!TIME_PATTERN.test(time) || !NONCE_PATTERN.test(nonce) || !SIGNATURE_PATTERN.test(signature)) return undefined;
  return { accountId, deviceId, time: Number(time), nonce, signature };
}

/** The 401 for a signed time too far from the relay's clock; a person can fix this one, so it says how. */
export function clockSkewMessage(time: number, now: number): string {
  const offSeconds = Math.round((time - now) / 1000);
  const direction = offSeconds > 0 ? 'ahead of' : 'behind';
  return (
    `the request's time is ${Math.abs(offSeconds)} s ${direction} the relay's clock (at most ${REQUEST_MAX_SKEW_MS / 1000} s allowed); ` +
    `check this device's date, time and time zone settings`
  );
}

export function isWithinSkew(time: number, now: number): boolean {
  return Math.abs(time - now) <= REQUEST_MAX_SKEW_MS;
}

function refuse(reply: FastifyReply, message: string): FastifyReply {
  return sendError(reply, 401, 'unauthenticated', message);
}

/** Fastify hooks that admit only requests signed by a current device (crypto/requestSigning.ts). */
export function deviceAuth({ storage, config, nonces = new NonceCache(REQUEST_MAX_SKEW_MS), now = Date.now }: DeviceAuthOptions): DeviceAuthHooks {
  // Ids that are not ids never reach storage, and are answered like unknown ones.
  async function currentDevice(accountId: string, deviceId: string): Promise<Device | undefined> {
    if (!AccountId.safeParse(accountId).success || !DeviceId.safeParse(deviceId).success) return undefined;
    const device = await storage.getDevice(accountId, deviceId);
    return device && device.revokedAt === undefined ? device : undefined;
  }

  async function onRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const arrivedAt = now();
    const signed = readHeaders(request);
    if (!signed) return refuse(reply, MISSING_MESSAGE);
    // Before the device lookup, so that this distinct answer reveals nothing about ids.
    if (!isWithinSkew(signed.time, arrivedAt)) return refuse(reply, clockSkewMessage(signed.time, arrivedAt));
    if (!(await currentDevice(signed.accountId, signed.deviceId))) return refuse(reply, REFUSED_MESSAGE);
    return undefined;
  }

  async function preHandler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const signed = readHeaders(request);
    if (!signed) return refuse(reply, MISSING_MESSAGE);
    // Looked up again: the device may have been revoked while a large body was arriving.
    const device = await currentDevice(signed.accountId, signed.deviceId);
    const parts = {
      host: signedHost(config, request),
      method: request.method,
      path: request.url,
      accountId: signed.accountId,
      deviceId: signed.deviceId,
      time: signed.time,
      nonce: signed.nonce,
      body: rawBody(request),
    };
    if (!device || !verifyRequest(device.publicKey, parts, signed.signature)) return refuse(reply, REFUSED_MESSAGE);
    // Remembered only once the signature holds, so that strangers cannot fill the cache.
    const key = `${signed.accountId}\u0000${signed.deviceId}\u0000${signed.nonce}`;
    if (!nonces.remember(key, signed.time, now())) return refuse(reply, REPLAYED_MESSAGE);
    authenticated.set(request, { accountId: signed.accountId, deviceId: signed.deviceId });
    return undefined;
  }

  return { onRequest, preHandler };
}
