/** Every error the core reports to a caller carries one of these codes, so UIs and scripts can act on it. */
export type CoreErrorCode =
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'DATA_DIR_LOCKED'
  | 'DATA_DIR_INVALID'
  | 'TOO_LARGE'
  | 'IO'
  | 'SYNC_FAILED'
  /** A provider key or setting is missing: the work waits until it is set. */
  | 'NOT_CONFIGURED'
  /** A cloud model call failed after its retries. */
  | 'AGENT_FAILED'
  /** The monthly AI budget is spent: optional agents pause; capture and search carry on. */
  | 'BUDGET_SPENT'
  /** A model's structured output failed validation; nothing it said was stored. */
  | 'AGENT_BAD_OUTPUT'
  /** A file that cannot be read as what it claims to be: a corrupt or password-protected PDF, say. */
  | 'DOCUMENT_UNREADABLE'
  /** The person cancelled the work. */
  | 'CANCELLED';

export class CoreError extends Error {
  readonly code: CoreErrorCode;
  constructor(code: CoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = 'CoreError';
  }
}
