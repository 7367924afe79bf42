import fs from 'node:fs';
import path from 'node:path';
import { Capture } from '@lva/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicFake, type AnthropicFake, type AnthropicPlan, type RecordedRequest } from '../../../test/fakes/anthropicFake.ts';
import { modelResponder } from '../../../test/fakes/modelResponder.ts';
import type { Core } from '../Core.ts';
import { monthOf } from './cost/UsageLedger.ts';
import { drainUntil, jobOf, openCore, record, settingsFor, tempDir, tinyPng } from './pipelineHelpers.ts';
import { scheduleDigests } from './jobs/digestJob.ts';
import { weekOf } from './synthesis/weeks.ts';

/**
 * The agent pipeline as the app runs it: a Core whose agents run in a real worker process, talking to
 * the Anthropic fake, which answers every request from what the request contains (modelResponder).
 * Documents are in pipelineDocuments.test.ts; keys, budget, offline and bad output in pipelineFailures.test.ts.
 */

const GLOSSARY = {
  'Neural nets': 'topic',
  'neural network': 'topic',
  backpropagation: 'technique',
  'gradient descent': 'technique',
  'learning rate': 'term',
  whiteboard: 'tool',
};
const IMAGE = { description: 'A whiteboard sketch of gradient descent on a loss surface.', text: 'step = -lr * grad', concepts: ['gradient descent', 'learning rate'] };

describe('the agent pipeline in the worker process', () => {
  let dir: string;
  let fake: AnthropicFake;
  let core: Core;

  beforeAll(async () => {
    dir = tempDir('pipeline');
    fake = await startAnthropicFake({ defaultResponse: modelResponder({ glossary: GLOSSARY, image: IMAGE }) });
    core = await openCore(dir, { settings: settingsFor(fake.url) });
  });

  afterAll(async () => {
    await core?.close();
    await fake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a text capture gets concepts and relations, the graph links them, spellings merge, and usage is recorded', async () => {
    const a = await core.capture({ text: 'Neural nets learn their weights by backpropagation.' });
    const b = await core.capture({ text: 'A neural network is trained with gradient descent and a small learning rate.' });
    await core.drain();

    const first = (await core.get(a.id))!;
    expect(first.status.concepts?.state).toBe('done');
    expect(first.concepts.map((c) => c.name)).toEqual(['Neural nets', 'backpropagation']);
    expect(first.relations).toEqual([{ from: 'Neural nets', to: 'backpropagation', kind: 'related_to' }]);
    const second = (await core.get(b.id))!;
    expect(second.status.concepts?.state).toBe('done');
    expect(second.concepts.map((c) => c.name)).toEqual(['neural network', 'gradient descent', 'learning rate']);
    expect(second.concepts.every((c) => (c.importance ?? 0) > 0 && (c.importance ?? 0) <= 1)).toBe(true);

    // "Neural nets" and "neural network" are one concept in the graph, mentioned by both captures.
    const byConcept = await core.graph.capturesByConcept('Neural nets');
    expect(byConcept.map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
    expect((await core.graph.capturesByConcept('neural networks')).map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
    const neighbours = await core.graph.neighbours('neural network');
    expect(neighbours.map((n) => n.name).sort()).toEqual(['backpropagation', 'gradient descent', 'learning rate']);
    expect(neighbours.find((n) => n.name === 'backpropagation')).toMatchObject({ relation: 'related_to', weight: 1, depth: 1 });
    expect(await core.graph.conceptsOf(a.id)).toEqual(['backpropagation', 'neural network']);

    // One analysis call per capture, each in the ledger under its capture.
    expect(fake.messageRequests()).toHaveLength(2);
    for (const id of [a.id, b.id]) {
      const usage = core.usage.forCapture(id);
      expect(usage.calls).toBe(1);
      expect(usage.byRole.analysis.calls).toBe(1);
      expect(usage.inputTokens).toBeGreaterThan(0);
    }
    expect(core.usage.monthTotal(monthOf(Date.now())).byRole.analysis.calls).toBe(2);
    expect(core.agentsPid).toBeTypeOf('number');
  });

  it('a worker killed mid-call sends the job back to pending without spending an attempt; a new worker finishes it', async () => {
    fake.script({ kind: 'hang' });
    const before = fake.requests.length;
    const capture = await core.capture({ text: 'Backpropagation is the chain rule applied to a neural network.' });
    const draining = core.drain();
    await fake.waitForRequests(before + 1);
    const pid = core.agentsPid!;
    expect(pid).toBeTypeOf('number');
    process.kill(pid, 'SIGKILL');
    await draining;

    const waiting = jobOf(core, 'analyze', capture.id);
    expect(waiting).toMatchObject({ state: 'pending', attempts: 0 });
    expect(waiting.lastError).toMatch(/agent worker died \(signal SIGKILL\)/);
    expect((await core.get(capture.id))!.status.concepts).toBeUndefined();

    await drainUntil(core, () => jobOf(core, 'analyze', capture.id).state === 'done', 'the analysis after the crash');
    const done = (await core.get(capture.id))!;
    expect(done.status.concepts?.state).toBe('done');
    expect(done.concepts.map((c) => c.name)).toEqual(['neural network', 'backpropagation']);
    expect(core.agentsPid).toBeTypeOf('number');
    expect(core.agentsPid).not.toBe(pid);
  });

  it('an image is described by the vision model: description and its text become the capture text, with concepts', async () => {
    const file = path.join(dir, 'board.png');
    const png = tinyPng();
    fs.writeFileSync(file, png);
    const before = fake.messageRequests().length;
    const capture = await core.captureFile(file);
    expect(capture.status.describe?.state).toBe('pending');
    await core.drain();

    const described = (await core.get(capture.id))!;
    expect(described.source).toBe('image');
    expect(described.status.describe?.state).toBe('done');
    expect(described.status.concepts?.state).toBe('done');
    expect(described.text).toContain(IMAGE.description);
    expect(described.text).toContain(`Text in the image:\n${IMAGE.text}`);
    expect(described.concepts.map((c) => c.name)).toEqual(['gradient descent', 'learning rate']);
    expect((await core.search({ query: 'whiteboard sketch loss surface' })).hits.map((h) => h.id)).toContain(capture.id);
    expect((await core.graph.capturesByConcept('learning rate')).map((c) => c.id)).toContain(capture.id);

    const requests = fake.messageRequests().slice(before);
    expect(requests).toHaveLength(1);
    const body = requests[0]!.body as { model: string; messages: { content: { type: string; source?: { type: string; media_type: string; data: string } }[] }[] };
    expect(body.model).toBe(settingsFor(fake.url).models.vision);
    const image = body.messages[0]!.content.find((c) => c.type === 'image');
    expect(image?.source).toEqual({ type: 'base64', media_type: 'image/png', data: png.toString('base64') });
    expect(core.usage.forCapture(capture.id).byRole.vision.calls).toBe(1);
  });

  it("the weekly digest cites only that week's captures; a made-up citation is dropped with a notice", async () => {
    await core.drain();
    const week = weekOf(Date.now());
    const ids = new Set<string>();
    for await (const c of core.allCaptures()) if (c.createdAt >= week.from && c.createdAt < week.to) ids.add(c.id);
    expect(ids.size).toBeGreaterThan(0);

    await core.digestNow();
    const digest = (await (await core.insights()).list()).find((i) => i.id === `weekly:${week.label}`);
    expect(digest).toBeDefined();
    const cited = (d: NonNullable<typeof digest>) => [...d.learned, ...d.themes, ...d.questions, ...d.nextSteps].flatMap((item) => item.captureIds);
    expect(cited(digest!).length).toBeGreaterThan(0);
    for (const id of cited(digest!)) expect(ids).toContain(id);
    // The prompt carried each capture's concepts.
    const prompt = JSON.stringify(fake.messageRequests().at(-1)!.body);
    expect(prompt).toContain('gradient descent');

    // The model invents a capture id: it is left out, and the person is told.
    const invented = '01KZZZZZZZZZZZZZZZZZZZZZZZ';
    const answer = modelResponder({ glossary: GLOSSARY });
    fake.script((request: RecordedRequest): AnthropicPlan => {
      const plan = answer(request);
      if (plan.kind !== 'tool_use') return plan;
      const input = plan.input as { learned: { text: string; captureIds: string[] }[] };
      return { ...plan, input: { ...plan.input, learned: [...input.learned, { text: 'A point from nowhere', captureIds: [invented] }] } };
    });
    const events = record(core);
    await core.digestNow();
    expect(fake.pending()).toBe(0);
    const again = (await (await core.insights()).list()).find((i) => i.id === `weekly:${week.label}`)!;
    expect(again.createdAt).toBeGreaterThanOrEqual(digest!.createdAt);
    expect(cited(again)).not.toContain(invented);
    for (const id of cited(again)) expect(ids).toContain(id);
    expect(events.some((e) => e.type === 'notice' && e.message.includes(invented))).toBe(true);
    expect(jobOf(core, 'digest', week.label).state).toBe('done');
    expect(core.usage.monthTotal(monthOf(Date.now())).byRole.synthesis.calls).toBe(2);
  });

  it("a digest made on demand mid-week does not take the place of the week's scheduled one", async () => {
    const now = Date.now();
    const week = weekOf(now);
    scheduleDigests({ queue: core.queue }, now);
    await core.digestNow();
    expect((await (await core.insights()).list()).find((i) => i.id === `weekly:${week.label}`)).toBeDefined();
    // The app schedules again on every start; this week's complete digest must still be due after the week ends.
    scheduleDigests({ queue: core.queue }, now);
    const scheduled = core.queue.list({ kind: 'digest', state: 'pending' }).find((j) => (j.payload as { week: string }).week === week.label);
    expect(scheduled).toBeDefined();
    expect(scheduled!.runAfter).toBeGreaterThanOrEqual(week.to);
    expect((scheduled!.payload as { force?: boolean }).force).toBeUndefined();
  });

  it('every stored capture still parses after the pipeline wrote to it', async () => {
    let n = 0;
    for await (const c of core.allCaptures()) {
      expect(Capture.safeParse(c).success).toBe(true);
      n++;
    }
    expect(n).toBeGreaterThanOrEqual(4);
  });
});
