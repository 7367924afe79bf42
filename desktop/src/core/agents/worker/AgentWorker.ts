import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoreError } from '../../errors.ts';
import { JobWaitError } from '../../jobs/JobRunner.ts';
import { z } from 'zod';
import { FromWorkerSchema, deserialiseError, type ToWorker } from './protocol.ts';

/**
 * A call was in flight when the worker died (crash, OOM kill, a malformed message, close()).
 *
 * It is a JobWaitError so the job that made the call goes back to pending without spending an
 * attempt: a worker runs many calls at once, and whatever killed it (the OS reclaiming memory,
 * another task's bug, an app update) says nothing about this job's input. Spending attempts would
 * fail healthy jobs for good after a few unrelated crashes. The recheck is short because the worker
 * restarts on the next call; it grows with the restart backoff when the worker keeps crashing.
 * The cost: a job whose input itself kills the worker is retried indefinitely (slowly, at the
 * backoff ceiling) instead of ending `failed`.
 */
export class WorkerCrashedError extends JobWaitError {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  constructor(message: string, info: { pid: number | undefined; exitCode: number | null; signal: NodeJS.Signals | null }, recheckInMs = 1000) {
    super(message, recheckInMs);
    this.name = 'WorkerCrashedError';
    this.pid = info.pid;
    this.exitCode = info.exitCode;
    this.signal = info.signal;
  }
}

/**
 * The worker exited before it was ready, i.e. before running anything: the tasks module failed to
 * import or the worker path is wrong. Unlike a crash this repeats every time, so it is an ordinary
 * error and jobs spend attempts on it, ending `failed` where someone can see it.
 */
export class WorkerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerStartError';
  }
}

export interface AgentWorkerOptions {
  /** Path or file: URL of a module whose default (or `tasks`) export is a TaskRegistry. */
  tasksModule: string;
  env?: NodeJS.ProcessEnv;
  /** Delay before restarting a worker that keeps crashing soon after starting. */
  restartBackoffMs?: { base: number; max: number };
  /** The worker entry; defaults to workerMain.ts next to this file (a packaged build may point at compiled JS). */
  workerPath?: string;
  /** Node flags for the worker; not inherited from this process, whose flags may be a test runner's. */
  execArgv?: string[];
  /** How long close() lets the worker stop its tasks before killing it. */
  closeGraceMs?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, message?: string) => void;
}

export interface WorkerExit {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when close() asked for it; anything else is a crash. */
  expected: boolean;
  /** Why the core killed it, when it did (a protocol fault). */
  reason?: string;
}

interface Pending {
  resolve(output: unknown): void;
  reject(err: Error): void;
  onProgress: CallOptions['onProgress'];
}

interface Session {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  readonly startedAt: number;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  readonly pending: Map<number, Pending>;
  isReady: boolean;
  closing: boolean;
  gone: boolean;
  fault?: string;
  markReady(): void;
  failReady(err: Error): void;
  markExited(): void;
}

const DEFAULT_WORKER_PATH = fileURLToPath(new URL('./workerMain.ts', import.meta.url));
// A worker that ran this long before dying was healthy: its crash restarts at once rather than after a backoff.
const HEALTHY_AFTER_MS = 30_000;

// Promise.withResolvers is ES2024; the lib here is ES2023.
function withResolvers(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function cancelledError(signal: AbortSignal): CoreError {
  const reason: unknown = signal.reason;
  if (reason instanceof CoreError && reason.code === 'CANCELLED') return reason;
  return new CoreError('CANCELLED', 'the agent call was cancelled', { cause: reason });
}

/**
 * The core's handle on the agent worker process. Calls run concurrently in one long-lived worker,
 * so models loaded by tasks stay warm. The worker starts on the first call, restarts on the call
 * after a crash, and never keeps this process alive while it has nothing to do.
 */
export class AgentWorker {
  readonly #tasksModule: string;
  readonly #env: NodeJS.ProcessEnv | undefined;
  readonly #backoff: { base: number; max: number };
  readonly #workerPath: string;
  readonly #execArgv: string[];
  readonly #closeGraceMs: number;
  readonly #exitListeners = new Set<(exit: WorkerExit) => void>();
  #session: Session | undefined;
  #starting: Promise<Session> | undefined;
  #nextId = 0;
  #active = 0;
  #starts = 0;
  #crashStreak = 0;
  #nextStartAt = 0;
  #closed = false;

  constructor(options: AgentWorkerOptions) {
    this.#tasksModule = options.tasksModule;
    this.#env = options.env;
    this.#backoff = options.restartBackoffMs ?? { base: 1000, max: 60_000 };
    this.#workerPath = options.workerPath ?? DEFAULT_WORKER_PATH;
    this.#execArgv = options.execArgv ?? [];
    this.#closeGraceMs = options.closeGraceMs ?? 5000;
  }

  /** The running worker's pid, if one is running. */
  get pid(): number | undefined {
    return this.#session?.pid;
  }

  /** Workers started after the first, i.e. after crashes. */
  get restarts(): number {
    return Math.max(0, this.#starts - 1);
  }

  onExit(listener: (exit: WorkerExit) => void): () => void {
    this.#exitListeners.add(listener);
    return () => this.#exitListeners.delete(listener);
  }

  /** Starts the worker and waits until its tasks are loaded; `call` does this itself when needed. */
  async start(): Promise<void> {
    await this.#acquire();
  }

  call<O>(task: string, input: unknown, options: CallOptions = {}): Promise<O> {
    const { signal, onProgress } = options;
    return new Promise<O>((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('the agent worker is closed'));
        return;
      }
      if (signal?.aborted) {
        reject(cancelledError(signal));
        return;
      }
      const id = this.#nextId++;
      let session: Session | undefined;
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        session?.pending.delete(id);
        this.#active--;
        this.#updateRef();
        return true;
      };
      const onAbort = (): void => {
        const s = session;
        if (!signal || !settle()) return;
        if (s) this.#send(s, { type: 'cancel', id });
        reject(cancelledError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#active++;
      this.#updateRef();

      this.#acquire().then(
        (s) => {
          if (settled) return;
          if (s.gone) {
            // It died between becoming ready and this callback; its pending calls were already failed without this one.
            settle();
            reject(new WorkerCrashedError('the agent worker died before the call was sent', { pid: s.pid, exitCode: null, signal: null }));
            return;
          }
          session = s;
          s.pending.set(id, {
            resolve: (output) => settle() && resolve(output as O),
            reject: (err) => settle() && reject(err),
            onProgress,
          });
          try {
            this.#send(s, { type: 'run', id, task, input });
          } catch (err) {
            // Structured clone throws synchronously on what it cannot copy (functions, class instances with private state).
            if (settle()) reject(new CoreError('BAD_INPUT', `input for agent task "${task}" cannot be sent to the worker: ${String(err)}`));
          }
        },
        (err: unknown) => {
          if (settle()) reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Asks the worker to stop its tasks and exit, killing it after the grace period. Calls in flight fail with WorkerCrashedError. */
  async close(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    if (!session || session.gone) return;
    session.closing = true;
    this.#rejectAll(session, 'the agent worker was closed while the call was running', null, null);
    session.child.ref();
    try {
      this.#send(session, { type: 'shutdown' });
    } catch {
      session.child.kill('SIGKILL');
    }
    const killer = setTimeout(() => session.child.kill('SIGKILL'), this.#closeGraceMs);
    await session.exited;
    clearTimeout(killer);
  }

  #acquire(): Promise<Session> {
    this.#starting ??= this.#spawn();
    return this.#starting;
  }

  async #spawn(): Promise<Session> {
    try {
      const wait = this.#nextStartAt - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.#closed) throw new Error('the agent worker is closed');
      const session = this.#fork();
      await session.ready;
      return session;
    } catch (err) {
      // Without this the next call would get the same rejected promise instead of a fresh start.
      this.#starting = undefined;
      throw err;
    }
  }

  #fork(): Session {
    const child = fork(this.#workerPath, [this.#tasksModule], {
      serialization: 'advanced',
      execArgv: this.#execArgv,
      env: this.#env ?? process.env,
      // No stdin: the worker must not compete with a CLI for the terminal. Its logs go where ours do.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#starts++;
    const ready = withResolvers();
    const exited = withResolvers();
    // Nothing may await `ready` (a start with no caller left); its rejection is still reported through the calls.
    ready.promise.catch(() => undefined);
    const session: Session = {
      child,
      pid: child.pid,
      startedAt: Date.now(),
      ready: ready.promise,
      exited: exited.promise,
      pending: new Map(),
      isReady: false,
      closing: false,
      gone: false,
      markReady: () => {
        session.isReady = true;
        ready.resolve();
      },
      failReady: (err) => ready.reject(err),
      markExited: () => exited.resolve(),
    };
    this.#session = session;
    child.on('message', (raw: unknown) => this.#onMessage(session, raw));
    // 'close' rather than 'exit': it comes after the IPC channel drained, so a result sent just before exiting is not lost.
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => this.#onGone(session, code, signal));
    child.on('error', (err) => {
      // A failed spawn never gets a pid; a failed send to a live worker is a fault like a bad message.
      if (child.pid === undefined) this.#onGone(session, null, null, `could not start the agent worker: ${err.message}`);
      else this.#fault(session, `agent worker channel error: ${err.message}`);
    });
    this.#updateRef();
    return session;
  }

  #send(session: Session, message: ToWorker): void {
    if (session.gone || !session.child.connected) return;
    session.child.send(message, (err) => {
      if (err) this.#fault(session, `could not send ${message.type} to the agent worker: ${err.message}`);
    });
  }

  #onMessage(session: Session, raw: unknown): void {
    const parsed = FromWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      this.#fault(session, `malformed message from the agent worker: ${z.prettifyError(parsed.error)}`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'ready':
        session.markReady();
        this.#updateRef();
        break;
      case 'progress': {
        // Unknown ids are calls cancelled here while the worker was still running them.
        const onProgress = session.pending.get(msg.id)?.onProgress;
        try {
          onProgress?.(msg.done, msg.total, msg.message);
        } catch (err) {
          console.error('agent worker: a progress listener threw', err);
        }
        break;
      }
      case 'result':
        session.pending.get(msg.id)?.resolve(msg.output);
        break;
      case 'error':
        session.pending.get(msg.id)?.reject(deserialiseError(msg.error));
        break;
    }
  }

  /** The worker's state is unknown; killing it lets the exit path fail its calls and the next call start clean. */
  #fault(session: Session, reason: string): void {
    if (session.gone) return;
    console.error(`agent worker ${session.pid}: ${reason}; killing it`);
    session.fault ??= reason;
    session.child.kill('SIGKILL');
  }

  #onGone(session: Session, code: number | null, signal: NodeJS.Signals | null, reason?: string): void {
    if (session.gone) return;
    session.gone = true;
    if (this.#session === session) {
      this.#session = undefined;
      this.#starting = undefined;
    }
    const expected = session.closing;
    const why = reason ?? session.fault;
    if (!expected) {
      const healthy = session.isReady && Date.now() - session.startedAt >= HEALTHY_AFTER_MS;
      this.#crashStreak = healthy ? 1 : this.#crashStreak + 1;
      // The first crash restarts at once; only a worker that keeps dying waits, so a crash loop does not eat the CPU.
      const delay = this.#crashStreak <= 1 ? 0 : Math.min(this.#backoff.max, this.#backoff.base * 2 ** (this.#crashStreak - 2));
      this.#nextStartAt = Date.now() + delay;
    }
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (!session.isReady) {
      session.failReady(
        expected
          ? new Error('the agent worker was closed before it was ready')
          : new WorkerStartError(`the agent worker exited before it was ready (${how})${why ? `: ${why}` : ''}; see its log for why`),
      );
    }
    this.#rejectAll(session, `the agent worker ${expected ? 'was closed' : `died (${how})`} while the call was running${why ? `: ${why}` : ''}`, code, signal);
    session.markExited();
    this.#updateRef();
    const exit: WorkerExit = { pid: session.pid, code, signal, expected, ...(why ? { reason: why } : {}) };
    for (const listener of this.#exitListeners) {
      try {
        listener(exit);
      } catch (err) {
        console.error('agent worker: an exit listener threw', err);
      }
    }
  }

  #rejectAll(session: Session, message: string, exitCode: number | null, signal: NodeJS.Signals | null): void {
    const recheckInMs = Math.max(1000, this.#nextStartAt - Date.now());
    for (const pending of [...session.pending.values()]) {
      pending.reject(new WorkerCrashedError(message, { pid: session.pid, exitCode, signal }, recheckInMs));
    }
  }

  /** Refs the worker only while calls wait on it (or it is starting), so an idle worker never keeps a CLI command from exiting. */
  #updateRef(): void {
    const session = this.#session;
    if (!session || session.gone) return;
    if (this.#active > 0 || !session.isReady) {
      session.child.ref();
      session.child.channel?.ref();
    } else {
      session.child.unref();
      session.child.channel?.unref();
    }
  }
}
