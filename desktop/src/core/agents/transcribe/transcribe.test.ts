import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The cloud API is a local fake that speaks its wire protocol; the real SDK talks to it.
import { startOpenAIFake, type OpenAIFake } from '../../../../test/fakes/openaiFake.ts';
import { CoreError } from '../../errors.ts';
import { providerSettingsFromEnv, type ProviderSettings } from '../ProviderSettings.ts';
import { joinTexts, planWindows } from './chunking.ts';
import { CloudTranscriber } from './CloudTranscriber.ts';
import { LocalModelUnavailableError, LocalTranscriber } from './LocalTranscriber.ts';
import type { LoadProgress } from './LocalTranscriber.ts';
import { chooseTranscriber, TranscriptionMustWait } from './transcribe.ts';
import { decodeWav, durationMs, readWavFormat } from './wav.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../../..');
// Real weights and audio kept outside the repo (see ../shared/*/README.md); never copied into it.
const MODEL_DIR = path.resolve(REPO_ROOT, '../shared/models');
const JFK = readFileSync(path.resolve(REPO_ROOT, '../shared/audio/jfk.wav'));
const SENTENCE = 'And so my fellow Americans ask not what your country can do for you, ask what you can do for your country.';

type Encoding = { kind: 'int'; bits: 16 | 24 | 32 } | { kind: 'float'; bits: 32 };

/** An independent WAV writer, so the parser is not only checked against itself. */
function encodeWav(channels: Float32Array[], sampleRate: number, encoding: Encoding, extensible = false): Buffer {
  const bytesPerSample = encoding.bits / 8;
  const frames = channels[0]!.length;
  const blockAlign = channels.length * bytesPerSample;
  const fmtSize = extensible ? 40 : 16;
  const data = Buffer.alloc(frames * blockAlign);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels.length; c++) {
      const at = f * blockAlign + c * bytesPerSample;
      const v = Math.max(-1, Math.min(1, channels[c]![f]!));
      if (encoding.kind === 'float') data.writeFloatLE(v, at);
      else if (encoding.bits === 16) data.writeInt16LE(Math.round(v * 32767), at);
      else if (encoding.bits === 24) data.writeIntLE(Math.round(v * 8388607), at, 3);
      else data.writeInt32LE(Math.round(v * 2147483647), at);
    }
  }
  const header = Buffer.alloc(12 + 8 + fmtSize + 8);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(header.length - 8 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(fmtSize, 16);
  const tag = encoding.kind === 'float' ? 3 : 1;
  header.writeUInt16LE(extensible ? 0xfffe : tag, 20);
  header.writeUInt16LE(channels.length, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * blockAlign, 28);
  header.writeUInt16LE(blockAlign, 32);
  header.writeUInt16LE(encoding.bits, 34);
  if (extensible) {
    header.writeUInt16LE(22, 36);
    header.writeUInt16LE(encoding.bits, 38);
    header.writeUInt32LE(channels.length === 2 ? 3 : 4, 40);
    header.writeUInt16LE(tag, 44); // first bytes of the SubFormat GUID; the rest of the GUID is not read
  }
  header.write('data', 12 + 8 + fmtSize, 'ascii');
  header.writeUInt32LE(data.length, 12 + 8 + fmtSize + 4);
  return Buffer.concat([header, data]);
}

/** Linear interpolation, deliberately not the code under test's resampler. */
function naiveResample(input: Float32Array, from: number, to: number): Float32Array {
  const out = new Float32Array(Math.floor((input.length * to) / from));
  for (let i = 0; i < out.length; i++) {
    const x = (i * from) / to;
    const j = Math.floor(x);
    const a = input[j] ?? 0;
    out[i] = a + ((input[j + 1] ?? a) - a) * (x - j);
  }
  return out;
}

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('wav', () => {
  const jfk = decodeWav(JFK).samples;

  it('reads jfk.wav as 16 kHz mono with its duration', () => {
    const decoded = decodeWav(JFK);
    expect(decoded.source).toMatchObject({ encoding: 'pcm-int', bitsPerSample: 16, channels: 1, sampleRate: 16_000, frames: 176_000 });
    expect(decoded.durationMs).toBe(11_000);
    expect(decoded.samples.length).toBe(176_000);
    expect(durationMs(decoded.samples)).toBe(11_000);
  });

  it.each<[string, Encoding, boolean]>([
    ['24-bit int', { kind: 'int', bits: 24 }, false],
    ['32-bit int', { kind: 'int', bits: 32 }, false],
    ['32-bit float', { kind: 'float', bits: 32 }, false],
    ['32-bit float, WAVE_FORMAT_EXTENSIBLE', { kind: 'float', bits: 32 }, true],
  ])('reads %s stereo to the same mono samples', (_name, encoding, extensible) => {
    // Channels differ so that a parser reading one channel, or summing instead of averaging, is caught;
    // both stay below full scale so that clipping does not hide either mistake.
    const wav = encodeWav([jfk.map((v) => v * 0.4), jfk.map((v) => v * 1.0)], 16_000, encoding, extensible);
    const decoded = decodeWav(wav);
    expect(decoded.source).toMatchObject({ channels: 2, bitsPerSample: encoding.bits, frames: jfk.length });
    let worst = 0;
    for (let i = 0; i < jfk.length; i++) worst = Math.max(worst, Math.abs(decoded.samples[i]! - 0.7 * jfk[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it('resamples 44.1 kHz to 16 kHz without changing the duration or the level', () => {
    const up = naiveResample(jfk, 16_000, 44_100);
    const decoded = decodeWav(encodeWav([up, up], 44_100, { kind: 'int', bits: 16 }));
    expect(decoded.durationMs).toBe(11_000);
    expect(Math.abs(decoded.samples.length - jfk.length)).toBeLessThanOrEqual(1);
    const rms = (s: Float32Array): number => Math.sqrt(s.reduce((sum, v) => sum + v * v, 0) / s.length);
    expect(rms(decoded.samples) / rms(jfk)).toBeCloseTo(1, 1);
  });

  it('rejects what it cannot read with BAD_INPUT and a reason', () => {
    const bad = (bytes: Uint8Array, pattern: RegExp): void => {
      const error = errorOf(() => decodeWav(bytes));
      expect(error).toBeInstanceOf(CoreError);
      expect((error as CoreError).code).toBe('BAD_INPUT');
      expect((error as CoreError).message).toMatch(pattern);
    };
    bad(Buffer.from('OggS\0\0\0\0\0\0\0\0\0\0'), /not a WAV file/);
    bad(Buffer.alloc(0), /not a WAV file/);
    bad(JFK.subarray(0, 30), /fmt .*truncated/);
    bad(JFK.subarray(0, 1000), /truncated: the header declares 352000 bytes of samples but only \d+ follow/);
    const adpcm = Buffer.from(JFK);
    adpcm.writeUInt16LE(0x11, 20);
    bad(adpcm, /unsupported WAV encoding: format tag 0x0011 \(IMA ADPCM\)/);
    const twelveBit = Buffer.from(JFK);
    twelveBit.writeUInt16LE(12, 34);
    bad(twelveBit, /unsupported WAV encoding: 12-bit integer PCM/);
    const oddData = encodeWav([jfk.subarray(0, 10)], 16_000, { kind: 'int', bits: 16 });
    oddData.writeUInt32LE(19, oddData.length - 20 - 4);
    bad(oddData, /truncated mid-sample/);
  });

  it('reads a streamed WAV whose data size was never filled in', () => {
    const streamed = encodeWav([jfk.subarray(0, 1600)], 16_000, { kind: 'int', bits: 16 });
    streamed.writeUInt32LE(0xffffffff, 40);
    expect(readWavFormat(streamed).frames).toBe(1600);
  });
});

describe('chunking', () => {
  it('keeps audio of 30 s or less whole', () => {
    expect(planWindows(new Float32Array(30 * 16_000))).toEqual([{ start: 0, end: 480_000, overlapsPrevious: false }]);
  });

  it('cuts unbroken sound into 30 s windows overlapping by 1 s', () => {
    const tone = new Float32Array(70 * 16_000).map((_, i) => Math.sin(i / 5));
    expect(planWindows(tone)).toEqual([
      { start: 0, end: 480_000, overlapsPrevious: false },
      { start: 464_000, end: 944_000, overlapsPrevious: true },
      { start: 928_000, end: 1_120_000, overlapsPrevious: true },
    ]);
  });

  it('drops the words an overlap repeated, ignoring case and punctuation', () => {
    expect(
      joinTexts([
        { text: ' ask not what your country can do for you,', overlapsPrevious: false },
        { text: ' For you, ask what you can do.', overlapsPrevious: true },
        { text: ' And so', overlapsPrevious: false },
      ]),
    ).toBe('ask not what your country can do for you, ask what you can do. And so');
  });
});

describe('LocalTranscriber (whisper-tiny)', () => {
  const transcriber = new LocalTranscriber({ modelDir: MODEL_DIR });
  const progress: LoadProgress[] = [];

  beforeAll(async () => {
    await transcriber.load((p) => progress.push(p));
  });
  afterAll(() => transcriber.dispose());

  it('loads once, reporting progress, and transcribes jfk.wav exactly', async () => {
    expect(progress[0]?.stage).toBe('load');
    expect(progress.at(-1)?.stage).toBe('ready');
    expect(transcriber.load()).toBe(transcriber.load());
    const result = await transcriber.transcribeWav(JFK);
    expect(result).toEqual({ text: SENTENCE, durationMs: 11_000 });
  });

  it('transcribes the same speech recorded as 44.1 kHz stereo 16-bit', async () => {
    const jfk = decodeWav(JFK).samples;
    const up = naiveResample(jfk, 16_000, 44_100);
    const result = await transcriber.transcribeWav(encodeWav([up.map((v) => v * 0.6), up.map((v) => v * 1.0)], 44_100, { kind: 'int', bits: 16 }));
    expect(result.text).toBe(SENTENCE);
  });

  it('transcribes 44 s (jfk 4×) in pause-aligned windows', async () => {
    const jfk = decodeWav(JFK).samples;
    const long = new Float32Array(jfk.length * 4);
    for (let k = 0; k < 4; k++) long.set(jfk, k * jfk.length);
    const windows = planWindows(long);
    expect(windows.length).toBe(2);
    expect(windows.every((w) => w.end - w.start <= 30 * 16_000 && !w.overlapsPrevious)).toBe(true);
    const result = await transcriber.transcribe(long);
    expect(result.durationMs).toBe(44_000);
    expect(occurrences(result.text, SENTENCE)).toBeGreaterThanOrEqual(3);
  });

  it('says where it looked when the model is missing', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'lva-no-model-'));
    try {
      const error: unknown = await new LocalTranscriber({ modelDir: empty }).transcribe(new Float32Array(16_000)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LocalModelUnavailableError);
      expect((error as LocalModelUnavailableError).code).toBe('NOT_CONFIGURED');
      expect((error as Error).message).toContain(path.join(empty, 'Xenova/whisper-tiny'));
      expect((error as Error).message).toContain('missing config.json');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('CloudTranscriber (OpenAI fake)', () => {
  let fake: OpenAIFake;
  let settings: ProviderSettings;

  beforeAll(async () => {
    fake = await startOpenAIFake({ apiKey: 'sk-test' });
    settings = providerSettingsFromEnv({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url, LVA_AI_MAX_RETRIES: '2', LVA_AI_TIMEOUT_MS: '5000' });
  });
  afterAll(() => fake.close());

  it('sends the exact bytes and model and returns the transcript', async () => {
    fake.script({ kind: 'transcript', text: ' Hello from the cloud. ' });
    const before = fake.transcriptions.length;
    const result = await new CloudTranscriber(settings).transcribe({ bytes: JFK, mime: 'audio/wav' });
    expect(result).toEqual({ text: 'Hello from the cloud.', durationMs: 11_000, model: 'whisper-1' });
    const sent = fake.transcriptions.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.model).toBe('whisper-1');
    expect(sent[0]!.file?.filename).toBe('recording.wav');
    expect(sent[0]!.file?.contentType).toBe('audio/wav');
    expect(Buffer.compare(sent[0]!.file!.bytes, JFK)).toBe(0);
  });

  it('retries a 429 after its retry-after and then succeeds', async () => {
    fake.script({ kind: 'error', status: 429, retryAfterMs: 50 }, { kind: 'transcript', text: 'second time lucky' });
    const before = fake.transcriptions.length;
    const webm = Buffer.from('\x1aE\xdf\xa3 not really webm');
    const result = await new CloudTranscriber(settings).transcribe({ bytes: webm, mime: 'audio/webm;codecs=opus' });
    expect(result).toEqual({ text: 'second time lucky', durationMs: undefined, model: 'whisper-1' });
    expect(fake.transcriptions.length - before).toBe(2);
    expect(fake.transcriptions.at(-1)!.file?.filename).toBe('recording.webm');
  });

  it('without a key: NOT_CONFIGURED and nothing sent', () => {
    const requests = fake.requests.length;
    const error = errorOf(() => new CloudTranscriber({ ...settings, openai: { baseURL: fake.url } }));
    expect((error as CoreError).code).toBe('NOT_CONFIGURED');
    expect((error as Error).message).toContain('OPENAI_API_KEY');
    expect(fake.requests.length).toBe(requests);
  });

  it('refuses files over 25 MB before uploading, saying why it cannot split them', async () => {
    const requests = fake.requests.length;
    const error: unknown = await new CloudTranscriber(settings)
      .transcribe({ bytes: new Uint8Array(26 * 1024 * 1024), mime: 'audio/ogg' })
      .catch((e: unknown) => e);
    expect((error as CoreError).code).toBe('TOO_LARGE');
    expect((error as Error).message).toMatch(/over the cloud transcription limit of 25 MB.*decoder for audio\/ogg/);
    expect(fake.requests.length).toBe(requests);
  });

  it('a wrong key waits for Settings instead of failing', async () => {
    const wrong = { ...settings, openai: { ...settings.openai, apiKey: 'sk-wrong' } };
    const error: unknown = await chooseTranscriber({ settings: wrong, preferLocal: false, online: true, modelDir: MODEL_DIR, mime: 'audio/webm' })
      .transcribe({ bytes: Buffer.from('x'), mime: 'audio/webm' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TranscriptionMustWait);
    expect((error as TranscriptionMustWait).waitingFor).toBe('api-key');
  });
});

describe('chooseTranscriber', () => {
  const withKey = providerSettingsFromEnv({ OPENAI_API_KEY: 'sk-test' });
  const noKey = providerSettingsFromEnv({});
  const noModel = '/nonexistent/models';
  const choose = (o: { settings?: ProviderSettings; preferLocal?: boolean; online?: boolean; modelDir?: string; mime?: string }): ReturnType<typeof chooseTranscriber> =>
    chooseTranscriber({ settings: withKey, preferLocal: false, online: true, modelDir: MODEL_DIR, mime: 'audio/wav', ...o });
  const waits = (o: Parameters<typeof choose>[0]): TranscriptionMustWait => {
    const error = errorOf(() => choose(o));
    expect(error).toBeInstanceOf(TranscriptionMustWait);
    return error as TranscriptionMustWait;
  };

  it('uses the cloud when online with a key, unless the user prefers local', () => {
    expect(choose({}).via).toBe('cloud');
    expect(choose({ preferLocal: true }).via).toBe('local');
    expect(choose({ preferLocal: true, mime: 'audio/webm' }).via).toBe('cloud');
  });

  it('uses the local model when offline or without a key, for WAV', () => {
    expect(choose({ online: false }).via).toBe('local');
    expect(choose({ settings: noKey }).via).toBe('local');
    expect(choose({ online: false, mime: 'audio/x-wav' }).model).toBe('Xenova/whisper-tiny');
  });

  it('waits, saying why, when nothing can transcribe the recording now', () => {
    const offlineWebm = waits({ online: false, mime: 'audio/webm' });
    expect(offlineWebm.waitingFor).toBe('network');
    expect(offlineWebm.message).toContain('needs the cloud or a WAV');

    const offlineNoModel = waits({ online: false, modelDir: noModel });
    expect(offlineNoModel.waitingFor).toBe('network');
    expect(offlineNoModel.message).toContain(path.join(noModel, 'Xenova/whisper-tiny'));

    const noKeyWebm = waits({ settings: noKey, mime: 'audio/ogg' });
    expect(noKeyWebm.waitingFor).toBe('api-key');
    expect(noKeyWebm.message).toContain('OPENAI_API_KEY');

    expect(waits({ settings: noKey, modelDir: noModel }).waitingFor).toBe('api-key');
  });

  it('transcribes through the chosen local route', async () => {
    const result = await choose({ online: false }).transcribe({ bytes: JFK, mime: 'audio/wav' });
    expect(result).toEqual({ text: SENTENCE, durationMs: 11_000, via: 'local', model: 'Xenova/whisper-tiny' });
  });
});
