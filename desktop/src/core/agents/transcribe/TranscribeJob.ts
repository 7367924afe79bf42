import { ImmutableString } from '@automerge/automerge';
import type { CaptureRecord } from '@lva/shared';
import type { Job } from '../../jobs/JobQueue.ts';
import { JobWaitError } from '../../jobs/JobRunner.ts';
import type { ProviderSettings } from '../ProviderSettings.ts';
import type { UsageLedger } from '../cost/UsageLedger.ts';
import { chooseTranscriber } from './transcribe.ts';

export const TRANSCRIBE_JOB = 'transcribe';

export interface TranscribeSettings {
  settings: ProviderSettings;
  /** Where local models live (`ORG/NAME/…`); the data dir's models/ unless set. */
  modelDir: string;
  /** Keep audio on the device whenever the local model can do the job. */
  preferLocal: boolean;
}

/** What the job needs from the core, so it can be tested and later moved to the worker process. */
export interface TranscribeDeps {
  capture(id: string): Promise<{ blobs: { sha256: string; mime: string; name?: string }[]; edits: { field: string }[] } | undefined>;
  blob(sha256: string): Promise<Uint8Array>;
  change(id: string, edit: (record: CaptureRecord) => void): Promise<boolean>;
  usage: UsageLedger;
  config: TranscribeSettings;
}

/**
 * Turns a voice capture's audio into its text. Waits (without spending attempts) when neither the
 * cloud nor the local model can run; a person's own edit of the text is never overwritten.
 */
export async function runTranscribeJob(deps: TranscribeDeps, job: Job): Promise<void> {
  const { captureId } = job.payload as { captureId: string };
  const capture = await deps.capture(captureId);
  if (!capture) return; // deleted since: nothing to do
  const audio = capture.blobs.find((b) => b.mime.startsWith('audio/'));
  if (!audio) return;
  let result;
  try {
    const transcriber = chooseTranscriber({ settings: deps.config.settings, preferLocal: deps.config.preferLocal, online: true, modelDir: deps.config.modelDir, mime: audio.mime });
    const bytes = await deps.blob(audio.sha256);
    result = await transcriber.transcribe({ bytes, mime: audio.mime, ...(audio.name ? { name: audio.name } : {}) });
  } catch (err) {
    // The capture shows why it has no text yet; the audio is kept either way.
    const waiting = err instanceof JobWaitError;
    if (waiting || job.attempts + 1 >= job.maxAttempts) {
      await deps.change(captureId, (record) => {
        record.status.transcribe = { state: waiting ? 'waiting' : 'failed', reason: (err as Error).message.slice(0, 2000), updatedAt: Date.now() };
      });
    }
    throw err;
  }
  if (result.via === 'cloud' && result.durationMs !== undefined) {
    deps.usage.record({ role: 'transcription', model: result.model, captureId, audioSeconds: result.durationMs / 1000, callId: `transcribe:${captureId}:${job.attempts}` });
  }
  await deps.change(captureId, (record) => {
    if (!record.edits.some((e) => e.field === 'text')) record.text = new ImmutableString(result.text);
    record.status.transcribe = { state: 'done', updatedAt: Date.now() };
  });
}
