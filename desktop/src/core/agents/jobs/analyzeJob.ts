import type { Job } from '../../jobs/JobQueue.ts';
import { JobFailedError, JobWaitError } from '../../jobs/JobRunner.ts';
import type { ExtractedConcepts } from '../analysis/extractConcepts.ts';
import { isBadOutput, recordUsage, requireClaude } from './agentCall.ts';
import { setStep, type PipelineDeps } from './PipelineDeps.ts';

/** Malformed output is retried this many times in all (the model may do better), then given up on. */
const BAD_OUTPUT_ATTEMPTS = 3;

/**
 * The analysis agent's job: concepts and relations for one capture, written onto it. The model's
 * output is validated before anything is written, so a malformed answer leaves the capture as it was.
 */
export async function runAnalyzeJob(deps: PipelineDeps, job: Job): Promise<void> {
  const { captureId } = job.payload as { captureId: string };
  const docs = await deps.docs();
  const capture = await docs.getCapture(captureId);
  if (!capture || capture.deletedAt !== undefined) return;
  if (!capture.text.trim()) return;
  let result: ExtractedConcepts;
  try {
    requireClaude(deps, 'analysis', 'Finding concepts');
    result = await deps.agents.call<ExtractedConcepts>('analyze', { settings: deps.settings, title: capture.title, text: capture.text, source: capture.source });
  } catch (err) {
    const message = (err as Error).message;
    // Not written on the capture: concepts are extras, and every capture made without a key would
    // otherwise carry (and sync) a note about it. `lva jobs` and the app's queue view show the wait.
    if (err instanceof JobWaitError) throw err;
    const last = isBadOutput(err) ? job.attempts + 1 >= BAD_OUTPUT_ATTEMPTS : job.attempts + 1 >= job.maxAttempts;
    if (last) {
      await setStep(docs, captureId, 'concepts', { state: 'failed', reason: message });
      throw new JobFailedError(message, { cause: err });
    }
    throw err;
  }
  if (result.model) recordUsage(deps, 'analysis', result, `analyze:${captureId}:${job.attempts}:${job.updatedAt}`, captureId);
  await docs.changeCapture(captureId, (record) => {
    record.concepts = result.concepts;
    if (result.relations.length > 0) record.relations = result.relations;
    else delete record.relations;
    record.status.concepts = { state: 'done', updatedAt: Date.now() };
  });
}
