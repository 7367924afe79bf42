/** Why a relay storage call was refused; callers branch on `code`, never on the message. */
export type RelayStorageErrorCode =
  | 'quota-exceeded'
  | 'unknown-account'
  | 'account-exists'
  | 'device-exists'
  | 'invalid-id'
  | 'invalid-argument';

export class RelayStorageError extends Error {
  override readonly name: string = 'RelayStorageError';
  readonly code: RelayStorageErrorCode;

  constructor(code: RelayStorageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A write that would take the account past its quota; nothing of it was written. */
export class QuotaExceededError extends RelayStorageError {
  override readonly name: string = 'QuotaExceededError';
  readonly accountId: string;
  readonly quotaBytes: number;
  readonly wouldUseBytes: number;

  constructor(accountId: string, quotaBytes: number, wouldUseBytes: number) {
    super('quota-exceeded', `account ${accountId} would use ${wouldUseBytes} of ${quotaBytes} bytes`);
    this.accountId = accountId;
    this.quotaBytes = quotaBytes;
    this.wouldUseBytes = wouldUseBytes;
  }
}
