/**
 * The relay: a small server that never sees plaintext (DESIGN.md, "Sync"). It will hold the
 * per-document log of encrypted Automerge changes with cursors and compaction snapshots, the
 * content-addressed blob store, device pairing and per-device key checks, and the Twilio webhook
 * that seals call transcripts into an account's inbox.
 */

/** The port the relay listens on when none is configured. */
export const RELAY_DEFAULT_PORT = 8787;
