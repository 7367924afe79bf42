import { CoreError } from '../../errors.ts';
import { formatUsd } from './pricing.ts';
import { monthOf, type AgentRole, type UsageLedger } from './UsageLedger.ts';

/**
 * Agents that only add to a capture. Transcription is gated too, because cloud transcription is spend
 * like any other, but its denial says `fallback: 'local'`: the caller transcribes with local Whisper or
 * leaves the capture untranscribed for later. Either way the capture itself is stored first and
 * keyword search over what exists keeps working, so capture and search never stop.
 */
export const OPTIONAL_ROLES: ReadonlySet<AgentRole> = new Set(['chat', 'analysis', 'vision', 'synthesis']);

export type BudgetDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Always 'budget', for callers that branch; `reason` is the sentence to show. */
      readonly code: 'budget';
      readonly reason: string;
      /** 'local' for transcription (use the local model instead), 'pause' for the optional agents. */
      readonly fallback: 'local' | 'pause';
      readonly budgetUsd: number;
      readonly spentUsd: number;
      /** YYYY-MM-DD, the first day of the next UTC month. */
      readonly resumesOn: string;
    };

export interface BudgetStatus {
  /** YYYY-MM in UTC. */
  readonly month: string;
  readonly spentMicroUsd: number;
  readonly spentUsd: number;
  /** null when no budget is set. */
  readonly budgetUsd: number | null;
  /** Never below zero; null when no budget is set. */
  readonly remainingUsd: number | null;
  readonly resetsOn: string;
}

export interface BudgetGuardOptions {
  /** USD per UTC calendar month; undefined means no limit, 0 means the cloud agents are off. */
  monthlyBudgetUsd?: number | undefined;
  now?: () => number;
}

const MAX_BUDGET_USD = 1_000_000;

/**
 * LVA_MONTHLY_BUDGET_USD as a plain decimal ("5", "12.50", "0"). Unset or empty means no budget.
 * Anything else ("$5", "-1", "5e2") throws, since guessing could mean spending money the user did not allow.
 */
export function monthlyBudgetFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): number | undefined {
  const raw = env.LVA_MONTHLY_BUDGET_USD;
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = raw.trim();
  if (!/^\d+(\.\d{1,6})?$/.test(value) || Number(value) > MAX_BUDGET_USD) {
    throw new CoreError('BAD_INPUT', `LVA_MONTHLY_BUDGET_USD="${raw}" is not valid: give US dollars as a plain number from 0 to ${MAX_BUDGET_USD}, such as 5 or 12.50`);
  }
  return Number(value);
}

function nextMonthStart(at: number): string {
  const d = new Date(at);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
}

/**
 * Decides, before each cloud call, whether this month's spend leaves room for it. The check is against
 * spend so far, so the call that crosses the line still completes and the month can end slightly over;
 * estimating a call's cost before making it would need the answer's length.
 */
export class BudgetGuard {
  readonly #ledger: Pick<UsageLedger, 'monthTotal'>;
  readonly #budgetMicroUsd: number | undefined;
  readonly #now: () => number;

  constructor(ledger: Pick<UsageLedger, 'monthTotal'>, options: BudgetGuardOptions = {}) {
    const budget = options.monthlyBudgetUsd;
    if (budget !== undefined && (!Number.isFinite(budget) || budget < 0 || budget > MAX_BUDGET_USD)) {
      throw new CoreError('BAD_INPUT', `monthly budget ${budget} is not an amount from 0 to ${MAX_BUDGET_USD} USD`);
    }
    this.#ledger = ledger;
    this.#budgetMicroUsd = budget === undefined ? undefined : Math.round(budget * 1_000_000);
    this.#now = options.now ?? Date.now;
  }

  check(role: AgentRole): BudgetDecision {
    const budget = this.#budgetMicroUsd;
    if (budget === undefined) return { allowed: true };
    const now = this.#now();
    const spent = this.#ledger.monthTotal(monthOf(now)).costMicroUsd;
    if (spent < budget) return { allowed: true };
    const resumesOn = nextMonthStart(now);
    const transcription = !OPTIONAL_ROLES.has(role);
    const what = transcription ? 'cloud transcription resumes' : 'agents resume';
    const after = transcription ? '; meanwhile captures are transcribed locally where possible and are always stored' : '';
    const reason =
      budget === 0
        ? `the monthly AI budget is $0 (LVA_MONTHLY_BUDGET_USD=0), so ${transcription ? 'cloud transcription is' : 'the AI agents are'} off until the budget is raised${after}`
        : `the monthly AI budget of ${formatUsd(budget)} is spent (${formatUsd(spent)} this month); ${what} on ${resumesOn} or when the budget is raised (LVA_MONTHLY_BUDGET_USD)${after}`;
    return {
      allowed: false,
      code: 'budget',
      reason,
      fallback: transcription ? 'local' : 'pause',
      budgetUsd: budget / 1_000_000,
      spentUsd: spent / 1_000_000,
      resumesOn,
    };
  }

  /** This month's spend against the budget, for `lva stats`. */
  remaining(): BudgetStatus {
    const now = this.#now();
    const month = monthOf(now);
    const spent = this.#ledger.monthTotal(month).costMicroUsd;
    const budget = this.#budgetMicroUsd;
    return {
      month,
      spentMicroUsd: spent,
      spentUsd: spent / 1_000_000,
      budgetUsd: budget === undefined ? null : budget / 1_000_000,
      remainingUsd: budget === undefined ? null : Math.max(0, budget - spent) / 1_000_000,
      resetsOn: nextMonthStart(now),
    };
  }
}
