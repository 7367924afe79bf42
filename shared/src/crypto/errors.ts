export type CryptoErrorCode = 'DECRYPT_FAILED' | 'BAD_SIGNATURE' | 'BAD_KEY' | 'BAD_PHRASE' | 'BAD_INPUT';

/**
 * One error type for the whole crypto layer, so callers branch on `code` instead of parsing
 * messages. Messages never contain keys or plaintext, but a BAD_PHRASE message repeats the one
 * mistyped word so a person can fix it: show it to the user, don't ship it to telemetry.
 */
export class CryptoError extends Error {
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CryptoError';
    this.code = code;
  }
}

export function isCryptoError(error: unknown, code?: CryptoErrorCode): error is CryptoError {
  return error instanceof CryptoError && (code === undefined || error.code === code);
}

/** Wrong key sizes are programming errors; failing loudly beats letting a library pad or truncate. */
export function requireKey(key: Uint8Array, length: number, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== length) {
    throw new CryptoError('BAD_KEY', `${what} must be ${length} bytes`);
  }
}
