import fs from 'node:fs';
import { ImmutableString } from '@automerge/automerge';
import path from 'node:path';
import { Capture, NewCapture, deriveTitle, newCaptureId, shardRecords, fromRecord, type BlobRef } from '@lva/shared';
import { UsageLedger } from './agents/cost/UsageLedger.ts';
import { providerSettingsFromEnv, type ProviderSettings } from './agents/ProviderSettings.ts';
import { fileURLToPath } from 'node:url';
import { runTranscribeJob, TRANSCRIBE_JOB } from './agents/transcribe/TranscribeJob.ts';
import { Conversations } from './agents/conversation/Conversations.ts';
import { BudgetGuard } from './agents/cost/Budget.ts';
import type { AgentHost } from './agents/jobs/agentCall.ts';
import { runAnalyzeJob } from './agents/jobs/analyzeJob.ts';
import { runDescribeJob } from './agents/jobs/describeJob.ts';
import { runDigestJob, scheduleDigests } from './agents/jobs/digestJob.ts';
import { runExtractJob } from './agents/jobs/extractJob.ts';
import { ANALYZE_JOB, DESCRIBE_JOB, DIGEST_JOB, EXTRACT_JOB, enqueueAnalysis, type PipelineDeps } from './agents/jobs/PipelineDeps.ts';
import { Insights } from './agents/synthesis/Insights.ts';
import { weekOf } from './agents/synthesis/weeks.ts';
import { AgentWorker } from './agents/worker/AgentWorker.ts';
import { InProcessAgents } from './agents/worker/InProcessAgents.ts';
import { BlobStore } from './blobs/BlobStore.ts';
import { BlobSync } from './sync/BlobSync.ts';
import { readSyncKeys } from './sync/SyncKeys.ts';
import { fileKind, wavDurationMs } from './captureFiles.ts';
import { dataDirLayout, type DataDirLayout } from './DataDir.ts';
import { DataDirLock } from './device/DataDirLock.ts';
import type { DocStore } from './docs/DocStore.ts';
import { SqliteStorageAdapter } from './docs/SqliteStorageAdapter.ts';
import { readDeviceState } from './device/DeviceState.ts';
import type { EmbedderSource } from './embed/Embedder.ts';
import { resolveEmbedderSource } from './embed/embedderSources.ts';
import { CoreError } from './errors.ts';
import { EMBED_JOB, EmbeddingService } from './index/EmbeddingService.ts';
import { INDEX_SHARD_JOB, IndexUpdater } from './index/IndexUpdater.ts';
import { NO_INDEX_YET, SearchIndex, isCorruption, type IndexFilters, type IndexedCapture } from './index/SearchIndex.ts';
import { ConceptGraph, NEW_GRAPH } from './graph/ConceptGraph.ts';
import { GRAPH_SHARD_JOB, GraphUpdater } from './graph/GraphUpdater.ts';
import { JobQueue, type Job, type JobState } from './jobs/JobQueue.ts';
import { JobRunner, type JobEvent } from './jobs/JobRunner.ts';
import { HybridSearch, type SearchQuery, type SearchResult } from './search/HybridSearch.ts';

const CHECK_INDEX_JOB = 'check-index';

export interface CoreOptions {
  dataDir: string;
  /** An embedder source, or a name: `use` (default, ships with the app) or `hf:<org>/<model>`. */
  embedder?: EmbedderSource | string;
  /** Whether a transformers.js model may be downloaded; off on machines without internet. */
  allowRemoteModels?: boolean;
  deviceName?: string;
  /** Run jobs in the background (the app); the CLI drains them itself so it can show progress and exit. */
  background?: boolean;
  /**
   * 'await' (default): open resolves once the documents are loaded, so a damaged data dir fails here.
   * 'background': open resolves as soon as search can answer; document work waits for them itself.
   */
  documents?: 'await' | 'background';
  /** Providers and local models for the agents; without it, work that needs them waits. */
  agents?: {
    settings: ProviderSettings;
    modelDir?: string;
    preferLocal?: boolean;
    /** USD per month for the optional agents; unset means no limit. */
    monthlyBudgetUsd?: number;
    /** 'worker' (default): agents run in a child process. 'in-process': on the core's event loop. */
    host?: 'worker' | 'in-process';
  };
}

/** Jobs that call an agent, and so wait for keys, the network or the budget. */
const AGENT_JOBS = [TRANSCRIBE_JOB, ANALYZE_JOB, DESCRIBE_JOB, EXTRACT_JOB, DIGEST_JOB];

export type CoreEvent =
  | { type: 'progress'; task: 'index' | 'embed' | 'model' | 'document'; done: number; total: number; message: string }
  | { type: 'notice'; message: string }
  | { type: 'job'; event: JobEvent };

export interface CaptureView extends Capture {
  /** Per-device derived state: whether this device's index and vectors are current. */
  local: { indexed: boolean; embedded: boolean };
}

export interface CoreStats {
  captures: number;
  bySource: Record<string, number>;
  shards: number;
  blobs: { count: number; bytes: number };
  jobs: Record<JobState, number>;
  embedder: { id: string; state: string; embedded: number; total: number; reason?: string };
  disk: { docs: number; index: number };
  deviceId: string;
  dataDir: string;
}

/**
 * The engine behind the app, the CLI and (later) the headless server. It owns the documents (truth),
 * the blob store, the job queue, and the derived index, and exposes one API over them. No Electron here.
 */
export class Core {
  readonly layout: DataDirLayout;
  readonly blobs: BlobStore;
  readonly queue: JobQueue;
  /** What every model call cost, for the monthly budget and `lva stats`. */
  readonly usage: UsageLedger;
  readonly runner: JobRunner;
  readonly embeddings: EmbeddingService;
  #index: SearchIndex;
  #updater: IndexUpdater;
  /** Concepts and their links, derived from the captures' concepts; rebuilt from the documents like the index. */
  readonly graph: ConceptGraph;
  readonly #graphUpdater: GraphUpdater;
  #search: HybridSearch;
  readonly #lock: DataDirLock;
  readonly #storage: SqliteStorageAdapter;
  /** Documents load in the background: search and the index need none, so a cold start can answer first. */
  readonly #docs: Promise<DocStore>;
  readonly #listeners = new Set<(e: CoreEvent) => void>();
  readonly #background: boolean;
  readonly #agents: CoreOptions['agents'];
  readonly #pipeline: PipelineDeps;
  #agentHost: AgentHost | undefined;
  #closed = false;
  /** Start-up's check of which shards the graph lacks; close waits for it, as it writes to the queue. */
  #graphReconcile: Promise<void> = Promise.resolve();
  /** Shards being (re)indexed in bulk, for progress: after a rebuild or when many shards changed at once. */
  #indexRound = { done: 0, total: 0 };

  private constructor(parts: {
    layout: DataDirLayout;
    lock: DataDirLock;
    storage: SqliteStorageAdapter;
    docs: Promise<DocStore>;
    blobs: BlobStore;
    queue: JobQueue;
    index: SearchIndex;
    graph: ConceptGraph;
    source: EmbedderSource;
    background: boolean;
    usage: UsageLedger;
    agents: CoreOptions['agents'];
  }) {
    this.layout = parts.layout;
    this.#lock = parts.lock;
    this.#storage = parts.storage;
    this.#docs = parts.docs;
    this.blobs = parts.blobs;
    this.queue = parts.queue;
    this.usage = parts.usage;
    this.#index = parts.index;
    this.#background = parts.background;
    this.runner = new JobRunner(this.queue);
    this.embeddings = new EmbeddingService(this.#index, this.queue, parts.source);
    this.#updater = this.#wireIndex(this.#index);
    this.#search = new HybridSearch(this.#index, this.embeddings);
    this.runner.register(INDEX_SHARD_JOB, (job) => this.#updater.run(job));
    this.graph = parts.graph;
    this.#graphUpdater = new GraphUpdater(() => this.#docs, this.graph, this.queue);
    this.runner.register(GRAPH_SHARD_JOB, async (job) => {
      const report = await this.#graphUpdater.run(job);
      for (const bad of report.invalid) this.#emit({ type: 'notice', message: `capture ${bad.id} was left out of the concept graph: ${bad.error}` });
    });
    const agents = parts.agents;
    this.#agents = agents;
    this.#pipeline = this.#pipelineDeps(agents);
    this.runner.register(TRANSCRIBE_JOB, (job) => runTranscribeJob(this.#pipeline, job));
    this.runner.register(ANALYZE_JOB, (job) => runAnalyzeJob(this.#pipeline, job));
    this.runner.register(DESCRIBE_JOB, (job) => runDescribeJob(this.#pipeline, job));
    this.runner.register(EXTRACT_JOB, (job, context) => runExtractJob(this.#pipeline, job, context));
    this.runner.register(DIGEST_JOB, async (job) => {
      await runDigestJob(this.#pipeline, job);
    });
    this.runner.register(EMBED_JOB, (job) => this.embeddings.run(job));
    this.runner.register(CHECK_INDEX_JOB, () => {
      this.checkIndex();
      return Promise.resolve();
    });
    this.runner.onEvent((event) => this.#emit({ type: 'job', event }));
    this.embeddings.onProgress((p) =>
      this.#emit({ type: 'progress', task: 'embed', done: p.embedded, total: p.total, message: `embedding captures (${p.embedderId})` }),
    );
    this.embeddings.onLoadProgress((p) =>
      this.#emit({ type: 'progress', task: 'model', done: p.loaded ?? 0, total: p.total ?? 0, message: `loading model${p.file ? ` ${p.file}` : ''}: ${p.stage}` }),
    );
    this.#docs.then(
      (docs) =>
        docs.onShardChange((docId) => {
          this.#updater.enqueue(docId);
          this.#graphUpdater.enqueue(docId);
          this.runner.poke();
        }),
      () => undefined,
    );
  }

  #pipelineDeps(agents: CoreOptions['agents']): PipelineDeps {
    const settings = agents?.settings ?? providerSettingsFromEnv({});
    const host = (): AgentHost => this.#host();
    return {
      // A getter, so the worker process starts on the first job that needs it, not with the core.
      get agents() {
        return host();
      },
      settings,
      usage: this.usage,
      budget: new BudgetGuard(this.usage, agents?.monthlyBudgetUsd === undefined ? {} : { monthlyBudgetUsd: agents.monthlyBudgetUsd }),
      docs: () => this.#docs,
      blob: (sha) => this.blob(sha),
      queue: this.queue,
      importCaptures: (inputs) => this.importCaptures(inputs),
      list: (options) => this.#index.list(options),
      progress: (task, done, total, message) => this.#emit({ type: 'progress', task, done, total, message }),
      notice: (message) => this.#emit({ type: 'notice', message }),
      modelDir: agents?.modelDir ?? this.layout.models,
      preferLocal: agents?.preferLocal ?? false,
    };
  }

  /** The agents' process, started on first use: a search or a capture never pays for it. */
  #host(): AgentHost {
    if (!this.#agentHost) {
      const tasksModule = fileURLToPath(new URL('./agents/agentTasks.ts', import.meta.url));
      this.#agentHost =
        this.#agents?.host === 'in-process'
          ? new InProcessAgents(async () => ((await import('./agents/agentTasks.ts')).tasks))
          : new AgentWorker({ tasksModule });
    }
    return this.#agentHost;
  }

  /** The agent worker's process id, once started (for diagnostics, and the tests that kill it). */
  get agentsPid(): number | undefined {
    return this.#agentHost instanceof AgentWorker ? this.#agentHost.pid : undefined;
  }

  /** The documents, once loaded. Rejects (e.g. DATA_DIR_INVALID) if they cannot be. */
  documents(): Promise<DocStore> {
    return this.#docs;
  }

  static async open(options: CoreOptions): Promise<Core> {
    const layout = dataDirLayout(options.dataDir);
    if (fs.existsSync(layout.root) && !fs.statSync(layout.root).isDirectory()) {
      throw new CoreError('DATA_DIR_INVALID', `${layout.root} is a file, not a data directory`);
    }
    fs.mkdirSync(layout.root, { recursive: true });
    const lock = new DataDirLock(layout.lock);
    lock.acquire();
    const storage = new SqliteStorageAdapter(layout.docs);
    try {
      // Imported here, not at the top: automerge-repo takes ~150 ms to load, and a search does not need it.
      const docs = import('./docs/DocStore.ts').then(({ DocStore }) => DocStore.open(layout, storage, options.deviceName));
      if (options.documents !== 'background') await docs;
      else docs.catch(() => undefined);
      const source =
        typeof options.embedder === 'object'
          ? options.embedder
          : resolveEmbedderSource(options.embedder ?? 'use', { modelDir: layout.models, allowRemote: options.allowRemoteModels ?? true });
      // Opens in the background: a search never waits for it, graph calls queue behind the opening.
      const graph = ConceptGraph.openInBackground(layout.graph);
      const core = new Core({
        layout,
        lock,
        storage,
        docs,
        blobs: new BlobStore(layout.blobs),
        queue: new JobQueue(layout.jobs),
        index: SearchIndex.open(layout.index),
        graph,
        source,
        background: options.background ?? true,
        usage: new UsageLedger(layout.usage),
        agents: options.agents,
      });
      core.#startup();
      return core;
    } catch (err) {
      storage.close();
      lock.release();
      throw err;
    }
  }

  #wireIndex(index: SearchIndex): IndexUpdater {
    const updater = new IndexUpdater(() => this.#docs, this.#storage, index, this.queue);
    updater.onReport((report) => {
      this.embeddings.invalidate();
      if (this.#indexRound.total > 0) {
        this.#indexRound.done = Math.min(this.#indexRound.total, this.#indexRound.done + 1);
        this.#emit({ type: 'progress', task: 'index', done: this.#indexRound.done, total: this.#indexRound.total, message: 'indexing documents' });
        if (this.#indexRound.done === this.#indexRound.total) this.#indexRound = { done: 0, total: 0 };
      }
      if (report.upserted > 0) this.embeddings.enqueue();
      for (const bad of report.invalid) this.#emit({ type: 'notice', message: `capture ${bad.id} was skipped by the index: ${bad.error}` });
    });
    return updater;
  }

  #startup(): void {
    if (this.#index.status.kind === 'created' && this.#index.status.reason !== NO_INDEX_YET) {
      this.#emit({ type: 'notice', message: this.#index.status.reason });
    }
    this.queue.prune(7 * 86_400_000);
    this.#reconcile();
    // Whatever the agents waited for (a key, the network) may be here now: each kind checks once.
    for (const kind of AGENT_JOBS) this.queue.wakePending(kind);
    if (this.#background) scheduleDigests(this.#pipeline);
    this.graph.ready.then(
      (status) => {
        if (status.kind === 'created' && status.reason !== NEW_GRAPH) this.#emit({ type: 'notice', message: `the concept graph was rebuilt (${status.reason})` });
      },
      (err: unknown) => this.#emit({ type: 'notice', message: `the concept graph could not be opened: ${(err as Error).message}; concepts are kept on the captures, and graph views wait` }),
    );
    this.#graphReconcile = this.#docs.then(
      async (docs) => {
        if (this.#closed) return;
        if ((await this.#graphUpdater.reconcile(docs.shardIds())) > 0) this.runner.poke();
      },
      () => undefined,
    );
    this.embeddings.enqueue();
    // The full page check reads the whole index (~1 s at 100k), so it runs after start-up has settled.
    if (this.#background) this.queue.enqueue(CHECK_INDEX_JOB, 'index', null, { priority: 200, delayMs: 30_000 });
    // Loading starts now so the first search finds the model warm; a failure only means keyword search.
    this.embeddings.load().catch(() => undefined);
    if (this.#background) this.runner.start();
  }

  #reconcile(showProgress = false): void {
    const stale = this.#updater.reconcile();
    // One shard is routine; more means a rebuild or a catch-up worth showing.
    if (stale > 1 || (showProgress && stale > 0)) this.#indexRound = { done: 0, total: stale };
  }

  on(listener: (e: CoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: CoreEvent): void {
    for (const l of this.#listeners) l(event);
  }

  get indexStatus(): SearchIndex['status'] {
    return this.#index.status;
  }

  // ---- captures ----

  #newCapture(raw: NewCapture, deviceId: string): Capture {
    const parsed = NewCapture.safeParse(raw);
    if (!parsed.success) throw new CoreError('BAD_INPUT', formatIssues(parsed.error.issues));
    const input = parsed.data;
    const now = Date.now();
    const createdAt = input.createdAt ?? now;
    const title = input.title ?? deriveTitle(input.text);
    if (!input.text.trim() && !title.trim() && input.blobs.length === 0) throw new CoreError('BAD_INPUT', 'a capture needs text, a title or a file');
    const capture: Capture = {
      id: input.id ?? (newCaptureId(createdAt) as Capture['id']),
      createdAt,
      source: input.source,
      deviceId,
      title,
      text: input.text,
      blobs: input.blobs,
      ...(input.origin ? { origin: input.origin } : {}),
      status: {},
      concepts: [],
      tags: [...new Set(input.tags.map((t) => t.toLowerCase()))],
      edits: [],
    };
    return Capture.parse(capture);
  }

  /** Stores a capture and resolves once it is on disk; indexing follows as a job. */
  async capture(input: NewCapture): Promise<Capture> {
    const [capture] = await this.captureMany([input]);
    // Concepts for what a person captures one at a time. Bulk imports are left out: thousands of old
    // notes would spend the month's budget before anyone asked for it.
    if (capture!.text.trim()) {
      enqueueAnalysis(this.queue, capture!.id);
      this.runner.poke();
    }
    return capture!;
  }

  /** Many captures in one document change and one fsync: the bulk path. */
  async captureMany(inputs: readonly NewCapture[]): Promise<Capture[]> {
    return (await this.importCaptures(inputs)).map((r) => r.capture);
  }

  /**
   * Like captureMany, but inputs that carry the id of a capture this device already has are skipped
   * (`created: false`), so importing the same export twice adds nothing.
   */
  async importCaptures(inputs: readonly NewCapture[]): Promise<{ capture: Capture; created: boolean }[]> {
    const docs = await this.#docs;
    const results: { capture: Capture; created: boolean }[] = [];
    for (const input of inputs) {
      const capture = this.#newCapture(input, docs.device.deviceId);
      const created = input.id === undefined || !(await docs.getCapture(capture.id));
      results.push({ capture, created });
    }
    await docs.addCaptures(results.filter((r) => r.created).map((r) => r.capture));
    return results;
  }

  /** Stores the file as a blob (fsynced) before the capture that refers to it. */
  async captureFile(file: string, extra: { title?: string; tags?: string[]; text?: string } = {}): Promise<Capture> {
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new CoreError('NOT_FOUND', `no such file: ${file}`);
    const docs = await this.#docs;
    const head = Buffer.alloc(16);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, head, 0, 16, 0);
    } finally {
      fs.closeSync(fd);
    }
    const kind = fileKind(file, head);
    const stored = this.blobs.putFile(file);
    const blob: BlobRef = { sha256: stored.sha256, mime: kind.mime, size: stored.size, name: path.basename(file) };
    if (kind.mime === 'audio/wav') {
      const durationMs = wavDurationMs(stored.bytes);
      if (durationMs !== undefined) blob.durationMs = durationMs;
    }
    const capture = this.#newCapture({
      text: extra.text ?? '',
      title: extra.title ?? path.basename(file, path.extname(file)),
      source: kind.source,
      tags: extra.tags ?? [],
      blobs: [blob],
    }, docs.device.deviceId);
    capture.status[kind.step] = { state: 'pending', updatedAt: capture.createdAt };
    await docs.addCaptures([capture]);
    // Acknowledged first: the transcript follows, and a crash in between leaves the job to run again.
    const job = { transcribe: TRANSCRIBE_JOB, describe: DESCRIBE_JOB, extract: EXTRACT_JOB }[kind.step];
    this.queue.enqueue(job, capture.id, { captureId: capture.id }, { priority: 50 });
    this.runner.poke();
    return capture;
  }

  /**
   * A capture's file. Blobs are fetched on demand: one captured on another device comes from the
   * relay the first time it is opened here, checked against its SHA-256, then kept locally.
   */
  async blob(sha256: string): Promise<Buffer> {
    if (this.blobs.has(sha256)) return this.blobs.get(sha256);
    const keys = readSyncKeys(this.layout.root);
    if (!keys) throw new CoreError('NOT_FOUND', `blob ${sha256} is not on this device`);
    const sync = new BlobSync(this.layout.root, keys, this.blobs);
    try {
      return await sync.fetch(sha256);
    } finally {
      sync.close();
    }
  }

  async get(id: string): Promise<CaptureView | undefined> {
    const capture = await (await this.#docs).getCapture(id);
    if (!capture || capture.deletedAt !== undefined) return undefined;
    const rowid = this.#index.rowidOf(id);
    const embedded = rowid !== undefined && this.#index.isEmbedded(this.embeddings.embedderId, rowid);
    return { ...capture, local: { indexed: rowid !== undefined, embedded } };
  }

  /**
   * Captures as the index holds them (title, text, time), in the order asked, without loading their
   * documents: retrieval reads these, because the first read of a cold month shard (an Automerge
   * load of up to 2,000 captures) would otherwise land inside an answer.
   */
  indexedCaptures(ids: readonly string[]): IndexedCapture[] {
    const rowids = new Map<string, number>();
    for (const id of ids) {
      const rowid = this.#index.rowidOf(id);
      if (rowid !== undefined) rowids.set(id, rowid);
    }
    const rows = this.#index.captures([...rowids.values()]);
    return ids.flatMap((id) => {
      const row = rowids.has(id) ? rows.get(rowids.get(id)!) : undefined;
      return row ? [row] : [];
    });
  }

  /** Records a person's edit; the edit log keeps machine output from silently overwriting it later. */
  async edit(id: string, patch: { title?: string; text?: string; tags?: string[] }): Promise<void> {
    const at = Date.now();
    const docs = await this.#docs;
    const deviceId = docs.device.deviceId;
    const next = Capture.pick({ title: true, text: true, tags: true }).partial().safeParse(patch);
    if (!next.success) throw new CoreError('BAD_INPUT', formatIssues(next.error.issues));
    const found = await docs.changeCapture(id, (record) => {
      if (next.data.title !== undefined) {
        record.title = next.data.title;
        record.edits.push({ at, deviceId, field: 'title' });
      }
      if (next.data.text !== undefined) {
        record.text = new ImmutableString(next.data.text);
        record.edits.push({ at, deviceId, field: 'text' });
      }
      if (next.data.tags !== undefined) {
        record.tags = [...new Set(next.data.tags.map((t) => t.toLowerCase()))];
        record.edits.push({ at, deviceId, field: 'tags' });
      }
    });
    if (!found) throw new CoreError('NOT_FOUND', `no capture with id ${id}`);
    // New words may mean new concepts.
    if (next.data.text !== undefined && next.data.text.trim()) {
      enqueueAnalysis(this.queue, id);
      this.runner.poke();
    }
  }

  async delete(id: string): Promise<void> {
    const found = await (await this.#docs).changeCapture(id, (record) => {
      record.deletedAt = Date.now();
    });
    if (!found) throw new CoreError('NOT_FOUND', `no capture with id ${id}`);
  }

  list(options: { limit?: number; before?: { createdAt: number; id: string }; filters?: IndexFilters } = {}): IndexedCapture[] {
    return this.#index.list({ limit: options.limit ?? 50, ...(options.before ? { before: options.before } : {}), ...(options.filters ? { filters: options.filters } : {}) });
  }

  /** Every live capture, read from the documents (not the index), oldest first: the export path. */
  async *allCaptures(): AsyncGenerator<Capture> {
    const docs = await this.#docs;
    const all: Capture[] = [];
    for (const docId of docs.shardIds()) {
      const handle = await docs.shard(docId);
      for (const [, record] of shardRecords(handle.doc())) {
        const parsed = fromRecord(record);
        if (parsed.ok && parsed.capture.deletedAt === undefined) all.push(parsed.capture);
      }
    }
    all.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    yield* all;
  }

  // ---- conversations and the agents ----

  async conversations(): Promise<Conversations> {
    return new Conversations(await this.#docs);
  }

  /** Speech to text for a voice turn, by the same route (and in the same worker) as the transcription job. */
  async transcribe(audio: { bytes: Uint8Array; mime: string; name?: string }): Promise<{ text: string }> {
    const p = this.#pipeline;
    const result = await this.#host().call<{ text: string; durationMs: number | undefined; via: string; model: string }>('transcribe', { settings: p.settings, preferLocal: p.preferLocal, modelDir: p.modelDir, audio });
    if (result.via === 'cloud' && result.durationMs !== undefined) this.usage.record({ role: 'transcription', model: result.model, audioSeconds: result.durationMs / 1000 });
    return { text: result.text };
  }

  async insights(): Promise<Insights> {
    return new Insights(await this.#docs);
  }

  /** Writes the digest of a week (this one, so far, by default) now, replacing any earlier one. */
  async digestNow(week = weekOf(Date.now()).label): Promise<void> {
    this.queue.enqueue(DIGEST_JOB, week, { week, force: true }, { priority: 0, maxAttempts: 5 });
    await this.runner.drain([DIGEST_JOB]);
    // The on-demand run took the week's job; the scheduled digest of the whole week is still to come.
    if (this.#background) scheduleDigests(this.#pipeline);
  }

  /** Cancels a job: a running one stops at its next check, a pending one does not start. */
  cancelJob(id: number): boolean {
    return this.runner.cancel(id);
  }

  retryJob(id: number): boolean {
    const retried = this.queue.retry(id);
    if (retried) this.runner.poke();
    return retried;
  }

  /** Makes every waiting agent job due now: after a key was set or the network came back. */
  wakeAgents(): void {
    for (const kind of AGENT_JOBS) this.queue.wakePending(kind);
    this.runner.poke();
  }

  /**
   * Captures linked to these through the concept graph, for retrieval. The graph answers one call at
   * a time, so behind a large rebuild it can be slow: retrieval then goes without it rather than wait.
   */
  async relatedCaptures(ids: readonly string[], options: { limit?: number; timeoutMs?: number } = {}): Promise<{ id: string; score: number }[]> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<[]>((resolve) => (timer = setTimeout(() => resolve([]), options.timeoutMs ?? 250)));
    try {
      return await Promise.race([this.graph.relatedCaptures(ids, { limit: options.limit ?? 10 }).catch(() => []), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- search ----

  /** One search API for the UI, the agents and the CLI. `waitForModel` trades latency for hybrid results on a cold start. */
  async search(query: SearchQuery, options: { waitForModel?: boolean } = {}): Promise<SearchResult> {
    if (options.waitForModel) await this.embeddings.load().catch(() => undefined);
    try {
      return await this.#search.search(query);
    } catch (err) {
      if (!isCorruption(err)) throw err;
      // Damage the cheap open-time checks missed: rebuild, catch up the keywords, answer from that.
      this.#replaceIndex(`the search index is damaged (${(err as Error).message}); rebuilding it from your captures`);
      await this.catchUpIndex();
      return this.#search.search(query);
    }
  }

  // ---- jobs and the index ----

  jobs(filter: { state?: JobState; kind?: string; limit?: number } = {}): Job[] {
    return this.queue.list(filter);
  }

  /** Runs every due job now (index, then embeddings); waiting jobs stay waiting. */
  async drain(): Promise<void> {
    await this.runner.drain();
  }

  /** Brings keyword search up to date without waiting for the (slower) embedding backlog. */
  async catchUpIndex(): Promise<void> {
    await this.runner.drain([INDEX_SHARD_JOB]);
  }

  /** Rebuilds the index from the documents alone, as if it had been deleted. */
  async reindex(): Promise<void> {
    await this.runner.stop();
    this.#index.close();
    fs.rmSync(this.layout.index, { force: true });
    this.#index = SearchIndex.open(this.layout.index);
    this.#rebindIndex();
    this.#reconcile(true);
    await this.graph.clear();
    await this.#graphUpdater.reconcile((await this.#docs).shardIds(), { all: true });
    await this.runner.drain();
    if (this.#background) this.runner.start();
  }

  /**
   * Swaps a damaged index for an empty one and queues its rebuild. Synchronous, so it is safe from
   * inside a job; a job still holding the old index fails and is retried against the new one.
   */
  #replaceIndex(reason: string): void {
    this.#emit({ type: 'notice', message: reason });
    try {
      this.#index.close();
    } catch {
      // Already unusable; it is being replaced.
    }
    this.#index = SearchIndex.replace(this.layout.index, reason);
    this.#rebindIndex();
    this.#reconcile(true);
    this.embeddings.enqueue();
    this.runner.poke();
  }

  /** Reads every page of the index; if any is damaged, starts a rebuild. Returns the problem found. */
  checkIndex(): string | undefined {
    const problem = this.#index.check();
    if (problem) this.#replaceIndex(`the search index is damaged (${problem}); rebuilding it from your captures`);
    return problem;
  }

  #rebindIndex(): void {
    this.#updater = this.#wireIndex(this.#index);
    this.embeddings.rebind(this.#index);
    this.#search = new HybridSearch(this.#index, this.embeddings);
  }

  stats(): CoreStats {
    const blobs = { count: 0, bytes: 0 };
    if (fs.existsSync(this.layout.blobs)) {
      for (const dir of fs.readdirSync(this.layout.blobs)) {
        for (const f of fs.readdirSync(path.join(this.layout.blobs, dir))) {
          if (f.endsWith('.tmp')) continue;
          blobs.count++;
          blobs.bytes += fs.statSync(path.join(this.layout.blobs, dir, f)).size;
        }
      }
    }
    const size = (file: string): number => ['', '-wal'].reduce((n, s) => n + (fs.existsSync(file + s) ? fs.statSync(file + s).size : 0), 0);
    const status = this.embeddings.status;
    const coverage = this.embeddings.coverage();
    return {
      captures: this.#index.count(),
      bySource: this.#index.countsBySource(),
      shards: this.#index.shardCount(),
      blobs,
      jobs: this.queue.counts(),
      embedder: {
        id: this.embeddings.embedderId,
        state: status.state,
        ...coverage,
        ...(status.state === 'unavailable' ? { reason: status.reason } : {}),
      },
      disk: { docs: size(this.layout.docs), index: size(this.layout.index) },
      deviceId: readDeviceState(this.layout.device)?.deviceId ?? '',
      dataDir: this.layout.root,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#graphReconcile.catch(() => undefined);
    await this.runner.stop();
    await this.#agentHost?.close();
    try {
      await (await this.#docs).close();
    } catch {
      // The documents never opened; their storage is still ours to close.
      this.#storage.close();
    }
    this.queue.close();
    this.usage.close();
    this.#index.close();
    await this.graph.close();
    this.#lock.release();
  }
}

export function formatIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message)).join('; ');
}
