import { ImmutableString } from '@automerge/automerge';
import { CoreError } from '../../errors.ts';
import type { Job } from '../../jobs/JobQueue.ts';
import { JobFailedError, JobWaitError } from '../../jobs/JobRunner.ts';
import type { DescribedImage } from '../vision/describeImage.ts';
import { recordUsage, requireClaude } from './agentCall.ts';
import { setStep, type PipelineDeps } from './PipelineDeps.ts';

/** Input no retry can fix: the image is too large or not an image the model reads. */
function permanent(err: unknown): boolean {
  return err instanceof CoreError && (err.code === 'TOO_LARGE' || err.code === 'BAD_INPUT');
}

/**
 * The vision agent's job: an image capture gets a description, the text in the image, and concepts.
 * A person's own edit of the capture's text is never overwritten.
 */
export async function runDescribeJob(deps: PipelineDeps, job: Job): Promise<void> {
  const { captureId } = job.payload as { captureId: string };
  const docs = await deps.docs();
  const capture = await docs.getCapture(captureId);
  if (!capture || capture.deletedAt !== undefined) return;
  const image = capture.blobs.find((b) => b.mime.startsWith('image/'));
  if (!image) return;
  let result: DescribedImage;
  try {
    requireClaude(deps, 'vision', 'Describing images');
    const bytes = await deps.blob(image.sha256);
    result = await deps.agents.call<DescribedImage>('describe', { settings: deps.settings, image: { bytes, mime: image.mime, ...(image.name ? { name: image.name } : {}) } });
  } catch (err) {
    const message = (err as Error).message;
    if (err instanceof JobWaitError) {
      await setStep(docs, captureId, 'describe', { state: 'waiting', reason: message });
      throw err;
    }
    if (permanent(err) || job.attempts + 1 >= job.maxAttempts) {
      await setStep(docs, captureId, 'describe', { state: 'failed', reason: message });
      throw new JobFailedError(message, { cause: err });
    }
    throw err;
  }
  recordUsage(deps, 'vision', result, `describe:${captureId}:${job.attempts}:${job.updatedAt}`, captureId);
  const text = result.text.trim() ? `${result.description}\n\nText in the image:\n${result.text}` : result.description;
  await docs.changeCapture(captureId, (record) => {
    if (!record.edits.some((e) => e.field === 'text')) record.text = new ImmutableString(text);
    record.concepts = result.concepts;
    if (result.relations.length > 0) record.relations = result.relations;
    else delete record.relations;
    record.status.describe = { state: 'done', updatedAt: Date.now() };
    record.status.concepts = { state: 'done', updatedAt: Date.now() };
  });
}
