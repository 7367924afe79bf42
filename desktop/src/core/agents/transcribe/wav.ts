import { CoreError } from '../../errors.ts';

/** Whisper was trained on 16 kHz mono; every local transcription path converts to this. */
export const WHISPER_SAMPLE_RATE = 16_000;

export type WavEncoding = 'pcm-int' | 'float';

export interface WavFormat {
  readonly encoding: WavEncoding;
  readonly bitsPerSample: number;
  readonly channels: number;
  readonly sampleRate: number;
  /** Samples per channel. */
  readonly frames: number;
  readonly durationMs: number;
}

export interface DecodedWav {
  /** Mono, WHISPER_SAMPLE_RATE, nominally in [-1, 1]. */
  readonly samples: Float32Array;
  readonly durationMs: number;
  /** What the file held before conversion. */
  readonly source: WavFormat;
}

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;
// Writers that stream to a pipe cannot seek back to fill in the size, so they leave this placeholder.
const UNKNOWN_SIZE = 0xffffffff;

export function durationMs(samples: ArrayLike<number>, sampleRate = WHISPER_SAMPLE_RATE): number {
  return Math.round((samples.length / sampleRate) * 1000);
}

/** A cheap check on the magic bytes, for routing before a full parse. */
export function looksLikeWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WAVE';
}

export function readWavFormat(bytes: Uint8Array): WavFormat {
  return locate(bytes).format;
}

/** Parses a RIFF/WAVE file and converts it to what Whisper expects (16 kHz mono float). */
export function decodeWav(bytes: Uint8Array): DecodedWav {
  const { format, dataOffset } = locate(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataOffset, format.frames * format.channels * (format.bitsPerSample / 8));
  const mono = downmix(view, format);
  const samples = resample(mono, format.sampleRate, WHISPER_SAMPLE_RATE);
  return { samples, durationMs: format.durationMs, source: format };
}

interface Located {
  readonly format: WavFormat;
  readonly dataOffset: number;
}

function locate(bytes: Uint8Array): Located {
  if (!looksLikeWav(bytes)) {
    throw new CoreError('BAD_INPUT', `not a WAV file (expected "RIFF....WAVE" at the start, found ${JSON.stringify(ascii(bytes, 0, Math.min(12, bytes.length)))})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: Omit<WavFormat, 'frames' | 'durationMs'> | undefined;
  let blockAlign = 0;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = ascii(bytes, offset, 4);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > bytes.length) throw new CoreError('BAD_INPUT', `WAV "fmt " chunk is truncated (${size} bytes declared, ${bytes.length - body} present)`);
      ({ fmt, blockAlign } = parseFmt(view, body, size));
    } else if (id === 'data') {
      if (!fmt) throw new CoreError('BAD_INPUT', 'WAV has its "data" chunk before its "fmt " chunk, so its encoding is unknown');
      const available = bytes.length - body;
      const declared = size === UNKNOWN_SIZE ? available - (available % blockAlign) : size;
      if (declared > available) {
        throw new CoreError('BAD_INPUT', `WAV audio is truncated: the header declares ${declared} bytes of samples but only ${available} follow`);
      }
      if (declared % blockAlign !== 0) {
        throw new CoreError('BAD_INPUT', `WAV audio is truncated mid-sample: ${declared} bytes is not a whole number of ${blockAlign}-byte frames`);
      }
      const frames = declared / blockAlign;
      return { format: { ...fmt, frames, durationMs: durationMs({ length: frames }, fmt.sampleRate) }, dataOffset: body };
    }
    // RIFF pads odd-sized chunks to an even length.
    offset = body + size + (size % 2);
  }
  throw new CoreError('BAD_INPUT', fmt ? 'WAV has no "data" chunk (the file is truncated or holds no audio)' : 'WAV has no "fmt " chunk (the file is truncated)');
}

function parseFmt(view: DataView, at: number, size: number): { fmt: Omit<WavFormat, 'frames' | 'durationMs'>; blockAlign: number } {
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    // The real format is the first two bytes of the SubFormat GUID, 24 bytes into the extension.
    if (size < 40) throw new CoreError('BAD_INPUT', 'WAV uses WAVE_FORMAT_EXTENSIBLE but its "fmt " chunk is too short to say which encoding');
    tag = view.getUint16(at + 24, true);
  }
  const encoding: WavEncoding | undefined = tag === FORMAT_PCM ? 'pcm-int' : tag === FORMAT_FLOAT ? 'float' : undefined;
  const supported = encoding === 'pcm-int' ? [8, 16, 24, 32] : encoding === 'float' ? [32, 64] : [];
  if (!encoding || !supported.includes(bitsPerSample)) {
    const what = encoding ? `${bitsPerSample}-bit ${encoding === 'float' ? 'float' : 'integer PCM'}` : `format tag 0x${tag.toString(16).padStart(4, '0')}${tag === 0x11 ? ' (IMA ADPCM)' : tag === 0x55 ? ' (MP3)' : tag === 0x06 ? ' (A-law)' : tag === 0x07 ? ' (µ-law)' : ''}`;
    throw new CoreError('BAD_INPUT', `unsupported WAV encoding: ${what}; only 8/16/24/32-bit integer PCM and 32/64-bit float can be read`);
  }
  if (channels === 0 || sampleRate === 0) throw new CoreError('BAD_INPUT', `WAV header is invalid: ${channels} channels at ${sampleRate} Hz`);
  if (blockAlign !== channels * (bitsPerSample / 8)) {
    throw new CoreError('BAD_INPUT', `WAV header is inconsistent: ${channels} channels of ${bitsPerSample}-bit samples need ${channels * (bitsPerSample / 8)}-byte frames, header says ${blockAlign}`);
  }
  return { fmt: { encoding, bitsPerSample, channels, sampleRate }, blockAlign };
}

function downmix(view: DataView, format: WavFormat): Float32Array {
  const read = sampleReader(view, format);
  const { channels, frames } = format;
  const out = new Float32Array(frames);
  const bytesPerSample = format.bitsPerSample / 8;
  for (let frame = 0, at = 0; frame < frames; frame++) {
    let sum = 0;
    for (let c = 0; c < channels; c++, at += bytesPerSample) sum += read(at);
    out[frame] = sum / channels;
  }
  return out;
}

function sampleReader(view: DataView, format: WavFormat): (at: number) => number {
  if (format.encoding === 'float') {
    return format.bitsPerSample === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true);
  }
  switch (format.bitsPerSample) {
    case 8:
      // 8-bit WAV alone is unsigned, centred on 128.
      return (at) => (view.getUint8(at) - 128) / 128;
    case 16:
      return (at) => view.getInt16(at, true) / 32768;
    case 24:
      return (at) => ((view.getUint8(at + 2) << 24) | (view.getUint8(at + 1) << 16) | (view.getUint8(at) << 8)) / 2147483648;
    default:
      return (at) => view.getInt32(at, true) / 2147483648;
  }
}

// Eight zero crossings each side keeps aliasing far below Whisper's noise floor at ~50 taps per output sample.
const SINC_ZERO_CROSSINGS = 8;
const KERNEL_STEPS = 512;
let kernelTable: Float32Array | undefined;

/**
 * Band-limited resampling with a Blackman-windowed sinc. Plain linear interpolation would fold everything above
 * 8 kHz of a 44.1/48 kHz recording back into the speech band as aliasing.
 */
export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate) return input;
  const kernel = (kernelTable ??= buildKernel());
  const ratio = toRate / fromRate;
  const outLength = Math.round(input.length * ratio);
  const out = new Float32Array(outLength);
  // When downsampling, the filter cut-off drops to the new Nyquist frequency and the kernel widens to match.
  const cutoff = Math.min(1, ratio);
  const halfWidth = SINC_ZERO_CROSSINGS / cutoff;
  const last = input.length - 1;
  for (let i = 0; i < outLength; i++) {
    const centre = i / ratio;
    const lo = Math.max(0, Math.ceil(centre - halfWidth));
    const hi = Math.min(last, Math.floor(centre + halfWidth));
    let sum = 0;
    let weights = 0;
    for (let j = lo; j <= hi; j++) {
      const position = Math.abs(j - centre) * cutoff * KERNEL_STEPS;
      const index = Math.floor(position);
      const a = kernel[index] ?? 0;
      const w = a + ((kernel[index + 1] ?? 0) - a) * (position - index);
      sum += (input[j] ?? 0) * w;
      weights += w;
    }
    // Normalising by the summed weights keeps DC gain at 1, including at the edges where the kernel is cut short.
    out[i] = weights === 0 ? 0 : sum / weights;
  }
  return out;
}

/** One side of the windowed sinc, sampled finely enough that linear interpolation between entries is exact to ~1e-5. */
function buildKernel(): Float32Array {
  const size = SINC_ZERO_CROSSINGS * KERNEL_STEPS;
  const table = new Float32Array(size + 2);
  for (let k = 0; k <= size; k++) {
    const u = k / KERNEL_STEPS;
    const px = Math.PI * u;
    const sinc = u === 0 ? 1 : Math.sin(px) / px;
    // Blackman window, centred: 1 at u = 0, 0 at u = ±SINC_ZERO_CROSSINGS.
    const t = 0.5 + u / (2 * SINC_ZERO_CROSSINGS);
    table[k] = sinc * (0.42 - 0.5 * Math.cos(2 * Math.PI * t) + 0.08 * Math.cos(4 * Math.PI * t));
  }
  return table;
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  let s = '';
  for (let i = at; i < at + length && i < bytes.length; i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}
