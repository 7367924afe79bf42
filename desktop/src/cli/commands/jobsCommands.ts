import { partId } from '../../core/agents/jobs/extractJob.ts';
import type { Core } from '../../core/Core.ts';
import { CoreError } from '../../core/errors.ts';
import type { Job, JobState } from '../../core/jobs/JobQueue.ts';
import { UsageError } from '../CliError.ts';
import { parse, parseLimit, print, withCore } from '../context.ts';

const STATES: readonly JobState[] = ['pending', 'running', 'failed', 'done'];

/** The jobs keyed by a capture's id, in the order the pipeline runs them. */
const CAPTURE_JOB_KINDS = ['transcribe', 'describe', 'extract', 'analyze'] as const;

/** What a person calls each kind's work, for lines like "concepts wait: …". */
const STEP_NAMES: Record<string, string> = {
  transcribe: 'transcript',
  describe: 'description',
  extract: 'extraction',
  analyze: 'concepts',
  digest: 'digest',
  'index-shard': 'index',
  'graph-shard': 'graph',
  embed: 'embeddings',
  'check-index': 'index check',
};

export function stepName(kind: string): string {
  return STEP_NAMES[kind] ?? kind;
}

/**
 * A pending job with a reason waits for something (a key, the network, a backoff after a failure);
 * one without is simply due. Its due time alone does not tell: opening the core makes every waiting
 * agent job due at once, so that a key set since is noticed, and the reason stays until it runs.
 */
export function isWaiting(job: Job): boolean {
  return job.state === 'pending' && job.lastError !== null;
}

/** "waits" for a job that spent no attempt (a missing key), "retries" for one that failed and backs off. */
export function outcomeWord(job: Job): string {
  if (job.state === 'failed') return 'failed';
  return job.attempts > 0 ? 'will retry' : 'wait';
}

export function relative(ms: number, now = Date.now()): string {
  const delta = ms - now;
  const abs = Math.abs(delta);
  if (abs < 1000) return 'now';
  const amount = abs < 60_000 ? `${Math.round(abs / 1000)} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`;
  return delta > 0 ? `in ${amount}` : `${amount} ago`;
}

export interface JobRow {
  id: number;
  kind: string;
  key: string;
  state: JobState;
  waiting: boolean;
  attempts: number;
  maxAttempts: number;
  runAfter: string;
  updatedAt: string;
  lastError: string | null;
}

function row(job: Job): JobRow {
  return {
    id: job.id,
    kind: job.kind,
    key: job.key,
    state: job.state,
    waiting: isWaiting(job),
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    runAfter: new Date(job.runAfter).toISOString(),
    updatedAt: new Date(job.updatedAt).toISOString(),
    lastError: job.lastError,
  };
}

function line(job: Job, now: number): string {
  // A waiting job that is due again is checked by the next command that runs jobs.
  const when = job.state === 'pending' ? (job.runAfter > now ? relative(job.runAfter, now) : isWaiting(job) ? 'next run' : 'due') : job.state === 'running' ? 'running' : relative(job.updatedAt, now);
  const cells = [String(job.id).padStart(5), job.kind.padEnd(11), job.key.padEnd(26), `${job.attempts}/${job.maxAttempts}`.padEnd(5), when.padEnd(11)];
  return `${cells.join('  ')}${job.lastError ? `  ${job.lastError}` : ''}`.trimEnd();
}

/** The capture's own pipeline jobs that did not finish: what `capture` reports after draining. */
export function unfinishedJobsOf(core: Core, captureId: string): Job[] {
  const jobs: Job[] = [];
  for (const kind of CAPTURE_JOB_KINDS) {
    const job = core.queue.get(kind, captureId);
    if (job && (job.state === 'failed' || (job.state === 'pending' && job.lastError !== null))) jobs.push(job);
  }
  return jobs;
}

/** Many parts usually wait for one reason (a key): said once per reason, with how many parts. */
export interface PartJobs {
  kind: string;
  outcome: string;
  reason: string;
  parts: number;
  of: number;
}

/**
 * A document's parts' unfinished analysis. Part ids follow from the parent's id and the part's
 * position, and every part gets an analysis job, so the jobs are found by key without a scan.
 */
export function unfinishedPartJobsOf(core: Core, captureId: string): PartJobs[] {
  const groups = new Map<string, PartJobs>();
  let total = 0;
  for (let i = 0; ; i++) {
    const job = core.queue.get('analyze', partId(captureId, i));
    if (!job) break;
    total++;
    if (job.state !== 'failed' && !(job.state === 'pending' && job.lastError !== null)) continue;
    const outcome = outcomeWord(job);
    const reason = job.lastError ?? 'no reason given';
    const group = groups.get(`${outcome}\n${reason}`) ?? { kind: job.kind, outcome, reason, parts: 0, of: 0 };
    group.parts++;
    groups.set(`${outcome}\n${reason}`, group);
  }
  return [...groups.values()].map((g) => ({ ...g, of: total }));
}

/** `lva: concepts wait: Finding concepts needs an Anthropic API key: …` */
export function reportUnfinished(jobs: readonly Job[], parts: readonly PartJobs[] = []): void {
  for (const job of jobs) process.stderr.write(`lva: ${stepName(job.kind)} ${outcomeWord(job)}: ${job.lastError ?? 'no reason given'}\n`);
  for (const g of parts) process.stderr.write(`lva: ${stepName(g.kind)} ${g.outcome} for ${g.parts} of ${g.of} part${g.of === 1 ? '' : 's'}: ${g.reason}\n`);
}

function parseState(value: string | undefined): JobState | undefined {
  if (value === undefined) return undefined;
  if (!(STATES as readonly string[]).includes(value)) throw new UsageError(`--state must be one of ${STATES.join(', ')} (got "${value}")`);
  return value as JobState;
}

function parseId(raw: string | undefined, usage: string): number {
  const id = Number(raw);
  if (raw === undefined || !Number.isInteger(id) || id < 1) throw new UsageError(usage);
  return id;
}

/** `lva jobs [run|retry ID|cancel ID]`. */
export async function jobsCommand(args: string[]): Promise<number | void> {
  const [sub, ...rest] = args;
  if (sub === 'run') return runJobs(rest);
  if (sub === 'retry') return retryJob(rest);
  if (sub === 'cancel') return cancelJob(rest);
  return listJobs(args);
}

async function listJobs(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { state: { type: 'string' }, kind: { type: 'string' }, limit: { type: 'string' } });
  if (positionals.length) throw new UsageError(`unknown jobs command "${positionals[0]}"; use lva jobs [--state S] [--kind K], jobs run, jobs retry ID or jobs cancel ID`);
  const state = parseState(values.state);
  const limit = parseLimit(values.limit, 100);
  await withCore(values, (core) => {
    const now = Date.now();
    const filter = { ...(values.kind ? { kind: values.kind } : {}), limit };
    // Done jobs pile up (every index and embedding run): listed only when asked for.
    const jobs = (state ? [state] : STATES.filter((s) => s !== 'done'))
      .flatMap((s) => core.jobs({ ...filter, state: s }))
      .sort((a, b) => b.updatedAt - a.updatedAt || b.id - a.id)
      .slice(0, limit);
    const counts = core.queue.counts();
    const waiting = jobs.filter((j) => isWaiting(j));
    const due = jobs.filter((j) => j.state === 'pending' && !isWaiting(j));
    print(values.json, { counts, jobs: jobs.map((j) => row(j)) }, () => {
      const pendingWaiting = core.jobs({ state: 'pending', limit: 10_000 }).filter((j) => isWaiting(j)).length;
      const lines = [
        `jobs: ${counts.pending} pending (${pendingWaiting} waiting, ${counts.pending - pendingWaiting} due), ${counts.running} running, ${counts.failed} failed, ${counts.done} done`,
      ];
      const group = (title: string, list: Job[]): void => {
        if (list.length) lines.push('', `${title}:`, ...list.map((j) => line(j, now)));
      };
      group('waiting', waiting);
      group('due', due);
      group('running', jobs.filter((j) => j.state === 'running'));
      group('failed', jobs.filter((j) => j.state === 'failed'));
      group('done', jobs.filter((j) => j.state === 'done'));
      if (jobs.length === 0) lines.push(state || values.kind ? 'no such jobs' : 'nothing queued');
      return lines.join('\n');
    });
    return Promise.resolve();
  }, { readOnly: true });
}

/**
 * Runs the queue until nothing is due, counting what happened. Waiting jobs are made due first: a key
 * set since, or the network back, is then noticed now instead of at the job's next check.
 */
async function drainNow(core: Core, kind: string | undefined): Promise<{ done: number; failed: Job[] }> {
  let done = 0;
  const failed: Job[] = [];
  const off = core.on((e) => {
    if (e.type !== 'job') return;
    if (e.event.outcome === 'done') done++;
    else if (e.event.outcome === 'failed') failed.push(e.event.job);
  });
  try {
    if (kind) {
      core.queue.wakePending(kind);
      await core.runner.drain([kind]);
    } else {
      core.wakeAgents();
      for (const k of new Set(core.jobs({ state: 'pending', limit: 10_000 }).map((j) => j.kind))) core.queue.wakePending(k);
      await core.drain();
    }
  } finally {
    off();
  }
  return { done, failed: failed.map((j) => core.queue.getById(j.id) ?? j) };
}

async function runJobs(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { kind: { type: 'string' } });
  if (positionals.length) throw new UsageError('usage: lva jobs run [--kind K]');
  return withCore(values, async (core) => {
    const { done, failed } = await drainNow(core, values.kind);
    const now = Date.now();
    const waiting = core.jobs({ state: 'pending', limit: 10_000, ...(values.kind ? { kind: values.kind } : {}) }).filter((j) => j.lastError !== null);
    const earlier = core.queue.counts().failed - failed.filter((j) => j.state === 'failed').length;
    print(values.json, { ran: done, waiting: waiting.map((j) => row(j)), failed: failed.map((j) => row(j)) }, () => {
      const lines = [`ran ${done} job${done === 1 ? '' : 's'}; ${waiting.length} waiting, ${failed.length} failed`];
      if (waiting.length) lines.push('', 'waiting:', ...waiting.map((j) => line(j, now)));
      if (failed.length) lines.push('', 'failed:', ...failed.map((j) => line(j, now)));
      if (earlier > 0) lines.push('', `${earlier} job${earlier === 1 ? '' : 's'} failed before this run: lva jobs --state failed`);
      return lines.join('\n');
    });
    // Waiting is not an error (a key may simply not be set); a job that failed in this run is.
    return failed.length > 0 ? 1 : 0;
  });
}

async function retryJob(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { 'no-wait': { type: 'boolean', default: false } });
  const id = parseId(positionals[0], 'usage: lva jobs retry ID [--no-wait]');
  return withCore(values, async (core) => {
    const before = core.queue.getById(id);
    if (!before) throw new CoreError('NOT_FOUND', `no job ${id}; see lva jobs`);
    if (!core.retryJob(id)) throw new CoreError('BAD_INPUT', `job ${id} is ${before.state}, not failed; only failed jobs can be retried`);
    if (!values['no-wait']) await core.drain();
    const job = core.queue.getById(id) ?? before;
    print(values.json, row(job), () => {
      if (job.state === 'done') return `job ${id} (${job.kind} ${job.key}) done`;
      if (job.state === 'pending' && job.lastError === null) return `job ${id} (${job.kind} ${job.key}) queued`;
      return `job ${id} (${job.kind} ${job.key}) ${job.state === 'failed' ? 'failed again' : isWaiting(job) ? (job.attempts > 0 ? 'will retry' : 'waits') : job.state}: ${job.lastError}`;
    });
    return job.state === 'failed' ? 1 : 0;
  });
}

async function cancelJob(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  const id = parseId(positionals[0], 'usage: lva jobs cancel ID');
  await withCore(values, (core) => {
    const job = core.queue.getById(id);
    if (!job) throw new CoreError('NOT_FOUND', `no job ${id}; see lva jobs`);
    if (!core.cancelJob(id)) throw new CoreError('BAD_INPUT', `job ${id} is ${job.state}; only pending or running jobs can be cancelled`);
    print(values.json, row(core.queue.getById(id) ?? job), () => `cancelled job ${id} (${job.kind} ${job.key})`);
    return Promise.resolve();
  });
}
