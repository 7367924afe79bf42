import OpenAI, { toFile } from 'openai';
import { CoreError } from '../../errors.ts';
import type { ProviderSettings } from '../ProviderSettings.ts';
import { looksLikeWav, readWavFormat } from './wav.ts';

export interface AudioFile {
  readonly bytes: Uint8Array;
  /** e.g. audio/wav, audio/webm; the API uses the file name's extension, so it is derived from this when `name` is absent. */
  readonly mime: string;
  readonly name?: string;
}

export interface CloudTranscript {
  readonly text: string;
  /** Known only for WAV, which can be measured without a decoder. */
  readonly durationMs: number | undefined;
  readonly model: string;
}

/** Mirrors claude.ts's MissingKeyError for the OpenAI key: the work waits until a key is set. */
export class MissingOpenAIKeyError extends CoreError {
  constructor(what: string) {
    super('NOT_CONFIGURED', `${what} needs an API key: set OPENAI_API_KEY (or add it in Settings)`);
    this.name = 'MissingOpenAIKeyError';
  }
}

// The API refuses request bodies over 25 MiB; the multipart envelope and the other fields take a little of that.
export const CLOUD_UPLOAD_LIMIT_BYTES = 25 * 1024 * 1024 - 16 * 1024;

const EXTENSIONS: Record<string, string> = {
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/webm': 'webm',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'audio/mp4': 'm4a',
  'audio/m4a': 'm4a',
  'audio/x-m4a': 'm4a',
  'audio/flac': 'flac',
  'video/webm': 'webm',
  'video/mp4': 'mp4',
};

/** OpenAI's transcription API through the real SDK, with its retries (429/5xx, honouring retry-after) and timeout. */
export class CloudTranscriber {
  readonly model: string;
  readonly #client: OpenAI;

  constructor(settings: ProviderSettings) {
    if (!settings.openai.apiKey) throw new MissingOpenAIKeyError('Cloud transcription');
    this.model = settings.models.transcription;
    this.#client = new OpenAI({
      apiKey: settings.openai.apiKey,
      ...(settings.openai.baseURL ? { baseURL: settings.openai.baseURL } : {}),
      maxRetries: settings.maxRetries,
      timeout: settings.timeoutMs,
    });
  }

  async transcribe(audio: AudioFile, signal?: AbortSignal): Promise<CloudTranscript> {
    const wav = looksLikeWav(audio.bytes);
    if (audio.bytes.length > CLOUD_UPLOAD_LIMIT_BYTES) {
      const size = `${(audio.bytes.length / 1024 / 1024).toFixed(1)} MB`;
      const advice = wav
        ? 'WAV recordings of any length can be transcribed locally instead'
        : `it cannot be split into smaller uploads here because that needs an audio decoder for ${audio.mime}, which this app does not include; record shorter clips, or export it as WAV to transcribe it locally`;
      throw new CoreError('TOO_LARGE', `the recording is ${size}, over the cloud transcription limit of 25 MB; ${advice}`);
    }
    // Measured before the upload so a malformed WAV fails fast instead of after a round trip.
    const durationMs = wav ? readWavFormat(audio.bytes).durationMs : undefined;
    const name = audio.name ?? `recording.${EXTENSIONS[audio.mime.split(';')[0]?.trim().toLowerCase() ?? ''] ?? 'bin'}`;
    try {
      const result = await this.#client.audio.transcriptions.create(
        { file: await toFile(audio.bytes, name, { type: audio.mime }), model: this.model },
        signal ? { signal } : undefined,
      );
      return { text: result.text.trim(), durationMs, model: this.model };
    } catch (error) {
      throw explainFailure(error);
    }
  }
}

function explainFailure(error: unknown): CoreError {
  if (error instanceof OpenAI.AuthenticationError || error instanceof OpenAI.PermissionDeniedError) {
    // A wrong key is fixed in Settings, like a missing one, so the work waits rather than fails for good.
    return new CoreError('NOT_CONFIGURED', `the OpenAI API refused the key (${error.status}: ${error.message}); check OPENAI_API_KEY in Settings`, { cause: error });
  }
  if (error instanceof OpenAI.APIUserAbortError) return new CoreError('AGENT_FAILED', 'cloud transcription was cancelled', { cause: error });
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new CoreError('AGENT_FAILED', 'cloud transcription timed out after its retries', { cause: error });
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status === undefined ? 'no response' : `HTTP ${error.status}`;
    return new CoreError('AGENT_FAILED', `cloud transcription failed after its retries (${status}: ${error.message})`, { cause: error });
  }
  if (error instanceof CoreError) return error;
  return new CoreError('AGENT_FAILED', `cloud transcription failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
