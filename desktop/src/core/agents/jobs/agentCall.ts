import type { ProviderSettings } from '../ProviderSettings.ts';
import { CoreError } from '../../errors.ts';
import { JobWaitError } from '../../jobs/JobRunner.ts';
import type { BudgetGuard } from '../cost/Budget.ts';
import type { AgentRole, UsageLedger } from '../cost/UsageLedger.ts';

/** Runs an agent task: here, or in the worker process. Results must be plain data either way. */
export interface AgentHost {
  call<O>(task: string, input: unknown, options?: { signal?: AbortSignal; onProgress?: (done: number, total: number, message?: string) => void }): Promise<O>;
  close(): Promise<void>;
}

/** What every agent job needs from the core. */
export interface AgentJobDeps {
  agents: AgentHost;
  settings: ProviderSettings;
  usage: UsageLedger;
  budget: BudgetGuard;
}

/** Until a key is set, checking again often would only spin; a new key wakes the jobs anyway. */
const KEY_RECHECK_MS = 10 * 60_000;
const BUDGET_RECHECK_MS = 60 * 60_000;

/**
 * Gates a cloud agent the same way for every job: without a key, or with the month's budget spent,
 * every job of the kind waits (not fails), and says what it waits for.
 */
export function requireClaude(deps: AgentJobDeps, role: AgentRole, what: string): void {
  if (!deps.settings.anthropic.apiKey) {
    throw new JobWaitError(`${what} needs an Anthropic API key: set ANTHROPIC_API_KEY (or add it in Settings). Waiting until then.`, KEY_RECHECK_MS, { wholeKind: true });
  }
  const decision = deps.budget.check(role);
  if (!decision.allowed) throw new JobWaitError(decision.reason, BUDGET_RECHECK_MS, { wholeKind: true });
}

export interface AgentUsage {
  usage: { inputTokens: number; outputTokens: number };
  model: string;
}

export function recordUsage(deps: AgentJobDeps, role: AgentRole, result: AgentUsage, callId: string, captureId?: string): void {
  deps.usage.record({ role, model: result.model, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, callId, ...(captureId ? { captureId } : {}) });
}

/** Malformed model output is retried a couple of times (the model may do better), then given up. */
export function isBadOutput(err: unknown): boolean {
  return err instanceof CoreError && err.code === 'AGENT_BAD_OUTPUT';
}
