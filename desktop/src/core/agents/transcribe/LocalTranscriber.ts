import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AutomaticSpeechRecognitionPipeline, ProgressInfo } from '@huggingface/transformers';
import { CoreError } from '../../errors.ts';
import type { ProgressListener } from '../../embed/Embedder.ts';
import { joinTexts, planWindows } from './chunking.ts';
import type { ChunkOptions } from './chunking.ts';
import { decodeWav, durationMs } from './wav.ts';

export type { LoadProgress, ProgressListener } from '../../embed/Embedder.ts';

export interface Transcript {
  readonly text: string;
  readonly durationMs: number;
}

export interface LocalTranscriberOptions {
  /** `<modelDir>/<org>/<name>/` holds the transformers.js files; never downloaded from here. */
  readonly modelDir: string;
  readonly model?: string;
  readonly dtype?: 'q8' | 'fp32';
  /**
   * transformers.js does not detect the language: without one it assumes English (and logs a warning per call).
   * Whisper names, e.g. 'english', 'german'.
   */
  readonly language?: string;
  readonly chunking?: ChunkOptions;
}

export const DEFAULT_LOCAL_MODEL = 'Xenova/whisper-tiny';

/** The local model's files are not where the app looked; the work waits until they are copied or downloaded there. */
export class LocalModelUnavailableError extends CoreError {
  readonly modelPath: string;
  constructor(modelPath: string, detail: string, options?: ErrorOptions) {
    super('NOT_CONFIGURED', `the local speech model is not usable: ${detail} (looked in ${modelPath})`, options);
    this.name = 'LocalModelUnavailableError';
    this.modelPath = modelPath;
  }
}

/** Files transformers.js reads for a Whisper model; listing them up front gives a clearer error than its own. */
export function missingModelFiles(modelDir: string, model = DEFAULT_LOCAL_MODEL, dtype: 'q8' | 'fp32' = 'q8'): string[] {
  const suffix = dtype === 'q8' ? '_quantized' : '';
  const needed = [
    'config.json',
    'generation_config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    `onnx/encoder_model${suffix}.onnx`,
    `onnx/decoder_model_merged${suffix}.onnx`,
  ];
  const dir = path.join(path.resolve(modelDir), model);
  return needed.filter((file) => !existsSync(path.join(dir, file)));
}

/** Whisper run on this machine through transformers.js; the pipeline loads on first use and is kept. */
export class LocalTranscriber {
  readonly model: string;
  readonly modelPath: string;
  readonly #options: LocalTranscriberOptions;
  readonly #dtype: 'q8' | 'fp32';
  #loading: Promise<AutomaticSpeechRecognitionPipeline> | undefined;

  constructor(options: LocalTranscriberOptions) {
    this.#options = options;
    this.model = options.model ?? DEFAULT_LOCAL_MODEL;
    this.#dtype = options.dtype ?? 'q8';
    this.modelPath = path.join(path.resolve(options.modelDir), this.model);
  }

  /** Loads the model if it is not loaded yet; concurrent callers share one load, and a failed load can be retried. */
  load(onProgress?: ProgressListener): Promise<AutomaticSpeechRecognitionPipeline> {
    if (!this.#loading) {
      const loading = loadInTurn(() => this.#load(safeListener(onProgress)));
      this.#loading = loading;
      loading.catch(() => {
        if (this.#loading === loading) this.#loading = undefined;
      });
    }
    return this.#loading;
  }

  /** `samples` must be mono at 16 kHz (see decodeWav); audio over 30 s is split at pauses. */
  async transcribe(samples: Float32Array): Promise<Transcript> {
    const asr = await this.load();
    const parts: { text: string; overlapsPrevious: boolean }[] = [];
    for (const window of planWindows(samples, this.#options.chunking)) {
      const output = await asr(samples.subarray(window.start, window.end), {
        language: this.#options.language ?? 'english',
        task: 'transcribe',
      });
      parts.push({ text: output.text, overlapsPrevious: window.overlapsPrevious });
    }
    return { text: joinTexts(parts), durationMs: durationMs(samples) };
  }

  async transcribeWav(bytes: Uint8Array): Promise<Transcript> {
    const { samples, durationMs: duration } = decodeWav(bytes);
    const { text } = await this.transcribe(samples);
    return { text, durationMs: duration };
  }

  async dispose(): Promise<void> {
    const loading = this.#loading;
    this.#loading = undefined;
    const asr = await loading?.catch(() => undefined);
    await asr?.dispose();
  }

  async #load(report: ProgressListener): Promise<AutomaticSpeechRecognitionPipeline> {
    const missing = missingModelFiles(this.#options.modelDir, this.model, this.#dtype);
    if (missing.length > 0) {
      throw new LocalModelUnavailableError(
        this.modelPath,
        `missing ${missing.join(', ')}; copy ${this.model} (transformers.js ONNX, ${this.#dtype}) into that folder`,
      );
    }
    report({ stage: 'load' });
    const { pipeline, env } = await import('@huggingface/transformers').catch((error: unknown) => {
      throw new LocalModelUnavailableError(this.modelPath, `the transformers.js runtime could not start (${firstLine(error)})`, { cause: error });
    });
    const modelDir = path.resolve(this.#options.modelDir);
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
    env.localModelPath = modelDir;
    let asr: AutomaticSpeechRecognitionPipeline;
    try {
      asr = await pipeline('automatic-speech-recognition', this.model, {
        dtype: this.#dtype,
        // Passed per call as well: transformers.js memoizes configs by these, not by env.localModelPath.
        cache_dir: modelDir,
        local_files_only: true,
        progress_callback: (info: ProgressInfo) => {
          if (info.status === 'progress') report({ stage: 'load', file: info.file, loaded: info.loaded, total: info.total });
        },
      });
    } catch (error) {
      throw new LocalModelUnavailableError(this.modelPath, `its files could not be loaded (${firstLine(error)}); replace them with a complete copy`, { cause: error });
    }
    report({ stage: 'ready' });
    return asr;
  }
}

// transformers.js reads its global `env` while files load, so our loads take turns rather than interleave settings.
let envTurn: Promise<unknown> = Promise.resolve();

function loadInTurn<T>(load: () => Promise<T>): Promise<T> {
  const turn = envTurn.then(load);
  envTurn = turn.catch(() => undefined);
  return turn;
}

/** Progress is advisory: a failing listener must not make the model look unavailable. */
function safeListener(onProgress: ProgressListener | undefined): ProgressListener {
  return (progress) => {
    try {
      onProgress?.(progress);
    } catch {
      // Ignored on purpose; see above.
    }
  };
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() ?? '';
}
