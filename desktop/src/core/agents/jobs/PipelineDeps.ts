import type { Capture, NewCapture, PipelineStep, StepStatus } from '@lva/shared';
import type { DocStore } from '../../docs/DocStore.ts';
import type { IndexedCapture, IndexFilters } from '../../index/SearchIndex.ts';
import type { JobQueue } from '../../jobs/JobQueue.ts';
import type { AgentJobDeps } from './agentCall.ts';

/** What the pipeline jobs need from the core; a narrow surface, so each job can be read on its own. */
export interface PipelineDeps extends AgentJobDeps {
  docs(): Promise<DocStore>;
  blob(sha256: string): Promise<Uint8Array>;
  queue: JobQueue;
  /** Stores captures made by a job (document parts); ids given are kept, and known ids are skipped. */
  importCaptures(inputs: readonly NewCapture[]): Promise<{ capture: Capture; created: boolean }[]>;
  list(options: { limit: number; filters: IndexFilters }): IndexedCapture[];
  progress(task: 'document', done: number, total: number, message: string): void;
  notice(message: string): void;
  modelDir: string;
  preferLocal: boolean;
}

/** Jobs that add to captures; their keys are capture ids. */
export const ANALYZE_JOB = 'analyze';
export const DESCRIBE_JOB = 'describe';
export const EXTRACT_JOB = 'extract';
export const DIGEST_JOB = 'digest';

/** Behind indexing (10) and the graph (20), ahead of the embedding backlog. */
export const ANALYZE_PRIORITY = 60;

export function enqueueAnalysis(queue: JobQueue, captureId: string, priority = ANALYZE_PRIORITY): void {
  queue.enqueue(ANALYZE_JOB, captureId, { captureId }, { priority, maxAttempts: 5 });
}

/**
 * Records a step's state on the capture, where every device (and the person) can see it. Skipped
 * when nothing changed, so a job that waits and rechecks does not write (and sync) the same status.
 */
export async function setStep(docs: DocStore, captureId: string, step: PipelineStep, status: Omit<StepStatus, 'updatedAt'>): Promise<void> {
  const current = (await docs.getCapture(captureId))?.status[step];
  if (current && current.state === status.state && current.reason === status.reason) return;
  await docs.changeCapture(captureId, (record) => {
    record.status[step] = { state: status.state, ...(status.reason ? { reason: status.reason.slice(0, 2000) } : {}), updatedAt: Date.now() };
  });
}
