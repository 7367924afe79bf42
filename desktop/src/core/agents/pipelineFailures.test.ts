import fs from 'node:fs';
import { Capture } from '@lva/shared';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startAnthropicFake, type AnthropicFake } from '../../../test/fakes/anthropicFake.ts';
import { modelResponder } from '../../../test/fakes/modelResponder.ts';
import type { Core } from '../Core.ts';
import { enqueueAnalysis } from './jobs/PipelineDeps.ts';
import { drainUntil, freePort, jobOf, openCore, settingsFor, tempDir } from './pipelineHelpers.ts';

/**
 * What the pipeline does when the model, the key, the network or the budget lets it down: the
 * capture is always kept and searchable, work waits (without spending attempts) for what it lacks,
 * and malformed model output never reaches the stored record.
 */

const GLOSSARY = { 'spaced repetition': 'technique', 'forgetting curve': 'term', 'Ebbinghaus': 'person', 'active recall': 'technique' };
const TEXT = 'Ebbinghaus measured the forgetting curve; spaced repetition flattens it.';

describe('the agent pipeline when things go wrong', () => {
  const dirs: string[] = [];
  const fakes: AnthropicFake[] = [];
  const cores: Core[] = [];

  const dir = (): string => {
    const d = tempDir('pipeline-fail');
    dirs.push(d);
    return d;
  };
  const fake = async (port?: number): Promise<AnthropicFake> => {
    const f = await startAnthropicFake({ defaultResponse: modelResponder({ glossary: GLOSSARY }), ...(port ? { port } : {}) });
    fakes.push(f);
    return f;
  };
  const open = async (...args: Parameters<typeof openCore>): Promise<Core> => {
    const core = await openCore(...args);
    cores.push(core);
    return core;
  };

  afterEach(async () => {
    for (const core of cores.splice(0)) await core.close();
  });

  afterAll(async () => {
    for (const f of fakes.splice(0)) await f.close();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('output that fails validation on every attempt leaves the stored concepts as they were, and ends failed with the reason', async () => {
    const model = await fake();
    const core = await open(dir(), { settings: settingsFor(model.url) });
    const capture = await core.capture({ text: TEXT });
    await core.drain();
    const good = (await core.get(capture.id))!;
    expect(good.status.concepts?.state).toBe('done');
    expect(good.concepts.map((c) => c.name)).toEqual(['spaced repetition', 'forgetting curve', 'Ebbinghaus']);

    // The text changes; analysing it again gets three malformed answers, one for each attempt allowed.
    await core.edit(capture.id, { text: `${TEXT} Active recall helps too.` });
    // Edited words may carry new concepts: the edit itself queues the capture's analysis again.
    expect(jobOf(core, 'analyze', capture.id).state).toBe('pending');
    const concept = { name: 'active recall', type: 'technique', importance: 0.9 };
    model.script(
      { kind: 'tool_use', name: 'record_concepts', input: { concepts: [{ ...concept, importance: 7 }], relations: [] } },
      { kind: 'tool_use', name: 'record_concepts', input: { concepts: [concept, { name: 'spaced repetition', type: 'technique', importance: 0.5 }], relations: [{ from: 'active recall', to: 'spaced repetition', kind: 'enables' }] } },
      { kind: 'tool_use', name: 'record_concepts', input: { concepts: [{ name: 'active recall', importance: 0.9 }], relations: [] } },
    );
    const before = model.messageRequests().length;
    enqueueAnalysis(core.queue, capture.id);
    await drainUntil(core, () => jobOf(core, 'analyze', capture.id).state === 'failed', 'the analysis to give up');
    expect(jobOf(core, 'analyze', capture.id).attempts).toBe(3);

    expect(model.pending()).toBe(0);
    expect(model.messageRequests().length - before).toBe(3);
    const job = jobOf(core, 'analyze', capture.id);
    expect(job.lastError).toMatch(/record_concepts input is invalid/);
    expect(job.lastError).toMatch(/type/);

    const after = (await core.get(capture.id))!;
    expect(after.text).toContain('Active recall helps too.');
    expect(after.concepts).toEqual(good.concepts);
    expect(after.relations).toEqual(good.relations);
    expect(after.status.concepts?.state).toBe('failed');
    expect(after.status.concepts?.reason).toMatch(/record_concepts input is invalid/);
    const { local: _local, ...stored } = after;
    expect(Capture.safeParse(stored).success).toBe(true);
    // Nothing about the malformed answers reached the graph either.
    expect(await core.graph.conceptsOf(capture.id)).toEqual(['ebbinghaus', 'forgetting curve', 'spaced repetition']);
    expect(await core.graph.capturesByConcept('active recall')).toEqual([]);
  });

  it('each kind of malformed output is named in the reason', async () => {
    const model = await fake();
    const core = await open(dir(), { settings: settingsFor(model.url) });
    const bad = [
      { concepts: [{ name: 'forgetting curve', type: 'term', importance: 7 }], relations: [] },
      { concepts: [{ name: 'forgetting curve', type: 'term', importance: 0.5 }], relations: [{ from: 'forgetting curve', to: 'Ebbinghaus', kind: 'invented_by' }] },
      { concepts: [{ name: 'forgetting curve', importance: 0.5 }], relations: [] },
    ];
    const reasons: string[] = [];
    for (const input of bad) {
      // Three of the same each time, so the third attempt (the last for bad output) fails on this one.
      model.script(...[1, 2, 3].map(() => ({ kind: 'tool_use' as const, name: 'record_concepts', input })));
      const capture = await core.capture({ text: TEXT });
      await drainUntil(core, () => jobOf(core, 'analyze', capture.id).state === 'failed', 'the analysis to give up');
      const stored = (await core.get(capture.id))!;
      expect(stored.concepts).toEqual([]);
      expect(stored.status.concepts?.state).toBe('failed');
      reasons.push(stored.status.concepts!.reason!);
    }
    expect(model.pending()).toBe(0);
    expect(reasons[0]).toMatch(/importance/);
    expect(reasons[1]).toMatch(/kind/);
    expect(reasons[2]).toMatch(/type/);
  });

  it('without a key the analysis waits, nothing fails, and the capture is searchable; reopening with a key finishes it', async () => {
    const model = await fake();
    const data = dir();
    const keyless = await open(data, { settings: settingsFor(model.url, '') });
    const capture = await keyless.capture({ text: TEXT });
    await keyless.drain();

    const job = jobOf(keyless, 'analyze', capture.id);
    expect(job).toMatchObject({ state: 'pending', attempts: 0 });
    expect(job.lastError).toMatch(/ANTHROPIC_API_KEY/);
    expect(keyless.queue.counts().failed).toBe(0);
    expect(model.requests).toHaveLength(0);
    // Nothing was worth starting a worker for.
    expect(keyless.agentsPid).toBeUndefined();
    const stored = (await keyless.get(capture.id))!;
    expect(stored.text).toBe(TEXT);
    expect(stored.status.concepts).toBeUndefined();
    expect((await keyless.search({ query: 'forgetting curve' })).hits.map((h) => h.id)).toEqual([capture.id]);
    await keyless.close();
    cores.splice(cores.indexOf(keyless), 1);

    const keyed = await open(data, { settings: settingsFor(model.url) });
    await keyed.drain();
    expect(jobOf(keyed, 'analyze', capture.id).state).toBe('done');
    const analysed = (await keyed.get(capture.id))!;
    expect(analysed.status.concepts?.state).toBe('done');
    expect(analysed.concepts.map((c) => c.name)).toEqual(['spaced repetition', 'forgetting curve', 'Ebbinghaus']);
  });

  it('offline, the analysis waits without spending an attempt; once the provider is reachable it completes', async () => {
    const port = await freePort();
    const core = await open(dir(), { settings: settingsFor(`http://127.0.0.1:${port}`) });
    const capture = await core.capture({ text: TEXT });
    await core.drain();

    const job = jobOf(core, 'analyze', capture.id);
    expect(job).toMatchObject({ state: 'pending', attempts: 0 });
    expect(job.lastError).toMatch(/^Offline: /);
    expect(job.runAfter).toBeGreaterThan(Date.now());
    expect(core.queue.counts().failed).toBe(0);
    expect((await core.get(capture.id))!.status.concepts).toBeUndefined();
    expect((await core.search({ query: 'spaced repetition' })).hits.map((h) => h.id)).toEqual([capture.id]);

    const model = await fake(port);
    core.wakeAgents();
    await core.drain();
    expect(model.messageRequests()).toHaveLength(1);
    expect(jobOf(core, 'analyze', capture.id).state).toBe('done');
    expect((await core.get(capture.id))!.status.concepts?.state).toBe('done');
  });

  it('with the month budget at zero, analysis waits with the budget reason while capture and search keep working', async () => {
    const model = await fake();
    const core = await open(dir(), { settings: settingsFor(model.url), monthlyBudgetUsd: 0 });
    const first = await core.capture({ text: TEXT });
    const second = await core.capture({ text: 'Active recall beats rereading.' });
    await core.drain();

    for (const id of [first.id, second.id]) {
      const job = jobOf(core, 'analyze', id);
      expect(job).toMatchObject({ state: 'pending', attempts: 0 });
      expect(job.lastError).toMatch(/budget/i);
      expect((await core.get(id))!.status.concepts).toBeUndefined();
    }
    expect(model.requests).toHaveLength(0);
    expect(core.queue.counts().failed).toBe(0);
    expect((await core.search({ query: 'rereading' })).hits.map((h) => h.id)).toEqual([second.id]);
    // Waking does not get around the budget.
    core.wakeAgents();
    await core.drain();
    expect(jobOf(core, 'analyze', first.id).state).toBe('pending');
    expect(model.requests).toHaveLength(0);
  });
});
