/**
 * What runs in the agent worker. A tasks module (the path given to `AgentWorker`) default-exports,
 * or exports as `tasks`, a registry built with `defineTasks`. Tasks are stateless compute: they get
 * JSON-like input (Uint8Arrays allowed) and return output the core writes into documents. Module
 * state (a loaded Whisper model, say) stays warm between calls, since the worker is long-lived.
 *
 * Errors a task throws reach the core as the same kind (see `serialiseError` in protocol.ts):
 * CoreError keeps its code, JobWaitError its recheck delay, anything else its message and name.
 */

export interface TaskContext {
  /** Aborted when the core cancels the call or the worker shuts down; tasks should stop soon after. */
  signal: AbortSignal;
  progress(done: number, total: number, message?: string): void;
}

export type AgentTask<I = unknown, O = unknown> = (input: I, ctx: TaskContext) => Promise<O>;

export type TaskRegistry = Record<string, AgentTask>;

/**
 * Keeps each task's own input and output types (so the core can derive them with `TaskInput` and
 * `TaskOutput`) while checking every entry is a task. `never` input is what lets a task declare a
 * specific input type and still fit: the worker does not check inputs, tasks that take untrusted
 * shapes should parse them.
 */
export function defineTasks<T extends Record<string, AgentTask<never, unknown>>>(tasks: T): T {
  return tasks;
}

export type TaskInput<T> = T extends AgentTask<infer I, unknown> ? I : never;
export type TaskOutput<T> = T extends AgentTask<never, infer O> ? O : never;
