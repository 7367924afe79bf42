import { createHash } from 'node:crypto';
import { ImmutableString } from '@automerge/automerge';
import type { NewCapture } from '@lva/shared';
import { CoreError } from '../../errors.ts';
import type { Job } from '../../jobs/JobQueue.ts';
import { JobFailedError, JobWaitError, type JobContext } from '../../jobs/JobRunner.ts';
import type { Chunk } from '../documents/chunking.ts';
import { enqueueAnalysis, setStep, type PipelineDeps } from './PipelineDeps.ts';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Parts wait behind captures people made by hand: a 300-page PDF should not hold up today's notes. */
const PART_ANALYSIS_PRIORITY = 150;

/**
 * A part's id: the parent's time prefix (so it lands in the parent's month shard) and a random-looking
 * tail derived from the parent and the part's position. Deterministic, so a job that crashed part-way
 * and runs again finds the parts it already stored instead of adding them twice.
 */
export function partId(parentId: string, index: number): string {
  const digest = createHash('sha256').update(`${parentId}:${index}`).digest();
  let tail = '';
  for (let i = 0; i < 16; i++) tail += CROCKFORD[digest[i]! % 32];
  return parentId.slice(0, 10) + tail;
}

interface ExtractedDocument {
  title: string;
  chunks: Chunk[];
  pages?: number;
}

/**
 * The documents agent's job: a PDF, Markdown or text capture becomes parts (captures of their own,
 * linked to it, with page numbers), each then analysed for concepts. Progress is reported per page;
 * cancelling stops it between pages. An unreadable file fails at once, with the reason on the capture.
 */
export async function runExtractJob(deps: PipelineDeps, job: Job, context: JobContext): Promise<void> {
  const { captureId } = job.payload as { captureId: string };
  const docs = await deps.docs();
  const parent = await docs.getCapture(captureId);
  if (!parent || parent.deletedAt !== undefined) return;
  const file = parent.blobs.find((b) => b.mime === 'application/pdf' || b.mime.startsWith('text/'));
  if (!file) return;
  const name = file.name ?? 'document';
  await setStep(docs, captureId, 'extract', { state: 'running' });
  let result: ExtractedDocument;
  try {
    const bytes = await deps.blob(file.sha256);
    result = await deps.agents.call<ExtractedDocument>(
      'extract',
      { document: { bytes, mime: file.mime, name } },
      { signal: context.signal, onProgress: (done, total, message) => deps.progress('document', done, total, `${name}: ${message ?? 'reading'}`) },
    );
  } catch (err) {
    const message = (err as Error).message;
    if (context.signal.aborted) {
      await setStep(docs, captureId, 'extract', { state: 'failed', reason: 'cancelled; add the file again to retry' });
      throw err;
    }
    // Cancelled, but not by the person: the worker was shutting down. That is a wait, not a failure.
    if (err instanceof CoreError && err.code === 'CANCELLED') throw new JobWaitError('the agent worker stopped while reading the document; it will be read again', 1000);
    // The worker died or the call must wait: no attempt is spent, so this is never the last one.
    if (err instanceof JobWaitError) {
      await setStep(docs, captureId, 'extract', { state: 'waiting', reason: message });
      throw err;
    }
    if ((err instanceof CoreError && (err.code === 'DOCUMENT_UNREADABLE' || err.code === 'BAD_INPUT')) || job.attempts + 1 >= job.maxAttempts) {
      await setStep(docs, captureId, 'extract', { state: 'failed', reason: message });
      throw new JobFailedError(message, { cause: err });
    }
    throw err;
  }
  const parts: NewCapture[] = result.chunks.map((chunk) => ({
    id: partId(parent.id, chunk.index),
    text: chunk.text,
    title: chunk.title,
    source: 'document',
    createdAt: parent.createdAt,
    tags: parent.tags,
    origin: { parentId: parent.id, index: chunk.index, ...(chunk.page !== undefined ? { page: chunk.page } : {}), ...(chunk.pageEnd !== undefined ? { pageEnd: chunk.pageEnd } : {}) },
  }));
  // In batches: one document change and one fsync each, with a chance to cancel in between.
  for (let i = 0; i < parts.length; i += 100) {
    if (context.signal.aborted) throw new CoreError('CANCELLED', 'cancelled');
    await deps.importCaptures(parts.slice(i, i + 100));
  }
  for (const part of parts) enqueueAnalysis(deps.queue, part.id!, PART_ANALYSIS_PRIORITY);
  const summary = `${result.title}\n${result.pages !== undefined ? `${result.pages} page${result.pages === 1 ? '' : 's'}, ` : ''}${parts.length} part${parts.length === 1 ? '' : 's'}`;
  await docs.changeCapture(captureId, (record) => {
    if (!record.edits.some((e) => e.field === 'text') && !record.text.val.trim()) record.text = new ImmutableString(summary);
    if (!record.edits.some((e) => e.field === 'title') && result.title) record.title = result.title.slice(0, 500);
    record.status.extract = { state: 'done', updatedAt: Date.now() };
  });
}
