import { signRequest } from '@lva/shared';
import type { RequestSigner } from '@lva/shared';
import type { z } from 'zod';
import { CoreError } from '../errors.ts';

const REQUEST_TIMEOUT_MS = 30_000;
/** Blobs can be up to 200 MiB; on a slow uplink that takes minutes, not seconds. */
const BLOB_TIMEOUT_MS = 10 * 60_000;

export interface RelayCall {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'HEAD';
  path: string;
  /** JSON-encoded unless it is bytes. */
  body?: unknown;
  /** Signs the request as this device; omitted for the few routes a device without keys may call. */
  signer?: RequestSigner;
  timeoutMs?: number;
}

export interface RelayReply {
  status: number;
  bytes: Uint8Array;
  headers: Headers;
}

/** The relay's error body, `{ error: { code, message } }`, if that is what came back. */
function relayMessage(bytes: Uint8Array): { code: string; message: string } | undefined {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = parsed.error ?? {};
    if (typeof code === 'string' && typeof message === 'string') return { code, message };
  } catch {
    // Not JSON: a proxy's HTML page, say. The status alone is reported.
  }
  return undefined;
}

/** Thrown for a 4xx/5xx from the relay; `relayCode` is the relay's own code, such as invite-not-found. */
export class RelayHttpError extends CoreError {
  readonly status: number;
  readonly relayCode: string | undefined;
  constructor(status: number, relayCode: string | undefined, message: string) {
    super('SYNC_FAILED', message);
    this.status = status;
    this.relayCode = relayCode;
  }
}

/**
 * HTTP calls to the relay beside the sync socket: pairing, devices, recovery and blobs. Signed
 * requests carry the device's Ed25519 signature over host, method, path and body hash, so the
 * relay can authenticate them without a session.
 */
export class RelayApi {
  readonly #base: URL;

  constructor(relayUrl: string) {
    this.#base = new URL(relayUrl);
  }

  get relayUrl(): string {
    return this.#base.toString();
  }

  async call(call: RelayCall): Promise<RelayReply> {
    const url = new URL(call.path, this.#base);
    const body =
      call.body === undefined ? undefined : call.body instanceof Uint8Array ? call.body : new TextEncoder().encode(JSON.stringify(call.body));
    const headers: Record<string, string> = {};
    if (body) headers['content-type'] = call.body instanceof Uint8Array ? 'application/octet-stream' : 'application/json';
    if (call.signer) Object.assign(headers, signRequest(call.signer, { host: url.host, method: call.method, path: url.pathname + url.search, ...(body ? { body } : {}) }));
    let res: Response;
    try {
      res = await fetch(url, {
        method: call.method,
        headers,
        ...(body ? { body } : {}),
        signal: AbortSignal.timeout(call.timeoutMs ?? REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      const why = (err as Error).name === 'TimeoutError' ? 'timed out' : (cause?.code ?? cause?.message ?? (err as Error).message);
      throw new CoreError('SYNC_FAILED', `could not reach the relay at ${this.#base.origin} (${why})`, { cause: err });
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.status >= 400) {
      const detail = relayMessage(bytes);
      throw new RelayHttpError(res.status, detail?.code, `the relay refused ${call.method} ${url.pathname} (${res.status}): ${detail?.message ?? res.statusText}`);
    }
    return { status: res.status, bytes, headers: res.headers };
  }

  /** A JSON call whose answer is checked against the shared schema before anything trusts it. */
  async json<T extends z.ZodType>(schema: T, call: RelayCall): Promise<z.infer<T>> {
    const reply = await this.call(call);
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(reply.bytes));
    } catch (err) {
      throw new CoreError('SYNC_FAILED', `the relay sent something that is not JSON for ${call.path}`, { cause: err });
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new CoreError('SYNC_FAILED', `the relay's answer to ${call.path} is malformed: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  putBlob(signer: RequestSigner, blobId: string, sealed: Uint8Array): Promise<RelayReply> {
    return this.call({ method: 'PUT', path: `/v1/blobs/${blobId}`, body: sealed, signer, timeoutMs: BLOB_TIMEOUT_MS });
  }

  /** The sealed blob, or undefined if the relay does not have it. */
  async getBlob(signer: RequestSigner, blobId: string): Promise<Uint8Array | undefined> {
    try {
      return (await this.call({ method: 'GET', path: `/v1/blobs/${blobId}`, signer, timeoutMs: BLOB_TIMEOUT_MS })).bytes;
    } catch (err) {
      if (err instanceof RelayHttpError && err.status === 404) return undefined;
      throw err;
    }
  }
}
