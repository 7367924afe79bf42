import { pino } from 'pino';
import type { DestinationStream, Logger, LoggerOptions } from 'pino';

/**
 * Field names whose values never reach a log line. Ciphertext and nonces are not plaintext, but
 * logs are copied to hosts and vendors outside the account's quota and deletion, kept for longer
 * than the data, and read by people; a key, signature, secret or wrapped account key in a log,
 * together with a pairing code or a leaked device, would open the account. The relay's promise
 * is that it holds nothing it could decrypt or hand on, and that includes its logs.
 */
export const REDACTED_FIELDS = [
  'ciphertext',
  'nonce',
  'key',
  'publicKey',
  'privateKey',
  'secretKey',
  'accountKey',
  'signature',
  'secret',
  'wrapped',
  'bytes',
  'authorization',
  'cookie',
] as const;

// pino's redaction matches fixed paths, so each field is listed at the nesting depths where the
// relay puts things in log objects; anything deeper has to be logged by id, not by value.
const MAX_DEPTH = 4;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of REDACTED_FIELDS) {
    for (let depth = 0; depth <= MAX_DEPTH; depth++) paths.push([...Array<string>(depth).fill('*'), field].join('.'));
  }
  return paths;
}

/** The relay's logger: JSON lines with the redaction list applied. */
export function createRelayLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    level: 'info',
    ...options,
    redact: { paths: redactPaths(), censor: '[redacted]' },
  };
  return destination ? pino(settings, destination) : pino(settings);
}
