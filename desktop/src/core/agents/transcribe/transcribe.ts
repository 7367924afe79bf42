import path from 'node:path';
import OpenAI from 'openai';
import { CoreError } from '../../errors.ts';
import { JobWaitError } from '../../jobs/JobRunner.ts';
import type { ProviderSettings } from '../ProviderSettings.ts';
import { CloudTranscriber } from './CloudTranscriber.ts';
import type { AudioFile } from './CloudTranscriber.ts';
import { DEFAULT_LOCAL_MODEL, LocalModelUnavailableError, LocalTranscriber, missingModelFiles } from './LocalTranscriber.ts';

export type { AudioFile } from './CloudTranscriber.ts';

export type TranscriptionRoute = 'local' | 'cloud';

/** What a waiting transcription needs before it can run; UIs can phrase their prompt by it. */
export type TranscriptionBlocker = 'network' | 'api-key' | 'local-model';

/**
 * Transcription cannot run yet but will once something changes (connection, key, model); the job runner keeps the
 * job waiting without spending an attempt. The message says what a person can do.
 */
export class TranscriptionMustWait extends JobWaitError {
  readonly waitingFor: TranscriptionBlocker;
  constructor(waitingFor: TranscriptionBlocker, reason: string, recheckInMs?: number) {
    super(reason, recheckInMs);
    this.name = 'TranscriptionMustWait';
    this.waitingFor = waitingFor;
  }
}

export interface TranscriptionResult {
  readonly text: string;
  /** Undefined for compressed formats sent to the cloud, which cannot be measured without a decoder. */
  readonly durationMs: number | undefined;
  readonly via: TranscriptionRoute;
  readonly model: string;
}

export interface ChosenTranscriber {
  readonly via: TranscriptionRoute;
  readonly model: string;
  transcribe(audio: AudioFile, signal?: AbortSignal): Promise<TranscriptionResult>;
}

export interface ChooseTranscriberOptions {
  readonly settings: ProviderSettings;
  /** The user would rather keep audio on the device; honoured whenever the local model can do the job. */
  readonly preferLocal: boolean;
  readonly online: boolean;
  readonly modelDir: string;
  /** Of the recording to transcribe; only WAV can be decoded locally. */
  readonly mime: string;
  readonly localModel?: string;
}

const WAV_TYPES = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave']);

export function isWavMime(mime: string): boolean {
  return WAV_TYPES.has(mime.split(';')[0]?.trim().toLowerCase() ?? '');
}

/**
 * Local when the user prefers it or is offline, the cloud otherwise when a key is set, local again when online
 * without a key; when neither can run, throws TranscriptionMustWait naming what is missing.
 * A user who prefers local but records in a format only the cloud can read gets the cloud when it is available.
 */
export function chooseTranscriber(options: ChooseTranscriberOptions): ChosenTranscriber {
  const { settings, preferLocal, online, mime } = options;
  const model = options.localModel ?? DEFAULT_LOCAL_MODEL;
  const wav = isWavMime(mime);
  const missing = missingModelFiles(options.modelDir, model);
  const localPossible = wav && missing.length === 0;
  const cloudPossible = online && Boolean(settings.openai.apiKey);

  if (localPossible && (preferLocal || !online)) return local(options.modelDir, model);
  if (cloudPossible) return cloud(settings);
  if (localPossible) return local(options.modelDir, model);

  const modelPath = path.join(path.resolve(options.modelDir), model);
  const noDecoder = `this recording is ${mime}, which needs the cloud or a WAV to be transcribed (there is no decoder for it on this device)`;
  const noModel = `the local speech model is missing from ${modelPath} (copy ${model} there to transcribe WAV recordings offline)`;
  if (!online) {
    throw new TranscriptionMustWait('network', `Offline: ${wav ? noModel : noDecoder}. It will be transcribed once you are back online.`);
  }
  throw new TranscriptionMustWait(
    'api-key',
    `Cloud transcription needs an OpenAI API key: set OPENAI_API_KEY or add it in Settings. ${wav ? `Alternatively, ${noModel}` : `Local transcription is not possible: ${noDecoder}`}.`,
  );
}

// One pipeline per model folder: loading whisper takes seconds and tens of MB, so every choice shares it.
const localTranscribers = new Map<string, LocalTranscriber>();

function local(modelDir: string, model: string): ChosenTranscriber {
  const key = JSON.stringify([path.resolve(modelDir), model]);
  let transcriber = localTranscribers.get(key);
  if (!transcriber) {
    transcriber = new LocalTranscriber({ modelDir, model });
    localTranscribers.set(key, transcriber);
  }
  const chosen = transcriber;
  return {
    via: 'local',
    model,
    async transcribe(audio) {
      if (!isWavMime(audio.mime)) throw new CoreError('BAD_INPUT', `local transcription reads WAV only, not ${audio.mime}`);
      try {
        const { text, durationMs } = await chosen.transcribeWav(audio.bytes);
        return { text, durationMs, via: 'local', model };
      } catch (error) {
        if (error instanceof LocalModelUnavailableError) throw new TranscriptionMustWait('local-model', error.message);
        throw error;
      }
    },
  };
}

function cloud(settings: ProviderSettings): ChosenTranscriber {
  const transcriber = new CloudTranscriber(settings);
  return {
    via: 'cloud',
    model: transcriber.model,
    async transcribe(audio, signal) {
      try {
        const { text, durationMs, model } = await transcriber.transcribe(audio, signal);
        return { text, durationMs, via: 'cloud', model };
      } catch (error) {
        throw asWait(error) ?? error;
      }
    },
  };
}

/** Failures that fix themselves (the connection returns) or that a person fixes (the key) wait instead of failing. */
function asWait(error: unknown): TranscriptionMustWait | undefined {
  if (!(error instanceof CoreError)) return undefined;
  if (error.code === 'NOT_CONFIGURED') return new TranscriptionMustWait('api-key', error.message);
  const cause = error.cause;
  if (cause instanceof OpenAI.APIConnectionError && !(cause instanceof OpenAI.APIConnectionTimeoutError) && !(cause instanceof OpenAI.APIUserAbortError)) {
    return new TranscriptionMustWait('network', `Could not reach the transcription service (${cause.message}); it will be retried when the connection is back.`);
  }
  return undefined;
}
