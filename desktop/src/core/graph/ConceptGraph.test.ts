import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lbug from '@ladybugdb/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ConceptGraph, captureSignature, type GraphCapture } from './ConceptGraph.ts';

const dirs: string[] = [];
const open: ConceptGraph[] = [];
afterEach(async () => {
  for (const g of open.splice(0)) await g.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-graph-'));
  dirs.push(dir);
  return dir;
}

async function openGraph(dir = tempDir()): Promise<ConceptGraph> {
  const graph = await ConceptGraph.open(dir);
  open.push(graph);
  return graph;
}

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 6); // a Monday

function cap(id: string, day: number, names: string[], relations: GraphCapture['relations'] = undefined): GraphCapture {
  return { id, createdAt: T0 + day * DAY, concepts: names.map((name) => ({ name })), ...(relations ? { relations } : {}) };
}

// A small study history: ML, then biology, joined by "neural network" ↔ "neuron".
const CAPTURES: GraphCapture[] = [
  cap('c1', 0, ['Neural Networks', 'Backpropagation', 'gradient descent'], [{ from: 'backpropagation', to: 'neural nets', kind: 'part_of' }]),
  cap('c2', 1, ['neural net', 'gradient descent', 'learning rate']),
  cap('c3', 2, ['Gradient Descent', 'learning rates', 'convex functions']),
  cap('c4', 10, ['neuron', 'synapse'], [{ from: 'neuron', to: 'neural network', kind: 'related_to' }]),
  cap('c5', 11, ['synapses', 'neurotransmitter']),
  cap('c6', 40, ['photosynthesis', 'chlorophyll']),
];

describe('ConceptGraph', () => {
  it('creates a graph, then opens it again with what it held', async () => {
    const dir = tempDir();
    const first = await ConceptGraph.open(dir);
    expect(first.status.kind).toBe('created');
    await first.replaceCaptures('s1', CAPTURES, []);
    await first.close();
    const again = await openGraph(dir);
    expect(again.status).toEqual({ kind: 'opened' });
    expect(await again.captureCount()).toBe(6);
    // neural network, backpropagation, gradient descent, learning rate, convex function, neuron, synapse, neurotransmitter, photosynthesis, chlorophyll
    expect(await again.conceptCount()).toBe(10);
  });

  it('recreates a graph of another schema version or one that cannot be opened', async () => {
    const dir = tempDir();
    const graph = await ConceptGraph.open(dir);
    await graph.replaceCaptures('s1', CAPTURES, []);
    await graph.close();
    // An older version: rewrite the recorded version behind the graph's back.
    const db = new lbug.Database(path.join(dir, 'graph.lbug'));
    const conn = new lbug.Connection(db);
    const result = await conn.query("MATCH (m:Meta {key: 'schemaVersion'}) SET m.value = '0'");
    for (const r of Array.isArray(result) ? result : [result]) r.close();
    await conn.close();
    await db.close();
    const rebuilt = await ConceptGraph.open(dir);
    expect(rebuilt.status).toMatchObject({ kind: 'created', reason: expect.stringContaining('schema version 0') as unknown });
    expect(await rebuilt.captureCount()).toBe(0);
    await rebuilt.close();

    fs.writeFileSync(path.join(dir, 'graph.lbug'), 'not a database');
    const fresh = await openGraph(dir);
    expect(fresh.status).toMatchObject({ kind: 'created', reason: expect.stringContaining('could not open') as unknown });
    await fresh.replaceCaptures('s1', CAPTURES.slice(0, 1), []);
    expect(await fresh.captureCount()).toBe(1);
  });

  it('merges name variants into one concept and finds captures by any spelling, newest first', async () => {
    const graph = await openGraph();
    await graph.replaceCaptures('s1', CAPTURES, []);
    expect(await graph.capturesByConcept('the neural nets')).toEqual([
      { id: 'c2', createdAt: T0 + DAY },
      { id: 'c1', createdAt: T0 },
    ]);
    expect((await graph.capturesByConcept('NN', { limit: 1 })).map((c) => c.id)).toEqual(['c2']);
    expect(await graph.capturesByConcept('quantum chromodynamics')).toEqual([]);
    expect(await graph.capturesByConcept('?!')).toEqual([]);
  });

  it('ranks neighbours by the captures supporting each link, stated relations named', async () => {
    const graph = await openGraph();
    await graph.replaceCaptures('s1', CAPTURES, []);
    const near = await graph.neighbours('neural networks');
    expect(near.map((n) => [n.key, n.relation, n.weight, n.depth])).toEqual([
      ['gradient descent', 'co_mentioned', 2, 1],
      ['backpropagation', 'part_of', 1, 1],
      ['learning rate', 'co_mentioned', 1, 1],
      ['neuron', 'related_to', 1, 1],
    ]);
    const wide = await graph.neighbours('neural network', { depth: 2 });
    const second = wide.filter((n) => n.depth === 2);
    expect(second.map((n) => n.key).sort()).toEqual(['convex function', 'synapse']);
    expect(second.find((n) => n.key === 'synapse')).toMatchObject({ via: 'neuron', weight: 1 });
    expect(await graph.neighbours('neural network', { limit: 2 })).toHaveLength(2);
    expect(await graph.neighbours('no such thing')).toEqual([]);
  });

  it('finds a shortest path over relations and co-mentions', async () => {
    const graph = await openGraph();
    await graph.replaceCaptures('s1', CAPTURES, []);
    const route = await graph.path('learning rates', 'neurotransmitters');
    expect(route?.map((s) => s.key)).toEqual(['learning rate', 'neural network', 'neuron', 'synapse', 'neurotransmitter']);
    expect(route?.[0]?.link).toBeUndefined();
    expect(route?.[2]?.link).toEqual({ kind: 'related_to', captureId: 'c4' });
    expect(route?.[1]?.link).toEqual({ kind: 'co_mentioned', captureId: 'c2' });
    expect(await graph.path('learning rate', 'neurotransmitter', 3)).toBeUndefined();
    expect(await graph.path('neural network', 'photosynthesis')).toBeUndefined();
    expect(await graph.path('neural network', 'unknown')).toBeUndefined();
    expect(await graph.path('NN', 'neural nets')).toEqual([{ key: 'neural network', name: 'neural network' }]);
  });

  it('counts top concepts in a time range and per period', async () => {
    const graph = await openGraph();
    await graph.replaceCaptures('s1', CAPTURES, []);
    const top = await graph.topConcepts({ limit: 2 });
    expect(top.map((t) => [t.key, t.captures])).toEqual([
      ['gradient descent', 3],
      // Ties on captures and importance go by key: learning rate before neural network.
      ['learning rate', 2],
    ]);
    expect(top[0]!.importance).toBeCloseTo(1.5);
    const later = await graph.topConcepts({ from: T0 + 10 * DAY, to: T0 + 40 * DAY });
    expect(later.map((t) => t.key)).toEqual(['synapse', 'neuron', 'neurotransmitter']);

    const weeks = await graph.topConceptsByPeriod({ bucket: 'week', perPeriod: 1 });
    expect(weeks.map((w) => [w.period, w.concepts.map((c) => c.key)])).toEqual([
      ['2025-01-06', ['gradient descent']],
      ['2025-01-13', ['synapse']],
      ['2025-02-10', ['chlorophyll']],
    ]);
    const months = await graph.topConceptsByPeriod({ bucket: 'month', perPeriod: 2 });
    expect(months.map((m) => [m.period, m.start])).toEqual([
      ['2025-01', Date.UTC(2025, 0, 1)],
      ['2025-02', Date.UTC(2025, 1, 1)],
    ]);
  });

  it('finds related captures, shared concepts above neighbouring ones', async () => {
    const graph = await openGraph();
    await graph.replaceCaptures('s1', CAPTURES, []);
    const related = await graph.relatedCaptures(['c2']);
    expect(related.map((r) => r.id)).toEqual(['c1', 'c3', 'c4']);
    // c1 shares neural network and gradient descent, and mentions backpropagation, a neighbour of them.
    // Each counts by its rarity: neural network is in 2 captures (1/log2 3), gradient descent in 3 (1/2),
    // backpropagation, a stated neighbour, in 1 (a quarter of 1/log2 2).
    expect(related[0]).toEqual({ id: 'c1', score: 1.381, via: ['neural network', 'gradient descent', 'backpropagation'] });
    expect(related[2]).toMatchObject({ id: 'c4', via: ['neuron'] });
    expect((await graph.relatedCaptures(['c2'], { exclude: ['c1'], limit: 1 })).map((r) => r.id)).toEqual(['c3']);
    expect(await graph.relatedCaptures(['c6'])).toEqual([]);
    expect(await graph.relatedCaptures([])).toEqual([]);
  });

  it('replaces a capture idempotently, drops unsupported concepts and keeps names independent of order', async () => {
    const graph = await openGraph();
    await graph.replaceCaptures('s1', CAPTURES, []);
    await graph.replaceCaptures('s1', CAPTURES, []);
    expect(await graph.captureCount()).toBe(6);
    expect((await graph.capturesByConcept('gradient descent')).map((c) => c.id)).toEqual(['c3', 'c2', 'c1']);

    // c6 now talks about something else: its old concepts have no support left and go.
    await graph.replaceCaptures('s1', [cap('c6', 40, ['DNA replication'])], []);
    expect(await graph.capturesByConcept('photosynthesis')).toEqual([]);
    expect(await graph.conceptCount()).toBe(9);
    expect(await graph.conceptsOf('c6')).toEqual(['dna replication']);
    expect((await graph.neighbours('neuron')).find((n) => n.key === 'dna replication')).toBeUndefined();

    // The name shown is the most common spelling, whichever came first.
    await graph.replaceCaptures('s1', [cap('c7', 41, ['dna replication']), cap('c8', 42, ['DNA replication'])], []);
    expect((await graph.topConcepts({ from: T0 + 40 * DAY })).map((t) => t.name)).toEqual(['DNA replication']);

    // A relation's endpoints become concepts even when the capture does not list them.
    await graph.replaceCaptures('s2', [cap('c9', 50, ['mitosis'], [{ from: 'meiosis', to: 'mitosis', kind: 'contrasts_with' }])], []);
    expect((await graph.neighbours('mitosis'))[0]).toMatchObject({ key: 'meiosis', relation: 'contrasts_with', weight: 1 });

    const report = await graph.replaceCaptures('s2', [], ['c9', 'not-there']);
    expect(report.deleted).toBe(1);
    expect(await graph.neighbours('mitosis')).toEqual([]);
    expect(await graph.capturesByConcept('mitosis')).toEqual([]);
    expect((await graph.signatures('s2')).size).toBe(0);
  });

  it('records signatures per shard and skips names that normalise to nothing', async () => {
    const graph = await openGraph();
    const c = cap('x1', 0, ['valid', '!!!'], [{ from: '???', to: 'valid', kind: 'causes' }]);
    const report = await graph.replaceCaptures('s9', [c], []);
    expect(report).toEqual({ upserted: 1, deleted: 0, skippedNames: 2 });
    expect(await graph.signatures('s9')).toEqual(new Map([['x1', captureSignature(c)]]));
    expect(captureSignature({ ...c, createdAt: 1 })).not.toBe(captureSignature(c));
    expect(await graph.signatures('other')).toEqual(new Map());
    await graph.clear();
    expect(await graph.captureCount()).toBe(0);
    expect(await graph.conceptCount()).toBe(0);
  });
});
