import { z } from 'zod';
import { CoreError, type CoreErrorCode } from '../../errors.ts';
import { JobWaitError } from '../../jobs/JobRunner.ts';

/**
 * Messages between the core and the agent worker, over the `child_process` IPC channel with
 * `serialization: 'advanced'` (structured clone), so inputs and outputs may hold Uint8Arrays, Maps,
 * Dates; class instances arrive as plain objects, which is why errors have their own shape below.
 *
 * Both sides validate what they receive, and a bad message means different things on each side:
 * - The worker answers a malformed `run` that still carries an id with a BAD_INPUT error (so the call
 *   does not hang) and logs anything else to stderr and ignores it: the core is the long-lived side
 *   and a worker must not die from a message it cannot read.
 * - The core treats a malformed message from the worker as a worker fault: the worker's state is
 *   unknown (a task wrote to the channel itself, or the worker runs other code than the core), so
 *   it is killed and its in-flight calls fail as if it had crashed; the next call gets a fresh one.
 */

const CallId = z.number().int().nonnegative();

export const SerialisedErrorSchema = z.object({
  code: z.string().optional(),
  message: z.string(),
  name: z.string().optional(),
  retryable: z.boolean().optional(),
  waitMs: z.number().nonnegative().optional(),
  /** A JobWaitError that holds for every job of its kind (no key, offline). */
  wholeKind: z.boolean().optional(),
});
export type SerialisedError = z.infer<typeof SerialisedErrorSchema>;

export const ToWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run'), id: CallId, task: z.string().min(1), input: z.unknown() }),
  z.object({ type: z.literal('cancel'), id: CallId }),
  z.object({ type: z.literal('shutdown') }),
]);
export type ToWorker = z.infer<typeof ToWorkerSchema>;

export const FromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({
    type: z.literal('progress'),
    id: CallId,
    done: z.number().nonnegative(),
    total: z.number().nonnegative(),
    message: z.string().optional(),
  }),
  z.object({ type: z.literal('result'), id: CallId, output: z.unknown() }),
  z.object({ type: z.literal('error'), id: CallId, error: SerialisedErrorSchema }),
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;

// A Record rather than an array so that adding a code to CoreErrorCode fails to compile until it is added here too.
const CORE_ERROR_CODES: Record<CoreErrorCode, true> = {
  BAD_INPUT: true,
  NOT_FOUND: true,
  DATA_DIR_LOCKED: true,
  DATA_DIR_INVALID: true,
  TOO_LARGE: true,
  IO: true,
  SYNC_FAILED: true,
  NOT_CONFIGURED: true,
  AGENT_FAILED: true,
  BUDGET_SPENT: true,
  AGENT_BAD_OUTPUT: true,
  DOCUMENT_UNREADABLE: true,
  CANCELLED: true,
};

export function isCoreErrorCode(code: unknown): code is CoreErrorCode {
  return typeof code === 'string' && Object.hasOwn(CORE_ERROR_CODES, code);
}

/** Structured clone drops prototypes, so an error crosses the channel as plain data that `deserialiseError` turns back into the same kind. */
export function serialiseError(err: unknown): SerialisedError {
  if (err instanceof JobWaitError) return { name: 'JobWaitError', message: err.message, waitMs: err.recheckInMs, ...(err.wholeKind ? { wholeKind: true } : {}) };
  if (err instanceof CoreError) return withRetryable(err, { name: 'CoreError', code: err.code, message: err.message });
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return withRetryable(err, { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) });
  }
  return { name: 'Error', message: typeof err === 'string' ? err : `non-error thrown: ${String(err)}` };
}

function withRetryable(err: Error, out: SerialisedError): SerialisedError {
  const retryable = (err as { retryable?: unknown }).retryable;
  return typeof retryable === 'boolean' ? { ...out, retryable } : out;
}

/** The core rethrows these, so a job handler calling the worker sees the errors it would see running the task in-process. */
export function deserialiseError(data: SerialisedError): Error {
  let err: Error;
  if (data.name === 'JobWaitError') {
    err = new JobWaitError(data.message, data.waitMs ?? 30_000, { wholeKind: data.wholeKind ?? false });
  } else if (isCoreErrorCode(data.code)) {
    // Any error with a core code becomes a CoreError, whatever its class was: callers branch on `code`.
    err = new CoreError(data.code, data.message);
  } else {
    err = new Error(data.message);
    if (data.name) err.name = data.name;
    // Node system errors (ENOENT and the like) keep their code, which callers may still test.
    if (data.code !== undefined) Object.assign(err, { code: data.code });
  }
  if (data.retryable !== undefined) Object.assign(err, { retryable: data.retryable });
  return err;
}
