import { WHISPER_SAMPLE_RATE } from './wav.ts';

export interface ChunkOptions {
  readonly sampleRate?: number;
  /** Whisper's encoder sees exactly 30 s; anything longer in one call is silently cut off. */
  readonly maxSeconds?: number;
  /** Only used where no pause is found and a cut must fall mid-speech. */
  readonly overlapSeconds?: number;
  /** How far back from a window's end to look for a pause to cut at. */
  readonly searchSeconds?: number;
}

/** A window of samples, [start, end). */
export interface AudioWindow {
  readonly start: number;
  readonly end: number;
  /** True when the window repeats the end of the previous one, so their texts may share words. */
  readonly overlapsPrevious: boolean;
}

const FRAME_SECONDS = 0.02;
// Long enough to tell a pause between words from the closure of a plosive.
const PAUSE_SECONDS = 0.3;
// A pause is 20 dB below the loud parts of the recording, whatever its recording level.
const PAUSE_RELATIVE_LEVEL = 0.1;

/**
 * Splits long audio into windows of at most `maxSeconds`, cutting at the quietest pause near each window's end.
 *
 * Measured on jfk.wav repeated 4× (44 s) with whisper-tiny: cutting at pauses transcribed all four sentences
 * exactly, while fixed 30 s windows (ours or transformers.js's own chunk_length_s/stride_length_s merging)
 * garbled or duplicated the sentence that straddled the cut.
 */
export function planWindows(samples: Float32Array, options: ChunkOptions = {}): AudioWindow[] {
  const rate = options.sampleRate ?? WHISPER_SAMPLE_RATE;
  const max = Math.floor((options.maxSeconds ?? 30) * rate);
  const overlap = Math.floor((options.overlapSeconds ?? 1) * rate);
  const search = Math.floor((options.searchSeconds ?? 10) * rate);
  if (samples.length <= max) return [{ start: 0, end: samples.length, overlapsPrevious: false }];

  const energy = frameEnergy(samples, Math.max(1, Math.round(FRAME_SECONDS * rate)));
  const pauseFrames = Math.max(1, Math.round(PAUSE_SECONDS / FRAME_SECONDS));
  const threshold = PAUSE_RELATIVE_LEVEL ** 2 * percentile(energy.frames, 0.9);

  const windows: AudioWindow[] = [];
  let start = 0;
  let overlapsPrevious = false;
  while (samples.length - start > max) {
    const pause = quietestStretch(energy, start + max - search, start + max, pauseFrames);
    if (pause && pause.meanSquare <= threshold) {
      windows.push({ start, end: pause.centre, overlapsPrevious });
      start = pause.centre;
      overlapsPrevious = false;
    } else {
      windows.push({ start, end: start + max, overlapsPrevious });
      start = start + max - overlap;
      overlapsPrevious = true;
    }
  }
  windows.push({ start, end: samples.length, overlapsPrevious });
  return windows;
}

/**
 * Joins window texts. Where windows overlapped, the longest run of words that ends one text and starts the next
 * is kept once; words are compared without case or punctuation since Whisper re-punctuates a cut sentence.
 */
export function joinTexts(parts: readonly { readonly text: string; readonly overlapsPrevious: boolean }[]): string {
  const words: string[] = [];
  for (const part of parts) {
    let next = part.text.trim().split(/\s+/).filter(Boolean);
    if (part.overlapsPrevious) {
      const repeated = sharedBoundary(words, next);
      next = next.slice(repeated);
    }
    words.push(...next);
  }
  return words.join(' ');
}

// A 1 s overlap holds at most a few words; a longer match would be a coincidence, not the overlap.
const MAX_OVERLAP_WORDS = 8;

function sharedBoundary(before: readonly string[], after: readonly string[]): number {
  const norm = (w: string): string => w.toLowerCase().replace(/[^\p{L}\p{N}']/gu, '');
  for (let k = Math.min(MAX_OVERLAP_WORDS, before.length, after.length); k > 0; k--) {
    let same = true;
    for (let i = 0; i < k && same; i++) same = norm(before[before.length - k + i] ?? '') === norm(after[i] ?? '');
    if (same) return k;
  }
  return 0;
}

interface FrameEnergy {
  readonly frameLength: number;
  /** Mean square of each frame. */
  readonly frames: Float64Array;
  /** Prefix sums of `frames`, for the mean over any run of frames in O(1). */
  readonly prefix: Float64Array;
}

function frameEnergy(samples: Float32Array, frameLength: number): FrameEnergy {
  const count = Math.ceil(samples.length / frameLength);
  const frames = new Float64Array(count);
  const prefix = new Float64Array(count + 1);
  for (let f = 0; f < count; f++) {
    const from = f * frameLength;
    const to = Math.min(samples.length, from + frameLength);
    let sum = 0;
    for (let i = from; i < to; i++) sum += (samples[i] ?? 0) ** 2;
    frames[f] = sum / (to - from);
    prefix[f + 1] = (prefix[f] ?? 0) + (frames[f] ?? 0);
  }
  return { frameLength, frames, prefix };
}

/** The run of `length` frames inside [from, to) samples with the least energy; later runs win ties. */
function quietestStretch(energy: FrameEnergy, from: number, to: number, length: number): { centre: number; meanSquare: number } | undefined {
  const first = Math.ceil(from / energy.frameLength);
  const last = Math.floor(to / energy.frameLength) - length;
  let best: { centre: number; meanSquare: number } | undefined;
  for (let f = first; f <= last; f++) {
    const meanSquare = ((energy.prefix[f + length] ?? 0) - (energy.prefix[f] ?? 0)) / length;
    if (!best || meanSquare <= best.meanSquare) best = { centre: Math.round((f + length / 2) * energy.frameLength), meanSquare };
  }
  return best;
}

function percentile(values: Float64Array, p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}
