import { parseArgs } from 'node:util';
import { MAX_BLOB_BYTES, RelayOrigin } from '@lva/shared';
import { z } from 'zod';
import { RELAY_DEFAULT_PORT } from './constants.ts';

export interface RelayLimits {
  /** Largest request body Fastify accepts. */
  readonly bodyLimitBytes: number;
  /** Largest blob a device may upload; blob uploads have their own limit since they dwarf JSON bodies. */
  readonly maxBlobBytes: number;
  /** Quota given to a new account. */
  readonly accountQuotaBytes: number;
  /** Sync frames a connection may send per second, sustained. */
  readonly syncFramesPerSecond: number;
  /** Sync frames a connection may send in a burst before the rate applies. */
  readonly syncFrameBurst: number;
  /** How long a new sync connection has to authenticate before it is closed. */
  readonly syncAuthTimeoutMs: number;
  /** New accounts one client address may create per hour; also the burst. */
  readonly signupsPerHour: number;
}

export interface RelayConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /**
   * The origin devices reach the relay at (e.g. wss://relay.example.com), signed with every auth
   * challenge. Behind TLS termination the relay cannot see it, so production sets it; without it
   * the relay falls back to the request's Host header, which suits local use.
   */
  readonly publicOrigin?: string;
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
  maxBlobBytes: { flag: 'max-blob-bytes', env: 'LVA_RELAY_MAX_BLOB_BYTES', schema: integer(1024, 1024 * MIB) },
  accountQuotaBytes: {
    flag: 'account-quota-bytes',
    env: 'LVA_RELAY_ACCOUNT_QUOTA_BYTES',
    schema: integer(0, Number.MAX_SAFE_INTEGER),
  },
  publicOrigin: {
    flag: 'public-origin',
    env: 'LVA_RELAY_PUBLIC_ORIGIN',
    // Empty means "not set": every setting needs a string default.
    schema: z.union([z.literal(''), RelayOrigin]),
  },
  syncFramesPerSecond: { flag: 'sync-frames-per-second', env: 'LVA_RELAY_SYNC_FRAMES_PER_SECOND', schema: integer(1, 100_000) },
  syncFrameBurst: { flag: 'sync-frame-burst', env: 'LVA_RELAY_SYNC_FRAME_BURST', schema: integer(1, 1_000_000) },
  syncAuthTimeoutMs: { flag: 'sync-auth-timeout-ms', env: 'LVA_RELAY_SYNC_AUTH_TIMEOUT_MS', schema: integer(100, 600_000) },
  signupsPerHour: { flag: 'signups-per-hour', env: 'LVA_RELAY_SIGNUPS_PER_HOUR', schema: integer(1, 1_000_000) },
} as const;

const DEFAULTS = {
  port: String(RELAY_DEFAULT_PORT),
  // Loopback unless asked otherwise: a relay is meant to sit behind TLS termination.
  host: '127.0.0.1',
  dataDir: './relay-data',
  // Room for an encrypted snapshot of a large document; blobs are expected to stream later.
  bodyLimitBytes: String(16 * MIB),
  // Devices refuse to store larger blobs, so anything lower makes some of their blobs unsyncable.
  maxBlobBytes: String(MAX_BLOB_BYTES),
  accountQuotaBytes: String(1024 * MIB),
  publicOrigin: '',
  // A syncing device sends a few frames per change; a full resync pulls in batches of up to 500.
  syncFramesPerSecond: '50',
  syncFrameBurst: '200',
  syncAuthTimeoutMs: '10000',
  // A person makes one account; a script filling the disk with empty accounts makes thousands.
  signupsPerHour: '30',
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
  const publicOrigin = readSetting('publicOrigin', flags, env);
  return {
    port: readSetting('port', flags, env),
    host: readSetting('host', flags, env),
    dataDir: readSetting('dataDir', flags, env),
    ...(publicOrigin ? { publicOrigin } : {}),
    limits: {
      bodyLimitBytes: readSetting('bodyLimitBytes', flags, env),
      maxBlobBytes: readSetting('maxBlobBytes', flags, env),
      accountQuotaBytes: readSetting('accountQuotaBytes', flags, env),
      syncFramesPerSecond: readSetting('syncFramesPerSecond', flags, env),
      syncFrameBurst: readSetting('syncFrameBurst', flags, env),
      syncAuthTimeoutMs: readSetting('syncAuthTimeoutMs', flags, env),
      signupsPerHour: readSetting('signupsPerHour', flags, env),
    },
  };
}
