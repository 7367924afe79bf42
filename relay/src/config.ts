import { parseArgs } from 'node:util';
import { z } from 'zod';
import { RELAY_DEFAULT_PORT } from './constants.ts';

export interface RelayLimits {
  /** Largest request body Fastify accepts. */
  readonly bodyLimitBytes: number;
  /** Quota given to a new account. */
  readonly accountQuotaBytes: number;
}

export interface RelayConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly limits: RelayLimits;
}

/** A configuration problem, worded as one line for the terminal. */
export class RelayConfigError extends Error {
  override readonly name: string = 'RelayConfigError';
  readonly code = 'invalid-config';
}

const MIB = 1024 * 1024;

// Each setting: its flag, its environment variable, and how to read the string either gives.
const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const SETTINGS = {
  port: { flag: 'port', env: 'LVA_RELAY_PORT', schema: integer(0, 65_535) },
  host: { flag: 'host', env: 'LVA_RELAY_HOST', schema: z.string().min(1, 'expected a host name or address') },
  dataDir: { flag: 'data-dir', env: 'LVA_RELAY_DATA_DIR', schema: z.string().min(1, 'expected a directory') },
  bodyLimitBytes: { flag: 'body-limit-bytes', env: 'LVA_RELAY_BODY_LIMIT_BYTES', schema: integer(1024, 1024 * MIB) },
  accountQuotaBytes: {
    flag: 'account-quota-bytes',
    env: 'LVA_RELAY_ACCOUNT_QUOTA_BYTES',
    schema: integer(0, Number.MAX_SAFE_INTEGER),
  },
} as const;

const DEFAULTS = {
  port: String(RELAY_DEFAULT_PORT),
  // Loopback unless asked otherwise: a relay is meant to sit behind TLS termination.
  host: '127.0.0.1',
  dataDir: './relay-data',
  // Room for an encrypted snapshot of a large document; blobs are expected to stream later.
  bodyLimitBytes: String(16 * MIB),
  accountQuotaBytes: String(1024 * MIB),
} as const;

type SettingName = keyof typeof SETTINGS;

function readSetting<K extends SettingName>(
  name: K,
  flags: Record<string, string | boolean | undefined>,
  env: Readonly<Record<string, string | undefined>>,
): z.output<(typeof SETTINGS)[K]['schema']> {
  const { flag, env: envName, schema } = SETTINGS[name];
  const fromFlag = flags[flag];
  const [raw, source] =
    typeof fromFlag === 'string'
      ? [fromFlag, `--${flag}`]
      : env[envName] !== undefined
        ? [env[envName], envName]
        : [DEFAULTS[name], 'default'];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const reason = parsed.error.issues[0]?.message ?? 'invalid';
    throw new RelayConfigError(`relay config: ${source}=${JSON.stringify(raw)}: ${reason}`);
  }
  return parsed.data as z.output<(typeof SETTINGS)[K]['schema']>;
}

/** The relay's configuration from command-line flags, then environment variables, then defaults. */
export function relayConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RelayConfig {
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.values(SETTINGS).map(({ flag }) => [flag, { type: 'string' as const }]),
      ),
    }).values;
  } catch (error) {
    // Node appends a paragraph of advice to unknown-option errors; the first sentence is the point.
    const message = (error instanceof Error ? error.message : String(error)).split(/\.\s|\n/)[0] ?? '';
    throw new RelayConfigError(`relay config: ${message}`);
  }
  return {
    port: readSetting('port', flags, env),
    host: readSetting('host', flags, env),
    dataDir: readSetting('dataDir', flags, env),
    limits: {
      bodyLimitBytes: readSetting('bodyLimitBytes', flags, env),
      accountQuotaBytes: readSetting('accountQuotaBytes', flags, env),
    },
  };
}
