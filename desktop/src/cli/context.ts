import { parseArgs, type ParseArgsConfig } from 'node:util';
import { providerSettingsFromEnv } from '../core/agents/ProviderSettings.ts';
import { Core, type CoreEvent } from '../core/Core.ts';
import { defaultDataDir } from '../core/DataDir.ts';
import { NO_INDEX_YET } from '../core/index/SearchIndex.ts';
import { UsageError } from './CliError.ts';
import { Progress } from './progress.ts';

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  embedder: { type: 'string' },
  offline: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!.replace(/^Unknown option/, 'unknown option'));
  }
}

export interface GlobalValues {
  'data-dir'?: string | undefined;
  json?: boolean | undefined;
  embedder?: string | undefined;
  offline?: boolean | undefined;
}

export interface WithCoreOptions {
  readOnly?: boolean;
  /** Job keys whose failures the command reports itself once the jobs have run, so they are not said twice. */
  summarised?: ReadonlySet<string>;
}

/** Opens the core for one command, with model and index progress on stderr, and closes it afterwards. */
export async function withCore<T>(values: GlobalValues, run: (core: Core) => Promise<T>, options: WithCoreOptions = {}): Promise<T> {
  const bars = new Map<string, Progress>();
  const core = await Core.open({
    // Commands that only read answer from the index while the documents load.
    documents: options.readOnly ? 'background' : 'await',
    dataDir: values['data-dir'] ?? defaultDataDir(),
    background: false,
    embedder: values.embedder ?? process.env.LVA_EMBEDDER ?? 'use',
    allowRemoteModels: !values.offline,
    agents: {
      settings: providerSettingsFromEnv(),
      ...(process.env.LVA_MODEL_DIR ? { modelDir: process.env.LVA_MODEL_DIR } : {}),
      preferLocal: process.env.LVA_TRANSCRIBE === 'local',
    },
  });
  const off = core.on((e: CoreEvent) => reportEvent(e, bars, options.summarised));
  if (core.indexStatus.kind === 'created' && core.indexStatus.reason !== NO_INDEX_YET) process.stderr.write(`lva: ${core.indexStatus.reason}\n`);
  try {
    return await run(core);
  } finally {
    for (const bar of bars.values()) bar.done();
    off();
    await core.close();
  }
}

/** One bar per task; any task name (index, embed, model, document) gets its own. */
function reportEvent(e: CoreEvent, bars: Map<string, Progress>, summarised: ReadonlySet<string> | undefined): void {
  if (e.type === 'progress') {
    if (e.total <= 0) return;
    let bar = bars.get(e.task);
    if (!bar) bars.set(e.task, (bar = new Progress(e.message)));
    bar.update(e.done, e.total);
    // Finished: the next round of the task (a second document, say) starts a bar of its own.
    if (e.done >= e.total) {
      bar.done();
      bars.delete(e.task);
    }
  } else if (e.type === 'notice') {
    process.stderr.write(`lva: ${e.message}\n`);
  } else if (e.event.outcome === 'failed' && !summarised?.has(e.event.job.key)) {
    process.stderr.write(`lva: job ${e.event.job.kind} failed: ${e.event.error}\n`);
  }
}

export function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

/** Dates on the command line: YYYY-MM-DD (UTC midnight) or any ISO 8601 timestamp. */
export function parseDate(value: string, flag: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} must be a date like 2026-11-24 (got "${value}")`);
  return ms;
}

export function parseLimit(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new UsageError(`--limit must be a whole number from 1 to 10000 (got "${value}")`);
  return n;
}
