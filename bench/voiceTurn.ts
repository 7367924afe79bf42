/**
 * A voice turn's own overhead: end of audio → first reply token, minus the time the providers take.
 *
 * Setup: a copy of the 2k-capture bench data dir (dataset.ts; vectors reused per base sentence while
 * building, queries embedded by the real USE), opened with the app's default embedder and the agents
 * in their worker process. The providers are the test fakes (OpenAI for transcription, Anthropic for
 * the answer) in a separate process, each behind a loopback proxy that holds every request for a fixed
 * time before forwarding it: transcription 300 ms, Claude time to first token 400 ms. The audio is a
 * real speech WAV (../shared/audio/jfk.wav); the fake returns a scripted question whose words match
 * captures.
 *
 * Per turn, `converse(core, settings, { mode: 'ask', audio })`: t0 = the call (the audio is complete),
 * t_first = the first `text` event. The proxy records, per request, when it arrived and when the first
 * byte of the answer went back (wall clock, performance.timeOrigin + now(), comparable across
 * processes). Overhead = (t_first − t0) − Σ(first byte − arrival) over the turn's provider requests,
 * so network and provider time are excluded exactly, including the proxies' own delays.
 *
 * The baseline is the same turn with the question as text (no transcription), interleaved with the
 * voice turns. The first voice turn starts the agent worker process; it is reported on its own.
 *
 *   node bench/voiceTurn.ts --providers   (internal) runs the fakes and proxies, prints their URLs
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Core } from '../desktop/src/core/Core.ts';
import { providerSettingsFromEnv, type ProviderSettings } from '../desktop/src/core/agents/ProviderSettings.ts';
import { collectFeedback } from '../desktop/src/core/agents/conversation/feedback.ts';
import { converse, type TurnInput } from '../desktop/src/core/agents/conversation/turn.ts';
import { retrieve } from '../desktop/src/core/agents/research/retrieve.ts';
import { startAnthropicFake, type RecordedRequest } from '../desktop/test/fakes/anthropicFake.ts';
import { startOpenAIFake } from '../desktop/test/fakes/openaiFake.ts';
import { ensureDataDir } from './dataset.ts';
import { isMain, median, percentile, row, type BenchContext, type BenchResult, type Row } from './report.ts';

const TRANSCRIBE_MS = 300;
const CLAUDE_TTFT_MS = 400;
const CAPTURES = 2000;
const TARGET_OVERHEAD_P95_MS = 150;
const TARGET_END_TO_END_P99_MS = 1500;
/** What the person "said": words of the sleep-and-memory topic, which many captures share. */
const QUESTION = 'How does sleep help memory consolidation in the hippocampus?';
const WAV = path.resolve(import.meta.dirname, '..', '..', 'shared', 'audio', 'jfk.wav');
const CONTROL_PATH = '/__bench/timings';

/** Wall-clock ms with sub-ms precision, comparable between this process and the providers' one. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

interface ProviderTiming {
  provider: 'transcription' | 'claude';
  path: string;
  /** Request headers arrived at the proxy. */
  arrived: number;
  /** First byte of the answer sent back to the client. */
  firstByte: number;
  end: number;
  status: number;
}

// ---- the providers' process ----

/** A loopback proxy that holds each request `delayMs` after its body arrived, then forwards it to `target`. */
async function startDelayingProxy(target: string, delayMs: number, provider: ProviderTiming['provider'], timings: ProviderTiming[]): Promise<string> {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const arrived = now();
    if (req.url === CONTROL_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(timings.splice(0)));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        const headers = { ...req.headers };
        delete headers.host;
        delete headers.connection;
        const upstream = http.request(`${target}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, agent }, (up) => {
          const outHeaders = { ...up.headers };
          delete outHeaders.connection;
          res.writeHead(up.statusCode ?? 502, outHeaders);
          let firstByte = 0;
          up.on('data', (c: Buffer) => {
            if (!firstByte) firstByte = now();
            res.write(c);
          });
          up.on('end', () => {
            res.end();
            timings.push({ provider, path: req.url ?? '/', arrived, firstByte: firstByte || now(), end: now(), status: up.statusCode ?? 0 });
          });
        });
        upstream.on('error', (err) => {
          res.writeHead(502);
          res.end(String(err));
        });
        upstream.end(Buffer.concat(chunks));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function shownIds(request: RecordedRequest): string[] {
  const body = request.body as { messages?: { content?: unknown }[] } | undefined;
  const last = body?.messages?.at(-1)?.content;
  return typeof last === 'string' ? [...last.matchAll(/<capture id="([0-9A-Z]+)"/g)].map((m) => m[1]!) : [];
}

async function providers(): Promise<void> {
  const openai = await startOpenAIFake({ defaultTranscription: () => ({ kind: 'transcript', text: QUESTION, durationSeconds: 11 }) });
  const anthropic = await startAnthropicFake({
    chunkSize: 16,
    defaultResponse: (request) => {
      const [a, b] = shownIds(request);
      return {
        kind: 'text',
        text: `During slow-wave sleep the brain replays the day's memories${a ? ` [[${a}]]` : ''}, and the hippocampus hands them over to long-term storage${b ? ` [[${b}]]` : ''}. An all-nighter cuts next-day learning.`,
      };
    },
  });
  const timings: ProviderTiming[] = [];
  const openaiProxy = await startDelayingProxy(new URL(openai.url).origin, TRANSCRIBE_MS, 'transcription', timings);
  const anthropicProxy = await startDelayingProxy(anthropic.url, CLAUDE_TTFT_MS, 'claude', timings);
  process.stdout.write(`${JSON.stringify({ openai: `${openaiProxy}/v1`, anthropic: anthropicProxy, control: `${anthropicProxy}${CONTROL_PATH}` })}\n`);
  // Runs until the benchmark closes stdin (or ends).
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

// ---- the benchmark ----

interface ProviderUrls {
  openai: string;
  anthropic: string;
  control: string;
}

async function startProviders(): Promise<{ child: ChildProcessByStdio<Writable, Readable, null>; urls: ProviderUrls }> {
  const child = spawn(process.execPath, [import.meta.filename, '--providers'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const urls = await new Promise<ProviderUrls>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the providers' process exited (${code})`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as ProviderUrls));
  });
  return { child, urls };
}

async function takeTimings(control: string): Promise<ProviderTiming[]> {
  const res = await fetch(control);
  return (await res.json()) as ProviderTiming[];
}

interface TurnTiming {
  kind: 'voice' | 'text';
  t0: number;
  conversation: number;
  said: number;
  retrieved: number;
  firstText: number;
  reply: number;
  retrievedCount: number;
  viaGraph: number;
  providers: ProviderTiming[];
  endToEnd: number;
  providerMs: number;
  overhead: number;
}

async function oneTurn(core: Core, settings: ProviderSettings, input: TurnInput, control: string): Promise<TurnTiming> {
  const kind = 'audio' in input ? 'voice' : 'text';
  const marks = { conversation: 0, said: 0, retrieved: 0, firstText: 0, reply: 0 };
  let retrievedCount = 0;
  let viaGraph = 0;
  const t0 = now();
  for await (const e of converse(core, settings, input)) {
    const t = now();
    if (e.type === 'conversation') marks.conversation = t;
    else if (e.type === 'said') marks.said = t;
    else if (e.type === 'retrieved') {
      marks.retrieved = t;
      retrievedCount = e.captures.length;
      viaGraph = e.captures.filter((c) => c.via.includes('graph')).length;
    } else if (e.type === 'text' && !marks.firstText) marks.firstText = t;
    else if (e.type === 'reply') marks.reply = t;
  }
  const providers = await takeTimings(control);
  const expected = kind === 'voice' ? 2 : 1;
  if (providers.length !== expected || providers.some((p) => p.status !== 200)) {
    throw new Error(`a ${kind} turn made ${providers.length} provider requests (${providers.map((p) => `${p.provider} ${p.status}`).join(', ')}), expected ${expected} answered with 200`);
  }
  if (!marks.firstText) throw new Error('the turn produced no text');
  // Only what happened before the first token counts: the Claude request's first byte is its TTFT.
  const providerMs = providers.reduce((s, p) => s + (Math.min(p.firstByte, marks.firstText) - p.arrived), 0);
  const endToEnd = marks.firstText - t0;
  return { kind, t0, ...marks, retrievedCount, viaGraph, providers, endToEnd, providerMs, overhead: endToEnd - providerMs };
}

/** Where a turn's own time goes, in ms, from the events and the proxy's timestamps. */
function breakdown(t: TurnTiming): Record<string, number> {
  const tr = t.providers.find((p) => p.provider === 'transcription');
  const cl = t.providers.find((p) => p.provider === 'claude')!;
  const parts: Record<string, number> = {};
  if (tr) {
    parts['call → transcription request at provider (worker IPC, SDK, multipart)'] = tr.arrived - t.t0;
    parts['transcription answer → conversation started (SDK, worker IPC back, conversations.start)'] = t.conversation - tr.firstByte;
  } else {
    parts['call → conversation started'] = t.conversation - t.t0;
  }
  parts['store the user turn (addTurn)'] = t.said - t.conversation;
  parts['feedback + retrieval (search, graph, load captures)'] = t.retrieved - t.said;
  parts['retrieved → Claude request at provider (prompt, SDK)'] = cl.arrived - t.retrieved;
  parts['Claude first byte → first text event (SDK stream parse)'] = t.firstText - cl.firstByte;
  return parts;
}

const ms3 = (xs: number[]): string => `${percentile(xs, 50).toFixed(0)} / ${percentile(xs, 95).toFixed(0)} / ${percentile(xs, 99).toFixed(0)}`;

export async function run(ctx: BenchContext): Promise<Omit<BenchResult, 'startedAt' | 'durationS'>> {
  const turns = ctx.quick ? 10 : 40;
  const warmups = 3;
  const ds = await ensureDataDir(CAPTURES, ctx.log);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-bench-voice-'));
  fs.cpSync(ds.dir, dir, { recursive: true });
  fs.rmSync(path.join(dir, 'lock'), { force: true });
  const wav = new Uint8Array(fs.readFileSync(WAV));
  const { child, urls } = await startProviders();
  const settings = providerSettingsFromEnv({
    ANTHROPIC_API_KEY: 'sk-ant-bench',
    ANTHROPIC_BASE_URL: urls.anthropic,
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: urls.openai,
    LVA_AI_MAX_RETRIES: '0',
    LVA_AI_TIMEOUT_MS: '30000',
  });
  const core = await Core.open({ dataDir: dir, background: false, deviceName: 'bench', agents: { settings } });
  try {
    const stats = core.stats();
    if (stats.captures !== CAPTURES || stats.embedder.embedded !== CAPTURES) throw new Error(`${stats.captures} captures, ${stats.embedder.embedded} embedded; expected ${CAPTURES}`);
    // The embedding model loads with the core (as in the app); the cold turn below measures the worker's start.
    await core.search({ query: 'warm up', limit: 16 }, { waitForModel: true });
    const voice: TurnInput = { mode: 'ask', audio: { bytes: wav, mime: 'audio/wav', name: 'jfk.wav' } };
    const text: TurnInput = { mode: 'ask', text: QUESTION };

    ctx.log('voiceTurn: cold voice turn (starts the agent worker)');
    const cold = await oneTurn(core, settings, voice, urls.control);
    for (let i = 0; i < warmups; i++) {
      await oneTurn(core, settings, voice, urls.control);
      await oneTurn(core, settings, text, urls.control);
    }
    ctx.log(`voiceTurn: ${turns} voice turns interleaved with ${turns} text turns`);
    const voiceTurns: TurnTiming[] = [];
    const textTurns: TurnTiming[] = [];
    for (let i = 0; i < turns; i++) {
      // Alternate which goes first, so neither always follows the other's garbage.
      if (i % 2 === 0) {
        voiceTurns.push(await oneTurn(core, settings, voice, urls.control));
        textTurns.push(await oneTurn(core, settings, text, urls.control));
      } else {
        textTurns.push(await oneTurn(core, settings, text, urls.control));
        voiceTurns.push(await oneTurn(core, settings, voice, urls.control));
      }
    }

    // The retrieval step split in two, outside any turn: reading every conversation for feedback, and retrieve().
    const feedbackMs: number[] = [];
    const retrieveMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      let t = performance.now();
      collectFeedback(await (await core.conversations()).all());
      feedbackMs.push(performance.now() - t);
      t = performance.now();
      await retrieve(core, QUESTION);
      retrieveMs.push(performance.now() - t);
    }
    const conversations = (await (await core.conversations()).all()).length;

    const rows: Row[] = [];
    const setup = `${CAPTURES} captures, ${turns} turns after ${warmups} warm-up, providers: transcription ${TRANSCRIBE_MS} ms, Claude TTFT ${CLAUDE_TTFT_MS} ms`;
    const vo = voiceTurns.map((t) => t.overhead);
    const ve = voiceTurns.map((t) => t.endToEnd);
    const to = textTurns.map((t) => t.overhead);
    const te = textTurns.map((t) => t.endToEnd);
    rows.push(row('cold first voice turn: end to end / overhead', 'starts the agent worker process; USE already loaded', `${cold.endToEnd.toFixed(0)} / ${cold.overhead.toFixed(0)}`, 'ms'));
    rows.push(row('voice turn overhead p50 / p95 / p99', setup, ms3(vo), 'ms'));
    rows.push(row('voice turn overhead p95', setup, percentile(vo, 95), 'ms', { op: '<=', value: TARGET_OVERHEAD_P95_MS }));
    rows.push(row('voice turn end of audio → first token p50 / p95 / p99', setup, ms3(ve), 'ms'));
    rows.push(row('voice turn end of audio → first token p99', setup, percentile(ve, 99), 'ms', { op: '<=', value: TARGET_END_TO_END_P99_MS }));
    rows.push(row('baseline: text turn overhead p50 / p95 / p99', `same question as text, interleaved; Claude TTFT ${CLAUDE_TTFT_MS} ms`, ms3(to), 'ms'));
    rows.push(row('baseline: text turn call → first token p50 / p95 / p99', 'same', ms3(te), 'ms'));
    rows.push(row('transcription path overhead (voice − text overhead, p50)', 'worker IPC, upload, SDK', percentile(vo, 50) - percentile(to, 50), 'ms'));
    const parts = (list: TurnTiming[]): Record<string, { p50: number; p95: number; max: number }> => {
      const all = list.map(breakdown);
      return Object.fromEntries(Object.keys(all[0]!).map((k) => {
        const xs = all.map((b) => b[k]!);
        return [k, { p50: median(xs), p95: percentile(xs, 95), max: Math.max(...xs) }];
      }));
    };
    const voiceParts = parts(voiceTurns);
    const textParts = parts(textTurns);
    for (const [k, v] of Object.entries(voiceParts)) rows.push(row(`  voice: ${k}`, 'p50 / p95', `${v.p50.toFixed(1)} / ${v.p95.toFixed(1)}`, 'ms'));
    for (const [k, v] of Object.entries(textParts)) if (k.startsWith('call')) rows.push(row(`  text: ${k}`, 'p50 / p95', `${v.p50.toFixed(1)} / ${v.p95.toFixed(1)}`, 'ms'));
    rows.push(row('    of which: read all conversations + collectFeedback', `${conversations} conversations at the end, 20 runs, p50 / p95`, `${median(feedbackMs).toFixed(1)} / ${percentile(feedbackMs, 95).toFixed(1)}`, 'ms'));
    rows.push(row('    of which: retrieve() (search, graph, 8 × core.get)', '20 runs, p50 / p95', `${median(retrieveMs).toFixed(1)} / ${percentile(retrieveMs, 95).toFixed(1)}`, 'ms'));
    const provider = voiceTurns.flatMap((t) => t.providers);
    const measured = (p: ProviderTiming['provider']): number[] => provider.filter((x) => x.provider === p).map((x) => x.firstByte - x.arrived);
    rows.push(row('  provider time as measured at the proxy, transcription / Claude (p50)', `configured ${TRANSCRIBE_MS} / ${CLAUDE_TTFT_MS} ms`, `${median(measured('transcription')).toFixed(1)} / ${median(measured('claude')).toFixed(1)}`, 'ms'));
    rows.push(row('  captures retrieved per turn (via graph)', 'median', `${median(voiceTurns.map((t) => t.retrievedCount))} (${median(voiceTurns.map((t) => t.viaGraph))})`, ''));
    return {
      name: 'voiceTurn',
      title: "a voice turn's own overhead (end of audio → first token, minus provider time)",
      quick: ctx.quick,
      rows,
      details: {
        captures: CAPTURES,
        dataDir: ds.dir,
        providerLatencyMs: { transcription: TRANSCRIBE_MS, claudeTtft: CLAUDE_TTFT_MS },
        question: QUESTION,
        audio: { file: WAV, bytes: wav.length },
        cold: { endToEnd: cold.endToEnd, overhead: cold.overhead, parts: breakdown(cold) },
        voice: { overhead: { p50: percentile(vo, 50), p95: percentile(vo, 95), p99: percentile(vo, 99), max: Math.max(...vo) }, endToEnd: { p50: percentile(ve, 50), p95: percentile(ve, 95), p99: percentile(ve, 99), max: Math.max(...ve) }, parts: voiceParts },
        text: { overhead: { p50: percentile(to, 50), p95: percentile(to, 95), p99: percentile(to, 99), max: Math.max(...to) }, endToEnd: { p50: percentile(te, 50), p95: percentile(te, 95), p99: percentile(te, 99), max: Math.max(...te) }, parts: textParts },
        retrievalSplit: { conversations, feedback: { p50: median(feedbackMs), p95: percentile(feedbackMs, 95) }, retrieve: { p50: median(retrieveMs), p95: percentile(retrieveMs, 95) } },
        overheadSamples: { voice: vo.map(Math.round), text: to.map(Math.round) },
      },
    };
  } finally {
    await core.close();
    child.stdin.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.filename) && process.argv.includes('--providers')) await providers();
