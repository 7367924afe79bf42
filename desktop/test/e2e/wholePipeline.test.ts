import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicFake, type AnthropicFake } from '../fakes/anthropicFake.ts';
import { modelResponder } from '../fakes/modelResponder.ts';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openaiFake.ts';
import { runLva } from '../lvaProcess.ts';

const SPOKEN = 'Backpropagation computes the gradient of the loss for every weight in a neural network, and gradient descent then follows it downhill.';
const GLOSSARY = { backpropagation: 'technique', gradient: 'term', 'neural network': 'topic', 'gradient descent': 'technique', 'loss function': 'term' };

/**
 * The whole pipeline, as a person drives it from the command line: speech recorded with espeak-ng
 * becomes a voice capture, is transcribed (the OpenAI fake: whisper-tiny cannot read espeak voices),
 * indexed, analysed for concepts, linked into the graph, and then answers a question with citations
 * that resolve to the capture. Every step runs in the real processes: lva, its agent worker, the fakes.
 */
describe('the whole pipeline: voice → transcript → index → concepts → graph → a cited answer', () => {
  let dir: string;
  let anthropic: AnthropicFake;
  let openai: OpenAIFake;
  let env: Record<string, string>;
  let wav: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-pipeline-'));
    wav = path.join(dir, 'talk.wav');
    execFileSync('espeak-ng', ['-w', wav, SPOKEN]);
    anthropic = await startAnthropicFake({ defaultResponse: modelResponder({ glossary: GLOSSARY }) });
    openai = await startOpenAIFake({ defaultTranscription: () => ({ kind: 'transcript', text: SPOKEN, durationSeconds: 7 }) });
    env = { ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: anthropic.url, OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: openai.url };
  });

  afterAll(async () => {
    await anthropic.close();
    await openai.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ends in an answer whose citations resolve to the spoken capture', async () => {
    // A typed note on a neighbouring topic, so the graph has something to link to.
    const typed = await runLva(dir, ['capture', 'The loss function measures how wrong a neural network is', '--json'], env);
    expect(typed.status).toBe(0);

    const spoken = await runLva(dir, ['capture', '--file', wav, '--json'], env);
    expect(spoken.stderr).not.toMatch(/wait|fail/i);
    expect(spoken.status).toBe(0);
    const { id } = JSON.parse(spoken.stdout) as { id: string };
    // The upload reached the transcription API as the real SDK sends it: multipart, with the WAV.
    expect(openai.transcriptions).toHaveLength(1);
    expect(openai.transcriptions[0]!.file!.bytes.subarray(0, 4).toString()).toBe('RIFF');

    const shown = JSON.parse((await runLva(dir, ['show', id, '--json'], env)).stdout) as { source: string; text: string; status: Record<string, { state: string }>; concepts: { name: string }[]; ai: { calls: number; costUsd: number; audioSeconds: number } };
    expect(shown.source).toBe('voice');
    expect(shown.text).toBe(SPOKEN);
    expect(shown.status.transcribe?.state).toBe('done');
    expect(shown.status.concepts?.state).toBe('done');
    expect(shown.concepts.map((c) => c.name.toLowerCase())).toEqual(expect.arrayContaining(['backpropagation', 'gradient descent', 'neural network']));
    // Its cost, per capture: the transcription (about 7 s of audio, measured from the WAV) and the concept extraction.
    expect(shown.ai.calls).toBe(2);
    expect(shown.ai.audioSeconds).toBeGreaterThan(6);
    expect(shown.ai.costUsd).toBeGreaterThan(0);

    // Searchable by its transcript, by keyword.
    const found = JSON.parse((await runLva(dir, ['search', 'backpropagation weight', '--json'], env)).stdout) as { hits: { id: string }[] };
    expect(found.hits[0]?.id).toBe(id);

    // In the graph: the spoken concepts link to the typed note's through "neural network".
    const neighbours = JSON.parse((await runLva(dir, ['graph', 'neighbours', 'neural networks', '--json'], env)).stdout) as { name: string }[];
    expect(neighbours.map((n) => n.name.toLowerCase())).toEqual(expect.arrayContaining(['backpropagation', 'loss function']));
    const byConcept = JSON.parse((await runLva(dir, ['graph', 'captures', 'backpropagation', '--json'], env)).stdout) as { id: string }[];
    expect(byConcept.map((c) => c.id)).toEqual([id]);

    // Asked about it, the answer cites the spoken capture, and the citation resolves to it.
    const asked = await runLva(dir, ['ask', 'how does backpropagation work?', '--json'], env);
    expect(asked.status).toBe(0);
    const answer = JSON.parse(asked.stdout) as { answer: string; citations: { n: number; captureId: string; title: string }[] };
    expect(answer.citations).toEqual([{ n: 1, captureId: id, title: expect.any(String) as string }]);
    expect(answer.answer).toContain('[1]');
    const cited = JSON.parse((await runLva(dir, ['show', answer.citations[0]!.captureId, '--json'], env)).stdout) as { text: string };
    expect(cited.text).toBe(SPOKEN);

    // What it cost is on the books, per capture and for the month.
    const stats = JSON.parse((await runLva(dir, ['stats', '--json'], env)).stdout) as { ai: { calls: number; audioSeconds: number } };
    expect(stats.ai.calls).toBeGreaterThanOrEqual(4); // 2 analyses, 1 transcription, 1 answer
    expect(stats.ai.audioSeconds).toBeGreaterThan(0);
  });
});
