import type { Job, JobQueue } from './JobQueue.ts';

/** Thrown by a handler that cannot run yet (no model, offline): the job waits without spending an attempt. */
export class JobWaitError extends Error {
  readonly recheckInMs: number;
  /** What is missing is missing for every job of the kind (an API key, the budget): they all wait. */
  readonly wholeKind: boolean;
  constructor(reason: string, recheckInMs = 30_000, options: { wholeKind?: boolean } = {}) {
    super(reason);
    this.name = 'JobWaitError';
    this.recheckInMs = recheckInMs;
    this.wholeKind = options.wholeKind ?? false;
  }
}

/** Thrown by a handler for input that will never work (a corrupt file): no retries. */
export class JobFailedError extends Error {
  constructor(reason: string, options?: ErrorOptions) {
    super(reason, options);
    this.name = 'JobFailedError';
  }
}

export interface JobContext {
  /** Aborted when the person cancels the job; long jobs check it between steps. */
  signal: AbortSignal;
}

export type JobHandler = (job: Job, context: JobContext) => Promise<void>;

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  random: () => number;
}

/** Equal jitter (half fixed, half random): spreads retries of many jobs that failed together, so they do not all hit a provider at once. */
export function backoffDelay(attempt: number, policy: BackoffPolicy): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (policy.random() * ceiling) / 2);
}

export interface JobEvent {
  job: Job;
  outcome: 'done' | 'retry' | 'failed' | 'waiting';
  error?: string;
}

/** Runs jobs from the queue one at a time. SQLite writes are serial anyway, and one core stays free for the UI. */
export class JobRunner {
  readonly #queue: JobQueue;
  readonly #handlers = new Map<string, JobHandler>();
  readonly #backoff: BackoffPolicy;
  readonly #listeners = new Set<(event: JobEvent) => void>();
  readonly #controllers = new Map<number, AbortController>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(queue: JobQueue, backoff: Partial<BackoffPolicy> = {}) {
    this.#queue = queue;
    this.#backoff = { baseMs: 1000, maxMs: 10 * 60_000, random: Math.random, ...backoff };
  }

  register(kind: string, handler: JobHandler): void {
    this.#handlers.set(kind, handler);
  }

  onEvent(listener: (event: JobEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Runs one due job, of the given kinds or any registered kind; false when none is due. */
  async runOne(kinds: readonly string[] = [...this.#handlers.keys()]): Promise<boolean> {
    const job = this.#queue.claim(kinds.filter((k) => this.#handlers.has(k)));
    if (!job) return false;
    const handler = this.#handlers.get(job.kind)!;
    const controller = new AbortController();
    this.#controllers.set(job.id, controller);
    try {
      await handler(job, { signal: controller.signal });
      this.#queue.complete(job.id);
      this.#emit({ job, outcome: 'done' });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (controller.signal.aborted) {
        this.#queue.cancel(job.id, 'cancelled');
        this.#emit({ job, outcome: 'failed', error: 'cancelled' });
      } else if (err instanceof JobWaitError) {
        this.#queue.wait(job.id, message, err.recheckInMs);
        if (err.wholeKind) this.#queue.waitKind(job.kind, message, err.recheckInMs);
        this.#emit({ job, outcome: 'waiting', error: message });
      } else if (err instanceof JobFailedError) {
        this.#queue.failPermanently(job.id, message);
        this.#emit({ job, outcome: 'failed', error: message });
      } else {
        const state = this.#queue.fail(job.id, message, backoffDelay(job.attempts + 1, this.#backoff));
        this.#emit({ job, outcome: state === 'failed' ? 'failed' : 'retry', error: message });
      }
    } finally {
      this.#controllers.delete(job.id);
    }
    return true;
  }

  /** Stops a job: a running one is aborted (its handler sees the signal), a pending one is failed as cancelled. */
  cancel(id: number): boolean {
    const running = this.#controllers.get(id);
    if (running) {
      running.abort();
      return true;
    }
    return this.#queue.cancel(id, 'cancelled');
  }

  /** Runs every job that is due now, including ones those jobs enqueue; waiting jobs are left waiting. */
  async drain(kinds?: readonly string[]): Promise<void> {
    while (await this.runOne(kinds)) {
      // keep going
    }
  }

  /** Runs in the background until stopped, sleeping until the next job is due or `poke` is called. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.poke();
  }

  /** New work was enqueued: run it soon rather than at the next scheduled wake-up. */
  poke(): void {
    if (this.#stopped || this.#running) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      this.#schedule();
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped && (await this.runOne())) {
      // Yield between jobs so searches and captures on the same event loop are not starved.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    const next = this.#queue.nextDue([...this.#handlers.keys()]);
    if (next === undefined) return;
    const delay = Math.max(0, Math.min(next - Date.now(), 60_000));
    this.#timer = setTimeout(() => this.poke(), delay);
    this.#timer.unref();
  }

  #emit(event: JobEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
