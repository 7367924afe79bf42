import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CoreError } from '../../errors.ts';
import { MODEL_ROLES, type ModelRole } from '../ProviderSettings.ts';
import { costOf, DEFAULT_PRICES, type PriceTable, type Usage } from './pricing.ts';

export type AgentRole = ModelRole;

interface EntryBase {
  readonly role: AgentRole;
  /** The model the provider says served the call. */
  readonly model: string;
  readonly captureId?: string | undefined;
  /** Set it to the provider's request ID (or any stable ID of the attempt) so a retried record counts once. */
  readonly callId?: string | undefined;
  /** Epoch ms; defaults to the ledger's clock. */
  readonly at?: number | undefined;
}

export type UsageEntry = EntryBase & Usage;

export interface RecordResult {
  /** False when the callId had been recorded before; the figures are then the ones stored first. */
  readonly recorded: boolean;
  readonly costMicroUsd: number;
  readonly estimated: boolean;
}

export interface Totals {
  readonly costMicroUsd: number;
  /** For display only; sum `costMicroUsd` when adding totals up. */
  readonly costUsd: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly audioSeconds: number;
  readonly calls: number;
  /** Calls priced with the fallback price because their model was not in the table. */
  readonly estimatedCalls: number;
}

export interface UsageTotals extends Totals {
  readonly byRole: Readonly<Record<AgentRole, Totals>>;
}

export interface MonthTotals extends UsageTotals {
  /** YYYY-MM in UTC. */
  readonly month: string;
}

export interface UsageLedgerOptions {
  prices?: PriceTable;
  now?: () => number;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS calls (
  id INTEGER PRIMARY KEY,
  call_id TEXT UNIQUE,
  at INTEGER NOT NULL,
  month TEXT NOT NULL,
  -- No CHECK on role: an existing file keeps its table, and a role added later must still record.
  role TEXT NOT NULL,
  model TEXT NOT NULL,
  capture_id TEXT,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  audio_ms INTEGER NOT NULL DEFAULT 0,
  cost_micro_usd INTEGER NOT NULL CHECK (cost_micro_usd >= 0),
  estimated INTEGER NOT NULL CHECK (estimated IN (0, 1))
);
CREATE INDEX IF NOT EXISTS calls_month ON calls (month, role);
CREATE INDEX IF NOT EXISTS calls_capture ON calls (capture_id) WHERE capture_id IS NOT NULL;
`;

// A billion tokens is far past any context window; more is a bug in the caller, not a call.
const Count = z.number().int().nonnegative().max(1_000_000_000);
const Base = z.object({
  role: z.enum(MODEL_ROLES),
  model: z.string().min(1),
  captureId: z.string().min(1).optional(),
  callId: z.string().min(1).optional(),
  at: z.number().int().nonnegative().optional(),
});
const Tokens = Base.extend({ inputTokens: Count, outputTokens: Count });
// Ten hours per call is far beyond any upload the app makes; more is a unit mistake (ms for s).
const Audio = Base.extend({ audioSeconds: z.number().finite().nonnegative().max(36_000) });

/** The UTC calendar month of an instant, the unit budgets reset on. */
export function monthOf(at: number): string {
  return new Date(at).toISOString().slice(0, 7);
}

interface SumRow {
  cost: number;
  input: number;
  output: number;
  audio_ms: number;
  calls: number;
  estimated: number;
}

const EMPTY: Totals = { costMicroUsd: 0, costUsd: 0, inputTokens: 0, outputTokens: 0, audioSeconds: 0, calls: 0, estimatedCalls: 0 };

function toTotals(row: SumRow | undefined): Totals {
  if (!row) return EMPTY;
  return {
    costMicroUsd: row.cost,
    costUsd: row.cost / 1_000_000,
    inputTokens: row.input,
    outputTokens: row.output,
    audioSeconds: row.audio_ms / 1000,
    calls: row.calls,
    estimatedCalls: row.estimated,
  };
}

/**
 * What each cloud model call cost, kept apart from the capture data: it is local bookkeeping, never
 * synced, and can be deleted to start counting afresh without losing anything the user made.
 */
export class UsageLedger {
  readonly #db: Database.Database;
  readonly #prices: PriceTable;
  readonly #now: () => number;

  constructor(file: string, options: UsageLedgerOptions = {}) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode never corrupts the file; a power cut can only lose the last few records, which
    // undercounts by cents at most. Accounting is not worth an fsync on every model call.
    this.#db.pragma('synchronous = NORMAL');
    // The app and the CLI may record into the same ledger at once.
    this.#db.pragma('busy_timeout = 5000');
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.#db.close();
      throw new CoreError('DATA_DIR_INVALID', `${file} was written by a newer version (usage schema ${version}); update the app`);
    }
    this.#db.exec(SCHEMA);
    this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.#prices = options.prices ?? DEFAULT_PRICES;
    this.#now = options.now ?? Date.now;
  }

  record(entry: UsageEntry): RecordResult {
    // Picked by shape rather than with a zod union, whose error would only say "Invalid input".
    const parsed = ('audioSeconds' in entry ? Audio : Tokens).safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CoreError('BAD_INPUT', `usage entry is not valid at ${issue?.path.map(String).join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`);
    }
    const at = entry.at ?? this.#now();
    const usage: Usage = 'audioSeconds' in entry ? { audioSeconds: entry.audioSeconds } : { inputTokens: entry.inputTokens, outputTokens: entry.outputTokens };
    const cost = costOf(entry.model, usage, this.#prices);
    const info = this.#db
      .prepare(
        `INSERT INTO calls (call_id, at, month, role, model, capture_id, input_tokens, output_tokens, audio_ms, cost_micro_usd, estimated)
         VALUES (@callId, @at, @month, @role, @model, @captureId, @input, @output, @audioMs, @cost, @estimated)
         ON CONFLICT (call_id) DO NOTHING`,
      )
      .run({
        callId: entry.callId ?? null,
        at,
        month: monthOf(at),
        role: entry.role,
        model: entry.model,
        captureId: entry.captureId ?? null,
        input: 'inputTokens' in usage ? usage.inputTokens : 0,
        output: 'outputTokens' in usage ? usage.outputTokens : 0,
        audioMs: 'audioSeconds' in usage ? Math.round(usage.audioSeconds * 1000) : 0,
        cost: cost.microUsd,
        estimated: cost.estimated ? 1 : 0,
      });
    if (info.changes === 1) return { recorded: true, costMicroUsd: cost.microUsd, estimated: cost.estimated };
    const first = this.#db.prepare(`SELECT cost_micro_usd AS cost, estimated FROM calls WHERE call_id = ?`).get(entry.callId) as { cost: number; estimated: number };
    return { recorded: false, costMicroUsd: first.cost, estimated: first.estimated === 1 };
  }

  monthTotal(month: string): MonthTotals {
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new CoreError('BAD_INPUT', `month "${month}" is not YYYY-MM`);
    return { month, ...this.#totals('month = ?', month) };
  }

  forCapture(captureId: string): UsageTotals {
    return this.#totals('capture_id = ?', captureId);
  }

  /**
   * The last `n` calendar months up to the current UTC month, newest first, months without calls
   * included as zeros so a listing shows gaps instead of hiding them.
   */
  recentMonths(n: number): MonthTotals[] {
    if (!Number.isInteger(n) || n < 0) throw new CoreError('BAD_INPUT', `recentMonths needs a count of months, got ${n}`);
    const now = new Date(this.#now());
    const months: MonthTotals[] = [];
    for (let i = 0; i < n; i++) months.push(this.monthTotal(monthOf(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1))));
    return months;
  }

  close(): void {
    this.#db.close();
  }

  #totals(where: string, value: string): UsageTotals {
    const rows = this.#db
      .prepare(
        `SELECT role, SUM(cost_micro_usd) AS cost, SUM(input_tokens) AS input, SUM(output_tokens) AS output,
           SUM(audio_ms) AS audio_ms, COUNT(*) AS calls, SUM(estimated) AS estimated
         FROM calls WHERE ${where} GROUP BY role`,
      )
      .all(value) as (SumRow & { role: AgentRole })[];
    const byRole = Object.fromEntries(MODEL_ROLES.map((role) => [role, toTotals(rows.find((r) => r.role === role))])) as Record<AgentRole, Totals>;
    // Summed from the same rows rather than a second query, so the total always equals its parts.
    const all: SumRow = { cost: 0, input: 0, output: 0, audio_ms: 0, calls: 0, estimated: 0 };
    for (const r of rows) {
      all.cost += r.cost;
      all.input += r.input;
      all.output += r.output;
      all.audio_ms += r.audio_ms;
      all.calls += r.calls;
      all.estimated += r.estimated;
    }
    return { ...toTotals(rows.length > 0 ? all : undefined), byRole };
  }
}
