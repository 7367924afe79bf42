import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The fake serves in this process, so the CLI is spawned asynchronously (spawnSync would block it).
import { startAnthropicFake, type AnthropicFake } from '../../test/fakes/anthropicFake.ts';
import { modelResponder } from '../../test/fakes/modelResponder.ts';
import { makePdf } from '../../test/fixtures/pdf.ts';
import { runLva, type LvaRun } from '../../test/lvaProcess.ts';

// A real 1x1 PNG: the vision path checks that the bytes are the image they claim to be.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const GLOSSARY = { 'neural network': 'topic', backpropagation: 'technique', mitochondria: 'term', photosynthesis: 'topic', whiteboard: 'object' };
const IMAGE = { description: 'A whiteboard sketch of a neural network with three layers.', text: 'input → hidden → output', concepts: ['neural network', 'whiteboard'] };

/** About 1,300 characters a page, so each page becomes a part of its own. */
function page(n: number, topic: string): string[] {
  return Array.from({ length: 19 }, (_, line) => `Page ${n} line ${line + 1} is about ${topic} in the life of a plant cell.`);
}

interface CaptureOut {
  id: string;
  title: string;
  text: string;
  source: string;
  status: Record<string, { state: string; reason?: string }>;
  concepts: { name: string }[];
  jobs: { kind: string; state: string; reason: string | null }[];
}

describe('lva capture waits for its pipeline, with a key (the Anthropic fake)', () => {
  let dir: string;
  let fake: AnthropicFake;
  let env: Record<string, string>;
  /** Every capture made here, for the digest's citations. */
  const ids: string[] = [];

  const lva = (...args: string[]): Promise<LvaRun> => runLva(dir, args, env);
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await lva(...args, '--json');
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-pipeline-cli-'));
    fake = await startAnthropicFake({ defaultResponse: modelResponder({ glossary: GLOSSARY, image: IMAGE }) });
    env = { ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: fake.url };
  });

  afterAll(async () => {
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a 2-page PDF: its parts are stored, searchable, and know their page', async () => {
    const file = path.join(dir, 'notes.pdf');
    fs.writeFileSync(file, makePdf([page(1, 'photosynthesis'), page(2, 'mitochondria')], { title: 'Plant cells' }));
    const r = await lva('capture', '--file', file, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/wait|fail/i);
    const captured = JSON.parse(r.stdout) as CaptureOut;
    expect(captured).toMatchObject({ title: 'Plant cells', source: 'document', status: { extract: { state: 'done' } }, jobs: [] });
    expect(captured.text).toBe('Plant cells\n2 pages, 2 parts');

    const found = await json<{ hits: { id: string }[] }>('search', 'mitochondria');
    const partId = found.hits[0]!.id;
    expect(partId).not.toBe(captured.id);
    const part = await lva('show', partId);
    expect(part.stdout).toContain(`part of  ${captured.id} (part 2, page 2)`);
    expect(part.stdout).toMatch(/^concepts .*mitochondria/m);
    ids.push(captured.id, partId);
  });

  it('a photo: the description becomes its text, with concepts', async () => {
    const file = path.join(dir, 'photo.png');
    fs.writeFileSync(file, PNG);
    const captured = await json<CaptureOut>('capture', '--file', file);
    ids.push(captured.id);
    expect(captured.source).toBe('image');
    expect(captured.text).toContain(IMAGE.description);
    expect(captured.text).toContain(IMAGE.text);
    expect(captured.status.describe?.state).toBe('done');
    expect(captured.concepts.map((c) => c.name)).toEqual(expect.arrayContaining(['neural network', 'whiteboard']));
  });

  it('a typed note: its concepts are listed and linked in the graph', async () => {
    const captured = await json<CaptureOut>('capture', 'Backpropagation is how a neural network learns from its mistakes');
    ids.push(captured.id);
    expect(captured.status.concepts?.state).toBe('done');
    const concepts = await lva('concepts');
    expect(concepts.stdout).toMatch(/neural network/);
    expect(concepts.stdout).toMatch(/backpropagation/i);
    const neighbours = await json<{ name: string }[]>('graph', 'neighbours', 'neural network');
    expect(neighbours.map((n) => n.name.toLowerCase())).toContain('backpropagation');
  });

  it('lva insights --now writes this week\'s digest citing the captures; lva insights shows it', async () => {
    const written = await json<{ insights: { id: string; summary: string; sources: { n: number; captureId: string; title: string }[] }[] }>('insights', '--now');
    expect(written.insights).toHaveLength(1);
    const [digest] = written.insights;
    expect(digest!.id).toMatch(/^weekly:\d{4}-W\d{2}$/);
    expect(digest!.sources.length).toBeGreaterThan(0);
    // Citations resolve to this week's captures (the PDF's first part among them, whose id the test never saw).
    expect(digest!.sources.filter((s) => ids.includes(s.captureId)).length).toBeGreaterThan(0);
    for (const s of digest!.sources) expect(s.title).not.toBe('(deleted capture)');

    const shown = await lva('insights');
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain(digest!.summary);
    expect(shown.stdout).toMatch(/What you learned:\n {2}- Learned point 1 \[1\]/);
    expect(shown.stdout).toContain(`[1] ${digest!.sources[0]!.title}  ${digest!.sources[0]!.captureId}`);
  });

  it('--no-wait returns before the pipeline: the job is still pending', async () => {
    const file = path.join(dir, 'later.md');
    fs.writeFileSync(file, '# Later\n\nPhotosynthesis happens in the chloroplasts.\n');
    const captured = await json<CaptureOut>('capture', '--file', file, '--no-wait');
    expect(captured.status.extract?.state).toBe('pending');
    const jobs = await json<{ jobs: { kind: string; key: string; state: string }[] }>('jobs', '--state', 'pending');
    expect(jobs.jobs).toContainEqual(expect.objectContaining({ kind: 'extract', key: captured.id, state: 'pending' }));
  });
});
