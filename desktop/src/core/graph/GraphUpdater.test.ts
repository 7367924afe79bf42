import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newCaptureId, type Capture, type Concept, type ConceptRelation } from '@lva/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { dataDirLayout } from '../DataDir.ts';
import { DocStore } from '../docs/DocStore.ts';
import { SqliteStorageAdapter } from '../docs/SqliteStorageAdapter.ts';
import { JobQueue } from '../jobs/JobQueue.ts';
import { ConceptGraph } from './ConceptGraph.ts';
import { GRAPH_SHARD_JOB, GraphUpdater, type GraphReport } from './GraphUpdater.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  dir: string;
  docs: DocStore;
  queue: JobQueue;
  graph: ConceptGraph;
  updater: GraphUpdater;
}

async function setup(): Promise<Setup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-graph-upd-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const paths = dataDirLayout(dir);
  const docs = await DocStore.open(paths, new SqliteStorageAdapter(paths.docs), 'test');
  cleanups.push(() => docs.close());
  const queue = new JobQueue(paths.jobs);
  cleanups.push(() => queue.close());
  const graph = await openGraph(dir);
  return { dir, docs, queue, graph, updater: new GraphUpdater(() => Promise.resolve(docs), graph, queue) };
}

async function openGraph(dir: string): Promise<ConceptGraph> {
  const graph = await ConceptGraph.open(path.join(dir, 'graph'));
  cleanups.push(() => graph.close());
  return graph;
}

/** Runs every queued graph job, as the JobRunner would. */
async function drain(queue: JobQueue, updater: GraphUpdater): Promise<GraphReport[]> {
  const reports: GraphReport[] = [];
  for (let job = queue.claim([GRAPH_SHARD_JOB]); job; job = queue.claim([GRAPH_SHARD_JOB])) {
    reports.push(await updater.run(job));
    queue.complete(job.id);
  }
  return reports;
}

const T0 = Date.UTC(2025, 2, 3);
const DAY = 86_400_000;

function capture(day: number, concepts: string[], relations: ConceptRelation[] = []): Capture {
  const createdAt = T0 + day * DAY;
  return {
    id: newCaptureId(createdAt) as Capture['id'],
    createdAt,
    source: 'text',
    deviceId: 'd',
    title: concepts.join(', '),
    text: concepts.join(', '),
    blobs: [],
    status: {},
    concepts: concepts.map((name): Concept => ({ name, importance: 0.8 })),
    ...(relations.length > 0 ? { relations } : {}),
    tags: [],
    edits: [],
  };
}

// Spread over two months, so over two shards.
function seed(): Capture[] {
  return [
    capture(0, ['Neural networks', 'backpropagation'], [{ from: 'backpropagation', to: 'neural networks', kind: 'part_of' }]),
    capture(1, ['neural net', 'gradient descent']),
    capture(2, ['gradient descent', 'learning rate']),
    capture(40, ['neurons', 'synapses'], [{ from: 'neuron', to: 'neural network', kind: 'related_to' }]),
    capture(41, ['synapse', 'neurotransmitter']),
  ];
}

async function answers(graph: ConceptGraph) {
  return {
    concepts: await graph.conceptCount(),
    captures: await graph.captureCount(),
    top: await graph.topConcepts({ limit: 50 }),
    months: await graph.topConceptsByPeriod({ bucket: 'month', perPeriod: 3 }),
    neighbours: await graph.neighbours('neural network', { depth: 2 }),
    path: await graph.path('learning rate', 'neurotransmitter'),
    byConcept: await graph.capturesByConcept('gradient descent'),
  };
}

describe('GraphUpdater', () => {
  it('derives the graph from the shard documents and skips what did not change', async () => {
    const { docs, queue, graph, updater } = await setup();
    const captures = seed();
    await docs.addCaptures(captures);
    expect(docs.shardIds()).toHaveLength(2);
    expect(await updater.reconcile([...docs.shardIds(), docs.account.documentId])).toBe(3);
    const first = await drain(queue, updater);
    expect(first.reduce((n, r) => n + r.upserted, 0)).toBe(5);
    expect(await graph.captureCount()).toBe(5);
    expect((await graph.capturesByConcept('neural networks')).map((c) => c.id)).toEqual([captures[1]!.id, captures[0]!.id]);
    expect((await graph.neighbours('neuron')).map((n) => [n.key, n.relation])).toEqual([
      ['neural network', 'related_to'],
      ['synapse', 'co_mentioned'],
    ]);

    // Every document, the account included, is recorded: nothing is enqueued again.
    expect(await updater.reconcile([...docs.shardIds(), docs.account.documentId])).toBe(0);
    // A run over an unchanged document ends at the heads; one over a changed shard rewrites only what changed.
    updater.enqueue(docs.shardIds()[0]!);
    expect(await drain(queue, updater)).toEqual([{ docId: docs.shardIds()[0], upserted: 0, deleted: 0, unchanged: 0, invalid: [] }]);
    await docs.changeCapture(captures[2]!.id, (r) => {
      r.title = 'edited title, same concepts';
    });
    await docs.changeCapture(captures[1]!.id, (r) => {
      r.concepts = [{ name: 'stochastic gradient descent' }];
    });
    updater.enqueue(docs.shardIds()[0]!);
    const [changed] = await drain(queue, updater);
    expect(changed).toMatchObject({ upserted: 1, deleted: 0, unchanged: 2 });
    // The capture's old mentions are gone; only the new concept is linked to it.
    expect((await graph.capturesByConcept('neural network')).map((c) => c.id)).toEqual([captures[0]!.id]);
    expect((await graph.capturesByConcept('gradient descent')).map((c) => c.id)).toEqual([captures[2]!.id]);
    expect((await graph.capturesByConcept('stochastic gradient descent')).map((c) => c.id)).toEqual([captures[1]!.id]);
    expect(await graph.conceptsOf(captures[1]!.id)).toEqual(['stochastic gradient descent']);
  });

  it('removes deleted and malformed captures', async () => {
    const { docs, queue, graph, updater } = await setup();
    const captures = seed();
    await docs.addCaptures(captures);
    await updater.reconcile(docs.shardIds());
    await drain(queue, updater);

    await docs.changeCapture(captures[4]!.id, (r) => {
      r.deletedAt = T0 + 50 * DAY;
    });
    // A concept name may not be empty: the record no longer validates.
    await docs.changeCapture(captures[3]!.id, (r) => {
      r.concepts.push({ name: '' });
    });
    const newer = capture(42, ['neurotransmitters', 'dopamine']);
    await docs.addCaptures([newer]);
    for (const id of docs.shardIds()) updater.enqueue(id);
    const reports = await drain(queue, updater);
    const second = reports.find((r) => r.invalid.length > 0);
    expect(second).toMatchObject({ upserted: 1, deleted: 2, invalid: [{ id: captures[3]!.id }] });
    expect(second?.invalid[0]?.error).toMatch(/concepts/);
    expect((await graph.capturesByConcept('neurotransmitter')).map((c) => c.id)).toEqual([newer.id]);
    expect(await graph.capturesByConcept('synapse')).toEqual([]);
    // Deleted captures' concepts with nothing else left go with them.
    expect(await graph.neighbours('synapse')).toEqual([]);
    expect(await graph.captureCount()).toBe(4);
  });

  it('rebuilds the same graph after the graph directory is deleted', async () => {
    const { dir, docs, queue, graph, updater } = await setup();
    await docs.addCaptures(seed());
    await updater.reconcile(docs.shardIds());
    await drain(queue, updater);
    const before = await answers(graph);
    expect(before.path?.map((s) => s.key)).toEqual(['learning rate', 'gradient descent', 'neural network', 'neuron', 'synapse', 'neurotransmitter']);
    await graph.close();
    fs.rmSync(path.join(dir, 'graph'), { recursive: true, force: true });

    const rebuilt = await openGraph(dir);
    expect(rebuilt.status.kind).toBe('created');
    const again = new GraphUpdater(() => Promise.resolve(docs), rebuilt, queue);
    expect(await again.reconcile(docs.shardIds())).toBe(2);
    await drain(queue, again);
    expect(await answers(rebuilt)).toEqual(before);
  });
});
