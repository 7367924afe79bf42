import { extractConcepts } from './analysis/extractConcepts.ts';
import { claudeClient } from './claude.ts';
import { extractDocument } from './documents/extractDocument.ts';
import { isOffline, OfflineError } from './offline.ts';
import type { ProviderSettings } from './ProviderSettings.ts';
import { writeDigest, type DigestInput } from './synthesis/weeklyDigest.ts';
import { chooseTranscriber } from './transcribe/transcribe.ts';
import { describeImage } from './vision/describeImage.ts';
import { defineTasks } from './worker/tasks.ts';

/** Turns "could not connect" into a wait for the network, so no job spends an attempt on it. */
async function online<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isOffline(err)) throw new OfflineError(what);
    throw err;
  }
}

export interface TranscribeTaskInput {
  settings: ProviderSettings;
  preferLocal: boolean;
  modelDir: string;
  audio: { bytes: Uint8Array; mime: string; name?: string };
}

/**
 * The agent tasks, as the worker process runs them (and the core, in process, for tests). Inputs
 * carry the provider settings, so the worker needs no configuration of its own and a changed key
 * applies to the next call.
 */
export const tasks = defineTasks({
  async transcribe(input: TranscribeTaskInput, ctx) {
    const choose = (online: boolean) =>
      chooseTranscriber({ settings: input.settings, preferLocal: input.preferLocal, online, modelDir: input.modelDir, mime: input.audio.mime });
    const first = choose(true);
    try {
      const result = await first.transcribe(input.audio, ctx.signal);
      return { text: result.text, durationMs: result.durationMs, via: result.via, model: result.model };
    } catch (err) {
      if (first.via !== 'cloud' || !isOffline(err)) throw err;
      // The cloud is unreachable: the local model, when it can read this recording; else wait for the network.
      const fallback = choose(false);
      const result = await fallback.transcribe(input.audio, ctx.signal);
      return { text: result.text, durationMs: result.durationMs, via: result.via, model: result.model };
    }
  },

  async analyze(input: { settings: ProviderSettings; title: string; text: string; source: string }, ctx) {
    return online('concept extraction', () => extractConcepts(claudeClient(input.settings, 'concept extraction'), input.settings, input, { signal: ctx.signal }));
  },

  async describe(input: { settings: ProviderSettings; image: { bytes: Uint8Array; mime: string; name?: string } }, ctx) {
    return online('describing the image', () => describeImage(claudeClient(input.settings, 'describing images'), input.settings, input.image, { signal: ctx.signal }));
  },

  async extract(input: { document: { bytes: Uint8Array; mime: string; name?: string } }, ctx) {
    return extractDocument(input.document, {
      signal: ctx.signal,
      onProgress: (p) => ctx.progress(p.done, p.total, p.stage === 'chunking' ? 'splitting into parts' : input.document.mime === 'application/pdf' ? 'reading pages' : 'reading'),
    });
  },

  async digest(input: { settings: ProviderSettings; digest: DigestInput }, ctx) {
    return online('the weekly digest', () => writeDigest(claudeClient(input.settings, 'insights'), input.settings, input.digest, { signal: ctx.signal }));
  },
});

export type AgentTasks = typeof tasks;
export default tasks;
