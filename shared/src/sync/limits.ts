/**
 * Limits of the sync protocol. Both sides enforce them on input, so a peer that ignores them gets an
 * error frame instead of our memory.
 */

/** The protocol both sides speak; a frame with any other `v` is answered with UNSUPPORTED_VERSION. */
export const PROTOCOL_VERSION = 1;

/** Checked before JSON.parse: parsing is the costly step, and a frame is held in memory whole. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Room left in a frame for everything but the ciphertext: type, ids, nonce, seq and JSON punctuation. */
export const FRAME_ENVELOPE_BYTES = 16 * 1024;

/**
 * Largest chunk ciphertext: the most whose base64url form (4 chars per 3 bytes) still fits in one
 * frame with its envelope, since a chunk is never split across frames.
 */
export const MAX_CHUNK_CIPHERTEXT_BYTES = Math.floor((MAX_FRAME_BYTES - FRAME_ENVELOPE_BYTES) / 4) * 3;

/** Snapshots travel inline in one frame like chunks, so the same ceiling applies. */
export const MAX_SNAPSHOT_CIPHERTEXT_BYTES = MAX_CHUNK_CIPHERTEXT_BYTES;

/** Bounds the relay's work per pull; the frame size still applies, so a batch may stop earlier with `more`. */
export const MAX_PULL_BATCH = 500;

/** Same as MAX_BLOB_BYTES in desktop's BlobStore (shared/ cannot import it): the relay must accept any blob a device can store. */
export const MAX_BLOB_BYTES = 200 * 1024 * 1024;

/** The longest id we mint is a 64-char SHA-256 hex digest; anything longer is not ours. */
export const MAX_ID_LENGTH = 64;

/** XChaCha20-Poly1305 takes a 24-byte nonce, exactly. */
export const NONCE_BYTES = 24;

/** The relay's challenge: 32 random bytes, so a signature cannot be replayed on another connection. */
export const CHALLENGE_BYTES = 32;

/** Room for Ed25519 (64 bytes) and DER-encoded ECDSA P-256 (at most 72), so the curve can change without a new protocol. */
export const MAX_SIGNATURE_BYTES = 72;

/** Room for any of Ed25519, X25519 (32 bytes) or an uncompressed P-256 point (65). */
export const MAX_PUBLIC_KEY_BYTES = 65;

/** Error messages are for logs and people, never parsed; this stops a peer from using them as a channel for bulk data. */
export const MAX_ERROR_MESSAGE_LENGTH = 1000;

/** A relay origin such as `wss://relay.example.com:8443`; DNS names top out at 253 characters. */
export const MAX_ORIGIN_LENGTH = 300;
