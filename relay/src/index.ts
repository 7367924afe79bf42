/**
 * The relay: a small server that never sees plaintext (DESIGN.md, "Sync"). It will hold the
 * per-document log of encrypted Automerge changes with cursors and compaction snapshots, the
 * content-addressed blob store, device pairing and per-device key checks, and the Twilio webhook
 * that seals call transcripts into an account's inbox.
 */

export { RELAY_DEFAULT_PORT } from './constants.ts';
export { relayConfig, RelayConfigError } from './config.ts';
export type { RelayConfig, RelayLimits } from './config.ts';
export { createRelayServer } from './http/server.ts';
export type { RelayServer, RelayServerOptions } from './http/server.ts';
export { createRelayLogger, REDACTED_FIELDS } from './http/logger.ts';
export { RelayMetrics, PROMETHEUS_CONTENT_TYPE } from './http/metrics.ts';
export { RELAY_VERSION } from './http/version.ts';
export { SqliteRelayStorage } from './storage/SqliteRelayStorage.ts';
export { QuotaExceededError, RelayStorageError } from './storage/errors.ts';
export type { RelayStorageErrorCode } from './storage/errors.ts';
export type * from './storage/RelayStorage.ts';
