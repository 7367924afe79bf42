import { z } from 'zod';
import { CoreError } from '../errors.ts';

/** The model each agent role uses; any can be overridden per install. */
export const MODEL_ROLES = ['chat', 'analysis', 'vision', 'synthesis', 'transcription'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];

// Current models as the SDK itself names them; LVA_MODEL_<ROLE> overrides any of them.
const DEFAULT_MODELS: Record<ModelRole, string> = {
  chat: 'claude-sonnet-5-5',
  analysis: 'claude-haiku-5-5',
  vision: 'claude-sonnet-5-5',
  synthesis: 'claude-sonnet-5-5',
  transcription: 'whisper-1',
};

export interface ProviderSettings {
  anthropic: { apiKey?: string; baseURL?: string };
  openai: { apiKey?: string; baseURL?: string };
  models: Record<ModelRole, string>;
  /** Per request, before the SDK gives up and retries. */
  timeoutMs: number;
  /** The SDKs retry 408, 409, 429 and 5xx (529 included) with backoff, honouring retry-after. */
  maxRetries: number;
}

const Url = z.string().url();
const Positive = z.coerce.number().int().positive();

/**
 * Settings from the environment, which is where the CLI and headless mode take them (the desktop app
 * stores keys with safeStorage and passes the same shape). Bad values fail loudly here rather than
 * as a confusing SDK error later.
 */
export function providerSettingsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): ProviderSettings {
  const read = <T>(name: string, schema: z.ZodType<T>): T | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new CoreError('BAD_INPUT', `${name}="${raw}" is not valid: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  };
  const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));
  const models = { ...DEFAULT_MODELS };
  for (const role of MODEL_ROLES) {
    const override = env[`LVA_MODEL_${role.toUpperCase()}`];
    if (override) models[role] = override;
  }
  return {
    anthropic: { ...optional('apiKey', env.ANTHROPIC_API_KEY || undefined), ...optional('baseURL', read('ANTHROPIC_BASE_URL', Url)) },
    openai: { ...optional('apiKey', env.OPENAI_API_KEY || undefined), ...optional('baseURL', read('OPENAI_BASE_URL', Url)) },
    models,
    timeoutMs: read('LVA_AI_TIMEOUT_MS', Positive) ?? 60_000,
    maxRetries: read('LVA_AI_MAX_RETRIES', z.coerce.number().int().min(0).max(10)) ?? 3,
  };
}
