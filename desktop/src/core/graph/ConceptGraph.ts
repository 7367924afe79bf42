import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import lbug from '@ladybugdb/core';
import type { Connection, Database, LbugValue, QueryResult } from '@ladybugdb/core';
import type { Concept, ConceptRelation, RelationKind } from '@lva/shared';
import { normaliseConceptName } from './conceptNames.ts';

/** Bump when the schema or what is derived into it changes: the graph is then rebuilt from the documents. */
export const GRAPH_SCHEMA_VERSION = 1;

const DB_FILE = 'graph.lbug';
/** Absent importance counts as middling, so a capture without scores still ranks its concepts. */
const DEFAULT_IMPORTANCE = 0.5;
/** A shared concept is worth this many neighbour concepts in relatedCaptures. */
const SHARED_WEIGHT = 1;
/** The reason a graph was created when there was none: nothing to tell anyone about. */
export const NEW_GRAPH = 'new graph';
const NEIGHBOUR_WEIGHT = 0.25;
/** Above this many mentions a concept is a hub, not a link: relatedCaptures ignores it. */
const MAX_MENTIONS_FOR_RELATED = 200;
/** Neighbours followed per concept when widening (depth 2, related captures), so one hub cannot flood a query. */
const FAN_OUT = 50;

const SCHEMA = [
  'CREATE NODE TABLE Meta(key STRING PRIMARY KEY, value STRING)',
  'CREATE NODE TABLE Concept(key STRING PRIMARY KEY, name STRING, type STRING)',
  // The Automerge heads of each document the graph reflects, written with the captures in one transaction.
  'CREATE NODE TABLE ShardState(docId STRING PRIMARY KEY, heads STRING)',
  'CREATE NODE TABLE CaptureNode(id STRING PRIMARY KEY, createdAt INT64, shard STRING, sig STRING)',
  // The raw display name and type are kept per mention so a concept's shown name is recomputed from what remains.
  'CREATE REL TABLE MENTIONS(FROM CaptureNode TO Concept, importance DOUBLE, name STRING, type STRING)',
  'CREATE REL TABLE RELATES(FROM Concept TO Concept, kind STRING, captureId STRING)',
];

export interface GraphCapture {
  id: string;
  createdAt: number;
  concepts: readonly Concept[];
  relations?: readonly ConceptRelation[] | undefined;
}

export type GraphStatus = { kind: 'opened' } | { kind: 'created'; reason: string };

export type LinkKind = RelationKind | 'co_mentioned';

export interface Neighbour {
  key: string;
  name: string;
  type?: string;
  /** An explicit relation when any capture states one (the most supported), else co-mention. */
  relation: LinkKind;
  /** Captures supporting the link; at depth 2, the weaker of the two links (a chain is as strong as its weakest link). */
  weight: number;
  depth: 1 | 2;
  /** At depth 2, the depth-1 concept it was reached through. */
  via?: string;
}

export interface PathStep {
  key: string;
  name: string;
  /** How this step links to the previous one; absent on the first. */
  link?: { kind: LinkKind; captureId: string };
}

export interface TopConcept {
  key: string;
  name: string;
  captures: number;
  /** Summed importance over those captures' mentions. */
  importance: number;
}

export interface PeriodTop {
  /** Start of the period, UTC ms: the 1st of the month, or the Monday of the week. */
  start: number;
  /** `YYYY-MM` for months, `YYYY-MM-DD` (the Monday) for weeks. */
  period: string;
  concepts: TopConcept[];
}

export interface RelatedCapture {
  id: string;
  score: number;
  /** Concept keys that connect it to the given captures. */
  via: string[];
}

export interface ReplaceReport {
  upserted: number;
  deleted: number;
  /** Concept or relation names that normalised to nothing. */
  skippedNames: number;
}

type Row = Record<string, LbugValue>;

interface Link {
  /** Capture ids supporting the link, over every kind. */
  captures: Set<string>;
  /** Support per explicit relation kind. */
  kinds: Map<RelationKind, number>;
}

/** Identifies a capture's graph content: unchanged captures are skipped without touching the graph. */
export function captureSignature(capture: GraphCapture): string {
  const body = JSON.stringify([capture.createdAt, capture.concepts.map((c) => [c.name, c.type ?? null, c.importance ?? null]), (capture.relations ?? []).map((r) => [r.from, r.to, r.kind])]);
  return crypto.createHash('sha256').update(body).digest('hex').slice(0, 32);
}

/**
 * The concept graph: concepts, the captures that mention them and the relations captures state,
 * in LadybugDB. Derived from the documents (GraphUpdater), so it can be deleted and rebuilt.
 *
 * LadybugDB allows one writing connection at a time, so there is one connection, and every call is
 * queued behind the previous one: a transaction must never interleave with another call's statements.
 */
export class ConceptGraph {
  #status: GraphStatus = { kind: 'opened' };
  #db: Database | undefined;
  #connection: Connection | undefined;
  /** Settles once the database is open; every call waits behind it. */
  readonly ready: Promise<GraphStatus>;
  #queue: Promise<unknown>;
  #closed = false;

  private constructor(opening: Promise<{ db: Database; conn: Connection; status: GraphStatus }>) {
    this.ready = opening.then(({ db, conn, status }) => {
      this.#db = db;
      this.#connection = conn;
      this.#status = status;
      return status;
    });
    this.#queue = this.ready.catch(() => undefined);
  }

  /** How the graph was opened; meaningful once `ready` has settled. */
  get status(): GraphStatus {
    return this.#status;
  }

  get #conn(): Connection {
    if (!this.#connection) throw new Error('the concept graph could not be opened');
    return this.#connection;
  }

  static async open(dir: string): Promise<ConceptGraph> {
    const graph = ConceptGraph.openInBackground(dir);
    await graph.ready;
    return graph;
  }

  /**
   * Returns at once and opens in the background (200–400 ms): every call queues behind the opening,
   * so a command that never touches the graph (a search) does not wait for it.
   */
  static openInBackground(dir: string): ConceptGraph {
    return new ConceptGraph(openHandles(dir));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.catch(() => undefined);
    await this.#connection?.close();
    await this.#db?.close();
  }

  /** Capture id → signature of what the graph holds for it, for the captures of one shard. */
  async signatures(shard: string): Promise<Map<string, string>> {
    const rows = await this.#read('MATCH (n:CaptureNode) WHERE n.shard = $shard RETURN n.id AS id, n.sig AS sig', { shard });
    return new Map(rows.map((r) => [str(r.id), str(r.sig)]));
  }

  /** The heads recorded for a document by the last replaceCaptures that passed them. */
  async shardHeads(shard: string): Promise<string[] | undefined> {
    const rows = await this.#read('MATCH (s:ShardState {docId: $shard}) RETURN s.heads AS heads', { shard });
    return rows[0] ? (JSON.parse(str(rows[0].heads)) as string[]) : undefined;
  }

  /** Every document the graph has recorded heads for. */
  async knownShards(): Promise<Set<string>> {
    const rows = await this.#read('MATCH (s:ShardState) RETURN s.docId AS docId', {});
    return new Set(rows.map((r) => str(r.docId)));
  }

  /**
   * Replaces what the graph holds for these captures and removes the deleted ones, in one transaction:
   * a crash leaves the graph as before the call, and the updater's job runs again.
   */
  async replaceCaptures(shard: string, captures: readonly GraphCapture[], deletes: readonly string[], state?: { heads: readonly string[] }): Promise<ReplaceReport> {
    const report: ReplaceReport = { upserted: captures.length, deleted: 0, skippedNames: 0 };
    const concepts = new Map<string, { key: string; name: string; type: string | null }>();
    const capRows: Row[] = [];
    const mentionRows: Row[] = [];
    const relationRows: Row[] = [];
    for (const capture of captures) {
      capRows.push({ id: capture.id, createdAt: capture.createdAt, sig: captureSignature(capture) });
      const mentioned = new Map<string, Row>();
      for (const concept of capture.concepts) {
        const norm = normaliseConceptName(concept.name);
        if (!norm) {
          report.skippedNames++;
          continue;
        }
        if (!concepts.has(norm.key)) concepts.set(norm.key, { key: norm.key, name: norm.name, type: concept.type ?? null });
        // Two raw names merging into one key in the same capture are one mention, at the higher importance.
        const milli = Math.round((concept.importance ?? DEFAULT_IMPORTANCE) * 1000);
        const seen = mentioned.get(norm.key);
        if (!seen || (seen.milli as number) < milli) mentioned.set(norm.key, { id: capture.id, key: norm.key, milli, name: norm.name, type: concept.type ?? null });
      }
      mentionRows.push(...mentioned.values());
      const stated = new Set<string>();
      for (const relation of capture.relations ?? []) {
        const from = normaliseConceptName(relation.from);
        const to = normaliseConceptName(relation.to);
        if (!from || !to) {
          report.skippedNames++;
          continue;
        }
        if (from.key === to.key || stated.has(`${from.key}\n${to.key}\n${relation.kind}`)) continue;
        stated.add(`${from.key}\n${to.key}\n${relation.kind}`);
        for (const end of [from, to]) if (!concepts.has(end.key)) concepts.set(end.key, { key: end.key, name: end.name, type: null });
        relationRows.push({ from: from.key, to: to.key, kind: relation.kind, captureId: capture.id });
      }
    }
    const ids = [...new Set([...captures.map((c) => c.id), ...deletes])];
    if (ids.length === 0 && !state) return report;

    await this.#serial(async () => {
      await run(this.#conn, 'BEGIN TRANSACTION');
      try {
        // Concepts these captures used to touch may be left without support, and their shown name may change.
        const before = await run(
          this.#conn,
          `MATCH (n:CaptureNode)-[:MENTIONS]->(c:Concept) WHERE n.id IN $ids RETURN DISTINCT c.key AS key
           UNION MATCH (c:Concept)-[r:RELATES]-(:Concept) WHERE r.captureId IN $ids RETURN DISTINCT c.key AS key`,
          { ids },
        );
        const touched = new Set([...before.map((r) => str(r.key)), ...concepts.keys()]);
        const existing = await run(this.#conn, 'MATCH (n:CaptureNode) WHERE n.id IN $ids RETURN n.id AS id', { ids: [...deletes] });
        report.deleted = existing.length;
        await run(this.#conn, 'MATCH (:Concept)-[r:RELATES]->(:Concept) WHERE r.captureId IN $ids DELETE r', { ids });
        await run(this.#conn, 'MATCH (n:CaptureNode) WHERE n.id IN $ids DETACH DELETE n', { ids });
        // LadybugDB cannot type an empty list of structs, so empty batches are not sent.
        if (concepts.size > 0) {
          await run(this.#conn, 'UNWIND $rows AS row MERGE (c:Concept {key: row.key}) ON CREATE SET c.name = row.name, c.type = row.type', {
            rows: [...concepts.values()],
          });
        }
        if (capRows.length > 0) {
          await run(this.#conn, 'UNWIND $rows AS row CREATE (:CaptureNode {id: row.id, createdAt: row.createdAt, shard: $shard, sig: row.sig})', { rows: capRows, shard });
        }
        if (mentionRows.length > 0) {
          // Matching in WHERE, not in the pattern, is twice as fast for a batch (measured: 0.8 s against 1.7 s for 20,000 rows).
          // Importance travels as integer thousandths: a JS 1 would otherwise type the list as INT64 and clash with 0.5.
          await run(
            this.#conn,
            `UNWIND $rows AS row MATCH (n:CaptureNode) WHERE n.id = row.id MATCH (c:Concept) WHERE c.key = row.key
             CREATE (n)-[:MENTIONS {importance: row.milli / 1000.0, name: row.name, type: row.type}]->(c)`,
            { rows: mentionRows },
          );
        }
        if (relationRows.length > 0) {
          await run(
            this.#conn,
            `UNWIND $rows AS row MATCH (a:Concept) WHERE a.key = row.from MATCH (b:Concept) WHERE b.key = row.to
             CREATE (a)-[:RELATES {kind: row.kind, captureId: row.captureId}]->(b)`,
            { rows: relationRows },
          );
        }
        await this.#settleConcepts([...touched]);
        if (state) {
          await run(this.#conn, 'MERGE (s:ShardState {docId: $shard}) SET s.heads = $heads', { shard, heads: JSON.stringify([...state.heads].sort()) });
        }
        await run(this.#conn, 'COMMIT');
      } catch (err) {
        // A failed statement already ended the transaction in LadybugDB; this is for failures between statements.
        await run(this.#conn, 'ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
    return report;
  }

  /**
   * Drops concepts nothing supports any more, and recomputes the shown name and type of the rest from
   * their mentions (the most common variant), so the graph depends only on the captures it holds, not
   * on the order they arrived in: a rebuild gives the same graph.
   */
  async #settleConcepts(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await run(
      this.#conn,
      `MATCH (c:Concept) WHERE c.key IN $keys AND NOT EXISTS { MATCH (c)<-[:MENTIONS]-(:CaptureNode) } AND NOT EXISTS { MATCH (c)-[:RELATES]-(:Concept) }
       DELETE c`,
      { keys },
    );
    // Counted in the query: a popular concept has tens of thousands of mentions, and reading each
    // one back on every batch made building a large graph quadratic.
    const rows = await run(
      this.#conn,
      'MATCH (c:Concept)<-[m:MENTIONS]-(:CaptureNode) WHERE c.key IN $keys RETURN c.key AS key, m.name AS name, m.type AS type, count(*) AS n',
      { keys },
    );
    const variants = new Map<string, { names: string[]; types: string[] }>();
    for (const row of rows) {
      const v = variants.get(str(row.key)) ?? { names: [], types: [] };
      const n = Number(row.n);
      for (let i = 0; i < n; i++) {
        v.names.push(str(row.name));
        if (typeof row.type === 'string' && row.type !== '') v.types.push(row.type);
      }
      variants.set(str(row.key), v);
    }
    const updates = [...variants].map(([key, v]) => ({ key, name: mostCommon(v.names) ?? key, type: mostCommon(v.types) ?? null }));
    if (updates.length > 0) {
      await run(this.#conn, 'UNWIND $rows AS row MATCH (c:Concept {key: row.key}) SET c.name = row.name, c.type = row.type', { rows: updates });
    }
  }

  /**
   * Concepts linked to `concept` by stated relations or by being mentioned in the same capture, strongest
   * first within each depth (depth 1 before depth 2). An unknown concept has no neighbours.
   */
  async neighbours(concept: string, opts: { depth?: 1 | 2; limit?: number } = {}): Promise<Neighbour[]> {
    const key = normaliseConceptName(concept)?.key;
    if (!key) return [];
    const limit = opts.limit ?? 20;
    return this.#serial(async () => {
      const first = (await this.#links([key])).get(key) ?? new Map<string, Link>();
      const found = new Map<string, Omit<Neighbour, 'name' | 'type'>>();
      for (const [other, link] of first) found.set(other, { key: other, relation: linkKind(link), weight: link.captures.size, depth: 1 });
      if (opts.depth === 2) {
        const hops = [...first].sort((a, b) => b[1].captures.size - a[1].captures.size).slice(0, FAN_OUT);
        const second = await this.#links(hops.map(([k]) => k));
        for (const [mid, midLink] of hops) {
          for (const [other, link] of second.get(mid) ?? []) {
            if (other === key || first.has(other)) continue;
            const weight = Math.min(midLink.captures.size, link.captures.size);
            const prev = found.get(other);
            if (!prev || prev.weight < weight) found.set(other, { key: other, relation: linkKind(link), weight, depth: 2, via: mid });
          }
        }
      }
      const ranked = [...found.values()].sort((a, b) => a.depth - b.depth || b.weight - a.weight || a.key.localeCompare(b.key)).slice(0, limit);
      const info = await this.#conceptInfo(ranked.map((n) => n.key));
      return ranked.map((n) => {
        const c = info.get(n.key);
        return { ...n, name: c?.name ?? n.key, ...(c?.type ? { type: c.type } : {}) };
      });
    });
  }

  /**
   * A shortest chain of concepts from one to the other, each step linked by a stated relation or by
   * one capture mentioning both; a co-mention is one hop, like a relation. Breadth first, a query per
   * level, from the smaller side. Undefined when either is unknown or no chain of `maxHops` exists.
   */
  async path(from: string, to: string, maxHops = 6): Promise<PathStep[] | undefined> {
    const a = normaliseConceptName(from)?.key;
    const b = normaliseConceptName(to)?.key;
    if (!a || !b) return undefined;
    return this.#serial(async () => {
      const known = await this.#conceptInfo([a, b]);
      if (!known.has(a) || !known.has(b)) return undefined;
      if (a === b) return [{ key: a, name: known.get(a)!.name }];
      // Each side maps a reached concept to how it was reached; the two searches meet in the middle.
      type Reached = { prev: string; kind: LinkKind; captureId: string; depth: number } | { prev: null; depth: 0 };
      const sides = [new Map<string, Reached>([[a, { prev: null, depth: 0 }]]), new Map<string, Reached>([[b, { prev: null, depth: 0 }]])];
      const frontiers = [[a], [b]];
      let meet: { key: string; length: number } | undefined;
      for (let hops = 0; hops < maxHops && !meet; hops++) {
        const side = frontiers[0]!.length <= frontiers[1]!.length ? 0 : 1;
        const mine = sides[side]!;
        const theirs = sides[1 - side]!;
        const links = await this.#links(frontiers[side]!);
        const next: string[] = [];
        // Sorted so that among equally short paths the same one is found every time.
        for (const key of frontiers[side]!.sort()) {
          const depth = mine.get(key)!.depth + 1;
          for (const [other, link] of [...(links.get(key) ?? [])].sort((x, y) => x[0].localeCompare(y[0]))) {
            if (mine.has(other)) continue;
            mine.set(other, { prev: key, kind: linkKind(link), captureId: [...link.captures].sort()[0]!, depth });
            next.push(other);
            const there = theirs.get(other);
            // The whole level is finished before stopping: a later meet may reach the other side nearer its start.
            if (there && (!meet || depth + there.depth < meet.length)) meet = { key: other, length: depth + there.depth };
          }
        }
        if (next.length === 0) return undefined;
        frontiers[side] = next;
      }
      if (!meet) return undefined;
      const steps: { key: string; link?: { kind: LinkKind; captureId: string } }[] = [];
      for (let key: string | null = meet.key; key !== null; ) {
        const r: Reached = sides[0]!.get(key)!;
        steps.unshift({ key, ...(r.prev !== null ? { link: { kind: r.kind, captureId: r.captureId } } : {}) });
        key = r.prev;
      }
      for (let r = sides[1]!.get(meet.key)!; r.prev !== null; r = sides[1]!.get(r.prev)!) {
        steps.push({ key: r.prev, link: { kind: r.kind, captureId: r.captureId } });
      }
      const info = await this.#conceptInfo(steps.map((s) => s.key));
      return steps.map((s) => ({ key: s.key, name: info.get(s.key)?.name ?? s.key, ...(s.link ? { link: s.link } : {}) }));
    });
  }

  /**
   * Concepts by how many captures made in [from, to) mention them. In these queries sum() comes before
   * count(DISTINCT): LadybugDB 0.19.1 returns null for a sum() placed after a count(DISTINCT).
   */
  async topConcepts(opts: { from?: number; to?: number; limit?: number } = {}): Promise<TopConcept[]> {
    const rows = await this.#read(
      `MATCH (n:CaptureNode)-[m:MENTIONS]->(c:Concept) WHERE n.createdAt >= $from AND n.createdAt < $to
       RETURN c.key AS key, c.name AS name, sum(m.importance) AS importance, count(DISTINCT n) AS captures
       ORDER BY captures DESC, importance DESC, key LIMIT $limit`,
      { from: opts.from ?? 0, to: opts.to ?? Number.MAX_SAFE_INTEGER, limit: opts.limit ?? 20 },
    );
    return rows.map(toTop);
  }

  /** The top concepts of each UTC week (from Monday) or month with any captures, oldest first. */
  async topConceptsByPeriod(opts: { bucket: 'week' | 'month'; from?: number; to?: number; perPeriod?: number }): Promise<PeriodTop[]> {
    const unit = opts.bucket === 'week' ? 'week' : 'month';
    const rows = await this.#read(
      `MATCH (n:CaptureNode)-[m:MENTIONS]->(c:Concept) WHERE n.createdAt >= $from AND n.createdAt < $to
       WITH to_epoch_ms(date_trunc('${unit}', to_timestamp(n.createdAt / 1000))) AS start, n, m, c
       RETURN start, c.key AS key, c.name AS name, sum(m.importance) AS importance, count(DISTINCT n) AS captures`,
      { from: opts.from ?? 0, to: opts.to ?? Number.MAX_SAFE_INTEGER },
    );
    const byStart = new Map<number, TopConcept[]>();
    for (const row of rows) {
      const start = Number(row.start);
      byStart.set(start, [...(byStart.get(start) ?? []), toTop(row)]);
    }
    const perPeriod = opts.perPeriod ?? 5;
    return [...byStart]
      .sort((x, y) => x[0] - y[0])
      .map(([start, concepts]) => ({
        start,
        period: new Date(start).toISOString().slice(0, unit === 'month' ? 7 : 10),
        concepts: concepts.sort((x, y) => y.captures - x.captures || y.importance - x.importance || x.key.localeCompare(y.key)).slice(0, perPeriod),
      }));
  }

  /** Captures that mention a concept, newest first. */
  async capturesByConcept(concept: string, opts: { limit?: number } = {}): Promise<{ id: string; createdAt: number }[]> {
    const key = normaliseConceptName(concept)?.key;
    if (!key) return [];
    const rows = await this.#read(
      'MATCH (n:CaptureNode)-[:MENTIONS]->(c:Concept {key: $key}) RETURN n.id AS id, n.createdAt AS createdAt ORDER BY createdAt DESC, id DESC LIMIT $limit',
      { key, limit: opts.limit ?? 50 },
    );
    return rows.map((r) => ({ id: str(r.id), createdAt: Number(r.createdAt) }));
  }

  /** The concept keys a capture mentions, sorted. */
  async conceptsOf(captureId: string): Promise<string[]> {
    const rows = await this.#read('MATCH (n:CaptureNode {id: $id})-[:MENTIONS]->(c:Concept) RETURN c.key AS key ORDER BY key', { id: captureId });
    return rows.map((r) => str(r.key));
  }

  /**
   * Other captures connected to these through concepts: mentioning the same ones, or their neighbours.
   * For retrieval's graph step; each shared concept counts four times a neighbour one.
   */
  async relatedCaptures(captureIds: readonly string[], opts: { limit?: number; exclude?: readonly string[] } = {}): Promise<RelatedCapture[]> {
    if (captureIds.length === 0) return [];
    // This runs inside every answer, so it sticks to lookups by primary key (UNWIND … {key: k}):
    // filtering with IN scanned every node, and expanding co-mentions of popular concepts took
    // hundreds of milliseconds at 10k captures. Neighbours are the stated relations only; a
    // co-mentioned concept is already reached through the captures that share it.
    return this.#serial(async () => {
      const seedRows = await run(this.#conn, 'UNWIND $ids AS id MATCH (n:CaptureNode {id: id})-[:MENTIONS]->(c:Concept) RETURN DISTINCT c.key AS key', { ids: [...captureIds] });
      const seeds = new Set(seedRows.map((r) => str(r.key)));
      if (seeds.size === 0) return [];
      const neighbourRows = await run(this.#conn, 'UNWIND $keys AS k MATCH (a:Concept {key: k})-[:RELATES]-(b:Concept) RETURN DISTINCT b.key AS key', { keys: [...seeds] });
      const neighbours = neighbourRows.map((r) => str(r.key)).filter((k) => !seeds.has(k)).sort().slice(0, FAN_OUT);
      // A concept that hundreds of captures mention links them all to everything and nothing, and
      // reading its mentions back costs more than the whole search: such hubs are left out.
      const counts = await run(this.#conn, 'UNWIND $keys AS k MATCH (c:Concept {key: k})<-[:MENTIONS]-(m:CaptureNode) RETURN c.key AS key, count(m) AS n', { keys: [...seeds, ...neighbours] });
      const specific = counts.filter((r) => Number(r.n) <= MAX_MENTIONS_FOR_RELATED).map((r) => str(r.key));
      if (specific.length === 0) return [];
      const rows = await run(this.#conn, 'UNWIND $keys AS k MATCH (c:Concept {key: k})<-[:MENTIONS]-(m:CaptureNode) RETURN c.key AS key, collect(m.id) AS ids', { keys: specific });
      const exclude = new Set([...captureIds, ...(opts.exclude ?? [])]);
      const found = new Map<string, { score: number; via: { key: string; weight: number }[] }>();
      for (const row of rows) {
        const key = str(row.key);
        const ids = row.ids as string[];
        // A concept half the captures mention says little about any two of them: rarer ones weigh more.
        const weight = (seeds.has(key) ? SHARED_WEIGHT : NEIGHBOUR_WEIGHT) / Math.log2(1 + ids.length);
        for (const id of ids) {
          if (exclude.has(id)) continue;
          const entry = found.get(id) ?? { score: 0, via: [] };
          entry.score += weight;
          entry.via.push({ key, weight });
          found.set(id, entry);
        }
      }
      return [...found]
        .map(([id, { score, via }]) => ({
          id,
          score: Math.round(score * 1000) / 1000,
          via: via.sort((x, y) => y.weight - x.weight || x.key.localeCompare(y.key)).map((v) => v.key),
        }))
        .sort((x, y) => y.score - x.score || x.id.localeCompare(y.id))
        .slice(0, opts.limit ?? 20);
    });
  }

  async conceptCount(): Promise<number> {
    const rows = await this.#read('MATCH (c:Concept) RETURN count(c) AS n', {});
    return Number(rows[0]?.n ?? 0);
  }

  async captureCount(): Promise<number> {
    const rows = await this.#read('MATCH (n:CaptureNode) RETURN count(n) AS n', {});
    return Number(rows[0]?.n ?? 0);
  }

  /** Empties the graph, keeping its schema: for a rebuild from the documents. */
  async clear(): Promise<void> {
    await this.#serial(async () => {
      await run(this.#conn, 'BEGIN TRANSACTION');
      try {
        await run(this.#conn, 'MATCH (n:CaptureNode) DETACH DELETE n');
        await run(this.#conn, 'MATCH (c:Concept) DETACH DELETE c');
        await run(this.#conn, 'MATCH (s:ShardState) DELETE s');
        await run(this.#conn, 'COMMIT');
      } catch (err) {
        await run(this.#conn, 'ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Links of each given concept: neighbour key → supporting captures and stated kinds. */
  async #links(keys: string[]): Promise<Map<string, Map<string, Link>>> {
    const out = new Map<string, Map<string, Link>>();
    if (keys.length === 0) return out;
    const linkOf = (a: string, b: string): Link => {
      const m = out.get(a) ?? new Map<string, Link>();
      out.set(a, m);
      const link = m.get(b) ?? { captures: new Set(), kinds: new Map() };
      m.set(b, link);
      return link;
    };
    const stated = await run(
      this.#conn,
      `MATCH (a:Concept)-[r:RELATES]-(b:Concept) WHERE a.key IN $keys AND a.key <> b.key
       RETURN a.key AS a, b.key AS b, r.kind AS kind, collect(DISTINCT r.captureId) AS captures`,
      { keys },
    );
    for (const row of stated) {
      const link = linkOf(str(row.a), str(row.b));
      const captures = row.captures as string[];
      for (const id of captures) link.captures.add(id);
      const kind = str(row.kind) as RelationKind;
      link.kinds.set(kind, (link.kinds.get(kind) ?? 0) + captures.length);
    }
    const together = await run(
      this.#conn,
      `MATCH (a:Concept)<-[:MENTIONS]-(n:CaptureNode)-[:MENTIONS]->(b:Concept) WHERE a.key IN $keys AND a.key <> b.key
       RETURN a.key AS a, b.key AS b, collect(DISTINCT n.id) AS captures`,
      { keys },
    );
    for (const row of together) {
      const link = linkOf(str(row.a), str(row.b));
      for (const id of row.captures as string[]) link.captures.add(id);
    }
    return out;
  }

  async #conceptInfo(keys: string[]): Promise<Map<string, { name: string; type?: string }>> {
    const rows = await run(this.#conn, 'MATCH (c:Concept) WHERE c.key IN $keys RETURN c.key AS key, c.name AS name, c.type AS type', { keys });
    return new Map(rows.map((r) => [str(r.key), { name: str(r.name), ...(typeof r.type === 'string' ? { type: r.type } : {}) }]));
  }

  async #read(cypher: string, params: Record<string, LbugValue>): Promise<Row[]> {
    return this.#serial(() => run(this.#conn, cypher, params));
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the concept graph is closed'));
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

/** Runs one statement and reads all of its rows, closing every result. */
async function run(conn: Connection, cypher: string, params?: Record<string, LbugValue>): Promise<Row[]> {
  let result: QueryResult | QueryResult[];
  if (params) {
    const statement = await conn.prepare(cypher);
    if (!statement.isSuccess()) throw new Error(`graph query failed to prepare: ${statement.getErrorMessage()}`);
    result = await conn.execute(statement, params);
  } else {
    result = await conn.query(cypher);
  }
  const results = Array.isArray(result) ? result : [result];
  try {
    const rows: Row[] = [];
    // Not push(...rows): spreading a result of 100k+ rows into arguments overflows the stack.
    for (const r of results) for (const row of await r.getAll()) rows.push(row);
    return rows;
  } finally {
    for (const r of results) r.close();
  }
}

async function readVersion(conn: Connection): Promise<number | undefined> {
  const rows = await run(conn, "MATCH (m:Meta {key: 'schemaVersion'}) RETURN m.value AS value");
  const value = rows[0]?.value;
  return typeof value === 'string' ? Number(value) : undefined;
}

function str(value: LbugValue | undefined): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return value.toString();
  throw new Error(`graph returned ${value === null ? 'null' : typeof value} where text was expected`);
}

function toTop(row: Row): TopConcept {
  return { key: str(row.key), name: str(row.name), captures: Number(row.captures), importance: Math.round(Number(row.importance) * 1000) / 1000 };
}

function linkKind(link: Link): LinkKind {
  let best: [RelationKind, number] | undefined;
  for (const [kind, n] of link.kinds) if (!best || n > best[1] || (n === best[1] && kind < best[0])) best = [kind, n];
  return best ? best[0] : 'co_mentioned';
}

/** The most frequent value; ties go to the smallest, which prefers capitals ("DNA" over "dna"). */
function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: [string, number] | undefined;
  for (const [v, n] of counts) if (!best || n > best[1] || (n === best[1] && v < best[0])) best = [v, n];
  return best?.[0];
}

async function openHandles(dir: string): Promise<{ db: Database; conn: Connection; status: GraphStatus }> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, DB_FILE);
  let reason = NEW_GRAPH;
  if (fs.existsSync(file)) {
    let db: Database | undefined;
    let conn: Connection | undefined;
    try {
      db = new lbug.Database(file);
      conn = new lbug.Connection(db);
      const version = await readVersion(conn);
      if (version === GRAPH_SCHEMA_VERSION) return { db, conn, status: { kind: 'opened' } };
      reason = `schema version ${version ?? 'missing'}, expected ${GRAPH_SCHEMA_VERSION}`;
    } catch (err) {
      reason = `could not open: ${err instanceof Error ? err.message : String(err)}`;
    }
    await conn?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
  }
  // Derived data: whatever is there (an older schema, a damaged file, its WAL) is replaced.
  for (const entry of fs.readdirSync(dir)) if (entry.startsWith(DB_FILE)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  const db = new lbug.Database(file);
  const conn = new lbug.Connection(db);
  try {
    await run(conn, 'BEGIN TRANSACTION');
    for (const statement of SCHEMA) await run(conn, statement);
    await run(conn, 'CREATE (:Meta {key: $key, value: $value})', { key: 'schemaVersion', value: String(GRAPH_SCHEMA_VERSION) });
    await run(conn, 'COMMIT');
  } catch (err) {
    await conn.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
  return { db, conn, status: { kind: 'created', reason } };
}
