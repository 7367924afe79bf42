import { describe, expect, it } from 'vitest';
import { providerSettingsFromEnv } from './ProviderSettings.ts';

describe('provider settings from the environment', () => {
  it('reads keys, base URLs and per-role models, with defaults for the rest', () => {
    const settings = providerSettingsFromEnv({
      ANTHROPIC_API_KEY: 'sk-ant',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999',
      OPENAI_API_KEY: '',
      LVA_MODEL_CHAT: 'claude-test',
      LVA_AI_MAX_RETRIES: '0',
    });
    expect(settings.anthropic).toEqual({ apiKey: 'sk-ant', baseURL: 'http://127.0.0.1:9999' });
    // An empty key is no key: the agents that need it wait and say so.
    expect(settings.openai).toEqual({});
    expect(settings.models.chat).toBe('claude-test');
    expect(settings.models.transcription).toBe('whisper-1');
    expect(settings.maxRetries).toBe(0);
    expect(settings.timeoutMs).toBe(60_000);
  });

  it('names the variable when a value is unusable', () => {
    expect(() => providerSettingsFromEnv({ ANTHROPIC_BASE_URL: 'not a url' })).toThrow(/ANTHROPIC_BASE_URL="not a url" is not valid/);
    expect(() => providerSettingsFromEnv({ LVA_AI_TIMEOUT_MS: '-5' })).toThrow(/LVA_AI_TIMEOUT_MS/);
  });
});
