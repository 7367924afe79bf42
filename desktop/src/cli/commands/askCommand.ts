import { ask, type AskEvent, type Citation } from '../../core/agents/conversation/ask.ts';
import { BudgetGuard, monthlyBudgetFromEnv } from '../../core/agents/cost/Budget.ts';
import { providerSettingsFromEnv } from '../../core/agents/ProviderSettings.ts';
import { UsageError } from '../CliError.ts';
import { parse, withCore } from '../context.ts';

export function optionalBudget(usd: number | undefined): { monthlyBudgetUsd?: number } {
  return usd === undefined ? {} : { monthlyBudgetUsd: usd };
}

/** `lva ask "question"`: the answer streams to stdout as it comes, then its sources. */
export async function askCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  const question = positionals.join(' ');
  if (!question.trim()) throw new UsageError('usage: lva ask "question" [--json]');
  const settings = providerSettingsFromEnv();
  await withCore(values, async (core) => {
    await core.catchUpIndex();
    let done: Extract<AskEvent, { type: 'done' }> | undefined;
    let retrieved = 0;
    const budget = new BudgetGuard(core.usage, optionalBudget(monthlyBudgetFromEnv()));
    for await (const event of ask(core, settings, question, { budget })) {
      if (event.type === 'retrieved') retrieved = event.captures.length;
      else if (event.type === 'text' && !values.json) process.stdout.write(event.text);
      else if (event.type === 'dropped-citation') process.stderr.write(`lva: left out a citation of ${event.captureId}, which was not among the captures retrieved\n`);
      else if (event.type === 'done') done = event;
    }
    if (!done) return;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ answer: done.answer, citations: done.citations, retrieved, model: done.model, usage: done.usage })}\n`);
      return;
    }
    process.stdout.write('\n');
    if (done.citations.length > 0) process.stdout.write(`\n${done.citations.map((c: Citation) => `[${c.n}] ${c.title || '(untitled)'}  ${c.captureId}`).join('\n')}\n`);
  });
}
