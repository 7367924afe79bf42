import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { JobWaitError } from '../jobs/JobRunner.ts';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNRESET', 'ENETDOWN']);

/**
 * Whether an error means the provider could not be reached at all (no network, DNS, refused), as
 * opposed to a slow or failing provider. Walks the cause chain, since agents wrap SDK errors.
 */
export function isOffline(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    // A timeout means the request got somewhere; retrying with backoff is the right answer to it.
    if (e instanceof Anthropic.APIConnectionTimeoutError || e instanceof OpenAI.APIConnectionTimeoutError) return false;
    if (e instanceof Anthropic.APIConnectionError || e instanceof OpenAI.APIConnectionError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  }
  return false;
}

/** Every job that needs the provider waits until it can be reached; none spends an attempt on it. */
export class OfflineError extends JobWaitError {
  constructor(what: string) {
    super(`Offline: ${what} could not reach the provider. It will continue once the connection is back.`, 30_000, { wholeKind: true });
    this.name = 'OfflineError';
  }
}
