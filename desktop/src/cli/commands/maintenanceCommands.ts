import { BudgetGuard, monthlyBudgetFromEnv } from '../../core/agents/cost/Budget.ts';
import { formatUsd } from '../../core/agents/cost/pricing.ts';
import { parse, print, withCore } from '../context.ts';
import { optionalBudget } from './askCommand.ts';

export async function reindexCommand(args: string[]): Promise<void> {
  const { values } = parse(args, {});
  await withCore(values, async (core) => {
    const started = Date.now();
    await core.reindex();
    await core.drain();
    const stats = core.stats();
    print(values.json, { captures: stats.captures, embedded: stats.embedder.embedded, tookMs: Date.now() - started }, () => `reindexed ${stats.captures} capture(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
}

export async function statsCommand(args: string[]): Promise<void> {
  const { values } = parse(args, {});
  await withCore(values, async (core) => {
    await core.catchUpIndex();
    const s = core.stats();
    const budget = new BudgetGuard(core.usage, optionalBudget(monthlyBudgetFromEnv())).remaining();
    const month = core.usage.monthTotal(budget.month);
    const ai = {
      month: budget.month,
      costUsd: month.costUsd,
      calls: month.calls,
      inputTokens: month.inputTokens,
      outputTokens: month.outputTokens,
      audioSeconds: month.audioSeconds,
      budgetUsd: budget.budgetUsd,
      remainingUsd: budget.remainingUsd,
    };
    print(values.json, { ...s, ai }, () =>
      [
        `captures   ${s.captures}${Object.keys(s.bySource).length ? `  (${Object.entries(s.bySource).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`,
        `shards     ${s.shards}`,
        `files      ${s.blobs.count} (${mb(s.blobs.bytes)})`,
        `embedder   ${s.embedder.id}: ${s.embedder.state}, ${s.embedder.embedded}/${s.embedder.total} embedded${s.embedder.reason ? ` (${s.embedder.reason})` : ''}`,
        `jobs       ${Object.entries(s.jobs).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        `AI         ${ai.month}: ${formatUsd(budget.spentMicroUsd)} over ${ai.calls} call(s), ${ai.inputTokens + ai.outputTokens} tokens; ${ai.budgetUsd === null ? 'no monthly budget set' : `budget ${formatUsd(ai.budgetUsd * 1_000_000)}, ${formatUsd((ai.remainingUsd ?? 0) * 1_000_000)} left`}`,
        `disk       documents ${mb(s.disk.docs)}, index ${mb(s.disk.index)}`,
        `device     ${s.deviceId}`,
        `data dir   ${s.dataDir}`,
      ].join('\n'),
    );
  });
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
