import Anthropic from '@anthropic-ai/sdk';
import { CoreError } from '../errors.ts';
import type { ProviderSettings } from './ProviderSettings.ts';

/** Thrown when an agent needs a provider key that is not set; the work waits rather than fails. */
export class MissingKeyError extends CoreError {
  constructor(what: string, variable: string) {
    super('NOT_CONFIGURED', `${what} needs an API key: set ${variable} (or add it in Settings)`);
  }
}

/** The real SDK, pointed at the configured base URL, with its own retries and timeouts. */
export function claudeClient(settings: ProviderSettings, what: string): Anthropic {
  if (!settings.anthropic.apiKey) throw new MissingKeyError(what, 'ANTHROPIC_API_KEY');
  return new Anthropic({
    apiKey: settings.anthropic.apiKey,
    ...(settings.anthropic.baseURL ? { baseURL: settings.anthropic.baseURL } : {}),
    maxRetries: settings.maxRetries,
    timeout: settings.timeoutMs,
  });
}
