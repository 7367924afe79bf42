import type { Insight } from '@lva/shared';
import type { Job } from '../../jobs/JobQueue.ts';
import { JobFailedError, JobWaitError } from '../../jobs/JobRunner.ts';
import { Insights } from '../synthesis/Insights.ts';
import { lastFullWeek, parseWeek, weekOf } from '../synthesis/weeks.ts';
import type { DigestCapture, WrittenDigest } from '../synthesis/weeklyDigest.ts';
import { isBadOutput, recordUsage, requireClaude } from './agentCall.ts';
import { DIGEST_JOB, type PipelineDeps } from './PipelineDeps.ts';

/** Captures read for a week's digest; the agent itself picks at most 120 of them to send. */
const WEEK_CAPTURE_LIMIT = 2000;

/**
 * Queues the scheduled digests: last week's, if it has none yet (the app was closed when it was due),
 * and this week's, due an hour after the week ends. Both keyed by week, so calling this on every
 * start adds nothing twice.
 */
export function scheduleDigests(deps: Pick<PipelineDeps, 'queue'>, now = Date.now()): void {
  // A digest made on demand (Core.digestNow) shares the week's job; once done it is not the scheduled one.
  const onDemand = (job: Job): boolean => job.state === 'done' && (job.payload as { force?: boolean } | null)?.force === true;
  const last = lastFullWeek(now);
  const existing = deps.queue.get(DIGEST_JOB, last.label);
  if (!existing || existing.state === 'failed' || onDemand(existing)) deps.queue.enqueue(DIGEST_JOB, last.label, { week: last.label }, { priority: 150, maxAttempts: 5 });
  const current = weekOf(now);
  const scheduled = deps.queue.get(DIGEST_JOB, current.label);
  if (!scheduled || onDemand(scheduled)) deps.queue.enqueue(DIGEST_JOB, current.label, { week: current.label }, { priority: 150, maxAttempts: 5, delayMs: current.to - now + 3_600_000 });
}

/**
 * The synthesis agent's job: the weekly digest of what was learned, stored in the journal and citing
 * captures. A digest made on demand before the week ended is replaced by the scheduled one.
 */
export async function runDigestJob(deps: PipelineDeps, job: Job): Promise<Insight | undefined> {
  const { week: label, force } = job.payload as { week: string; force?: boolean };
  const week = parseWeek(label);
  if (!week) throw new JobFailedError(`"${label}" is not a week like 2026-W47`);
  const insights = new Insights(await deps.docs());
  const id = `weekly:${week.label}`;
  const existing = await insights.get(id);
  // Complete already: made after the week ended. On demand (force) it is made again anyway.
  if (existing && existing.createdAt >= week.to && !force) return existing;

  const docs = await deps.docs();
  const captures: DigestCapture[] = [];
  for (const row of deps.list({ limit: WEEK_CAPTURE_LIMIT, filters: { from: week.from, to: week.to } })) {
    const capture = await docs.getCapture(row.id);
    if (!capture || capture.deletedAt !== undefined) continue;
    captures.push({ id: capture.id, title: capture.title, text: capture.text, createdAt: capture.createdAt, concepts: capture.concepts.map((c) => c.name) });
  }
  let result: WrittenDigest;
  try {
    if (captures.length > 0) requireClaude(deps, 'synthesis', 'The weekly digest');
    result = await deps.agents.call<WrittenDigest>('digest', { settings: deps.settings, digest: { period: { from: week.from, to: week.to, label: week.label }, captures } });
  } catch (err) {
    if (err instanceof JobWaitError) throw err;
    if (isBadOutput(err) && job.attempts + 1 >= 3) throw new JobFailedError((err as Error).message, { cause: err });
    throw err;
  }
  if (result.model) recordUsage(deps, 'synthesis', result, `digest:${week.label}:${job.attempts}:${job.updatedAt}`);
  for (const id of result.dropped) deps.notice(`the weekly digest cited ${id}, which was not among that week's captures; the citation was left out`);
  const insight: Insight = {
    id,
    kind: 'weekly',
    period: { from: week.from, to: week.to, label: week.label },
    createdAt: Date.now(),
    deviceId: docs.device.deviceId,
    model: result.model || 'none',
    ...result.digest,
  };
  await insights.put(insight);
  return insight;
}
