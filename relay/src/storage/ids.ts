import { RelayStorageError } from './errors.ts';

// base64url has no '.', '/' or '\\', so an id that matches can only ever name one path segment
// and never '.' or '..'. 128 characters leave room for any hash plus a prefix.
const BASE64URL_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Rejects ids that are used as file names (account and blob ids) unless they are plain base64url. */
export function assertBase64UrlId(id: string, what: string): void {
  if (typeof id !== 'string' || !BASE64URL_ID.test(id)) {
    throw new RelayStorageError('invalid-id', `${what} must be 1-128 base64url characters`);
  }
}

/** Rejects values that cannot be a seq, a count or a time in milliseconds. */
export function assertNonNegativeInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RelayStorageError('invalid-argument', `${what} must be a non-negative integer`);
  }
}
