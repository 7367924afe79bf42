import { ImmutableString } from '@automerge/automerge';
import type { Job } from '../../jobs/JobQueue.ts';
import { JobWaitError } from '../../jobs/JobRunner.ts';
import type { AudioFile } from './CloudTranscriber.ts';
import { enqueueAnalysis, setStep, type PipelineDeps } from '../jobs/PipelineDeps.ts';

export const TRANSCRIBE_JOB = 'transcribe';

interface Transcribed {
  text: string;
  durationMs: number | undefined;
  via: 'local' | 'cloud';
  model: string;
}

/**
 * Turns a voice capture's audio into its text, in the agent worker (the local model stays loaded
 * there between jobs). Waits, without spending attempts, when neither the cloud nor the local model
 * can run; a person's own edit of the text is never overwritten. The audio is kept either way, and
 * a failure keeps its reason on the capture. Concepts follow as their own job.
 */
export async function runTranscribeJob(deps: PipelineDeps, job: Job): Promise<void> {
  const { captureId } = job.payload as { captureId: string };
  const docs = await deps.docs();
  const capture = await docs.getCapture(captureId);
  if (!capture || capture.deletedAt !== undefined) return;
  const audio = capture.blobs.find((b) => b.mime.startsWith('audio/'));
  if (!audio) return;
  let result: Transcribed;
  try {
    const bytes = await deps.blob(audio.sha256);
    const file: AudioFile = { bytes, mime: audio.mime, ...(audio.name ? { name: audio.name } : {}) };
    result = await deps.agents.call<Transcribed>('transcribe', { settings: deps.settings, preferLocal: deps.preferLocal, modelDir: deps.modelDir, audio: file });
  } catch (err) {
    const waiting = err instanceof JobWaitError;
    if (waiting || job.attempts + 1 >= job.maxAttempts) await setStep(docs, captureId, 'transcribe', { state: waiting ? 'waiting' : 'failed', reason: (err as Error).message });
    throw err;
  }
  if (result.via === 'cloud' && result.durationMs !== undefined) {
    deps.usage.record({ role: 'transcription', model: result.model, captureId, audioSeconds: result.durationMs / 1000, callId: `transcribe:${captureId}:${job.attempts}:${job.updatedAt}` });
  }
  await docs.changeCapture(captureId, (record) => {
    if (!record.edits.some((e) => e.field === 'text')) record.text = new ImmutableString(result.text);
    record.status.transcribe = { state: 'done', updatedAt: Date.now() };
  });
  if (result.text.trim()) enqueueAnalysis(deps.queue, captureId);
}
