import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type JobState = 'pending' | 'running' | 'failed' | 'done';

export interface Job {
  readonly id: number;
  readonly kind: string;
  /** Identifies the work: enqueuing the same kind and key again reuses the one job, which is what makes jobs idempotent. */
  readonly key: string;
  readonly payload: unknown;
  readonly state: JobState;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly runAfter: number;
  /** The last failure, or what the job waits for. */
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface JobRow {
  id: number;
  kind: string;
  key: string;
  payload: string;
  state: JobState;
  attempts: number;
  max_attempts: number;
  run_after: number;
  last_error: string | null;
  rerun: number;
  created_at: number;
  updated_at: number;
}

export interface EnqueueOptions {
  maxAttempts?: number;
  /** Lower runs first. Index jobs run before embedding so keyword search catches up first. */
  priority?: number;
  delayMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'failed', 'done')),
  priority INTEGER NOT NULL DEFAULT 100,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_after INTEGER NOT NULL,
  last_error TEXT,
  rerun INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (kind, key)
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, priority, run_after);
`;

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    kind: row.kind,
    key: row.key,
    payload: JSON.parse(row.payload) as unknown,
    state: row.state,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAfter: row.run_after,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * The persisted queue. It stores state only; `JobRunner` executes. A job found `running` when the
 * queue opens belonged to a process that died, so it goes back to `pending`.
 */
export class JobQueue {
  readonly #db: Database.Database;
  readonly #now: () => number;

  constructor(file: string, now: () => number = Date.now) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(SCHEMA);
    this.#now = now;
    this.#db.prepare(`UPDATE jobs SET state = 'pending', updated_at = ? WHERE state = 'running'`).run(now());
  }

  enqueue(kind: string, key: string, payload: unknown = null, options: EnqueueOptions = {}): void {
    const now = this.#now();
    // A job already running has read its input; `rerun` makes it go again so the newer input is not missed.
    this.#db
      .prepare(
        `INSERT INTO jobs (kind, key, payload, state, priority, attempts, max_attempts, run_after, created_at, updated_at)
         VALUES (@kind, @key, @payload, 'pending', @priority, 0, @max, @runAfter, @now, @now)
         ON CONFLICT (kind, key) DO UPDATE SET
           payload = excluded.payload,
           rerun = CASE WHEN state = 'running' THEN 1 ELSE rerun END,
           state = CASE WHEN state = 'running' THEN 'running' ELSE 'pending' END,
           attempts = CASE WHEN state IN ('done', 'failed') THEN 0 ELSE attempts END,
           last_error = CASE WHEN state IN ('done', 'failed') THEN NULL ELSE last_error END,
           run_after = CASE WHEN state IN ('done', 'failed') THEN excluded.run_after ELSE min(run_after, excluded.run_after) END,
           updated_at = excluded.updated_at`,
      )
      .run({
        kind,
        key,
        payload: JSON.stringify(payload ?? null),
        priority: options.priority ?? 100,
        max: options.maxAttempts ?? 8,
        runAfter: now + (options.delayMs ?? 0),
        now,
      });
  }

  /** Marks the next due job running and returns it; the kinds filter lets a runner take only what it handles. */
  claim(kinds: readonly string[]): Job | undefined {
    if (kinds.length === 0) return undefined;
    const now = this.#now();
    const marks = kinds.map(() => '?').join(',');
    const claimTx = this.#db.transaction((): JobRow | undefined => {
      const row = this.#db
        .prepare(
          `SELECT * FROM jobs WHERE state = 'pending' AND run_after <= ? AND kind IN (${marks})
           ORDER BY priority, run_after, id LIMIT 1`,
        )
        .get(now, ...kinds) as JobRow | undefined;
      if (!row) return undefined;
      this.#db.prepare(`UPDATE jobs SET state = 'running', rerun = 0, updated_at = ? WHERE id = ?`).run(now, row.id);
      return { ...row, state: 'running' };
    });
    const row = claimTx.immediate();
    return row ? toJob(row) : undefined;
  }

  complete(id: number): void {
    this.#db
      .prepare(
        `UPDATE jobs SET state = CASE WHEN rerun = 1 THEN 'pending' ELSE 'done' END,
           rerun = 0, attempts = 0, last_error = NULL, updated_at = ? WHERE id = ?`,
      )
      .run(this.#now(), id);
  }

  /** A failed attempt: retried after `retryInMs`, or failed for good once attempts run out. */
  fail(id: number, reason: string, retryInMs: number): JobState {
    const now = this.#now();
    const row = this.#db.prepare(`SELECT attempts, max_attempts, rerun FROM jobs WHERE id = ?`).get(id) as
      | Pick<JobRow, 'attempts' | 'max_attempts' | 'rerun'>
      | undefined;
    if (!row) return 'failed';
    const attempts = row.attempts + 1;
    const state: JobState = attempts >= row.max_attempts && row.rerun === 0 ? 'failed' : 'pending';
    this.#db
      .prepare(`UPDATE jobs SET state = ?, attempts = ?, last_error = ?, run_after = ?, rerun = 0, updated_at = ? WHERE id = ?`)
      .run(state, state === 'failed' ? attempts : row.rerun ? 0 : attempts, reason, now + retryInMs, now, id);
    return state;
  }

  /** Not a failure: the job needs something it cannot have yet (a model, the network). Attempts are not spent. */
  wait(id: number, reason: string, recheckInMs: number): void {
    const now = this.#now();
    this.#db
      .prepare(`UPDATE jobs SET state = 'pending', last_error = ?, run_after = ?, rerun = 0, updated_at = ? WHERE id = ?`)
      .run(reason, now + recheckInMs, now, id);
  }

  /**
   * Every pending job of a kind waits: for a key or a budget that all of them need. One statement
   * instead of claiming and re-queueing each of thousands of jobs only to learn the same thing.
   */
  waitKind(kind: string, reason: string, recheckInMs: number): void {
    const now = this.#now();
    this.#db
      .prepare(`UPDATE jobs SET last_error = ?, run_after = max(run_after, ?), updated_at = ? WHERE kind = ? AND state = 'pending'`)
      .run(reason, now + recheckInMs, now, kind);
  }

  /** A failure no retry can fix (a corrupt file): failed for good, counting the attempt that found out. */
  failPermanently(id: number, reason: string): void {
    this.#db
      .prepare(`UPDATE jobs SET state = 'failed', rerun = 0, attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?`)
      .run(reason, this.#now(), id);
  }

  /** The person stopped it: failed for good with that reason, unless enqueued again. */
  cancel(id: number, reason = 'cancelled'): boolean {
    const info = this.#db
      .prepare(`UPDATE jobs SET state = 'failed', rerun = 0, last_error = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'running')`)
      .run(reason, this.#now(), id);
    return info.changes > 0;
  }

  getById(id: number): Job | undefined {
    const row = this.#db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  /** Makes the pending (waiting) jobs of a kind due now; failed ones stay failed. */
  wakePending(kind: string): void {
    this.#db.prepare(`UPDATE jobs SET run_after = ?, updated_at = ? WHERE kind = ? AND state = 'pending' AND run_after > ?`).run(this.#now(), this.#now(), kind, this.#now());
  }

  /** Makes waiting or failed jobs of a kind due now, e.g. once a model becomes available. */
  wake(kind: string): void {
    this.#db
      .prepare(`UPDATE jobs SET state = 'pending', run_after = ?, updated_at = ? WHERE kind = ? AND state IN ('pending', 'failed')`)
      .run(this.#now(), this.#now(), kind);
  }

  retry(id: number): boolean {
    const info = this.#db
      .prepare(`UPDATE jobs SET state = 'pending', attempts = 0, run_after = ?, updated_at = ? WHERE id = ? AND state = 'failed'`)
      .run(this.#now(), this.#now(), id);
    return info.changes > 0;
  }

  get(kind: string, key: string): Job | undefined {
    const row = this.#db.prepare(`SELECT * FROM jobs WHERE kind = ? AND key = ?`).get(kind, key) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  list(filter: { state?: JobState; kind?: string; limit?: number } = {}): Job[] {
    const rows = this.#db
      .prepare(
        `SELECT * FROM jobs WHERE (@state IS NULL OR state = @state) AND (@kind IS NULL OR kind = @kind)
         ORDER BY updated_at DESC, id DESC LIMIT @limit`,
      )
      .all({ state: filter.state ?? null, kind: filter.kind ?? null, limit: filter.limit ?? 100 }) as JobRow[];
    return rows.map(toJob);
  }

  counts(): Record<JobState, number> {
    const counts: Record<JobState, number> = { pending: 0, running: 0, failed: 0, done: 0 };
    for (const row of this.#db.prepare(`SELECT state, count(*) AS n FROM jobs GROUP BY state`).all() as { state: JobState; n: number }[]) {
      counts[row.state] = row.n;
    }
    return counts;
  }

  /** When the next pending job becomes due, or undefined when nothing is pending. */
  nextDue(kinds: readonly string[]): number | undefined {
    if (kinds.length === 0) return undefined;
    const marks = kinds.map(() => '?').join(',');
    const row = this.#db
      .prepare(`SELECT min(run_after) AS t FROM jobs WHERE state = 'pending' AND kind IN (${marks})`)
      .get(...kinds) as { t: number | null };
    return row.t ?? undefined;
  }

  /** Done jobs are kept a while so their history can be seen, then dropped. */
  prune(olderThanMs: number): void {
    this.#db.prepare(`DELETE FROM jobs WHERE state = 'done' AND updated_at < ?`).run(this.#now() - olderThanMs);
  }

  close(): void {
    this.#db.close();
  }
}
