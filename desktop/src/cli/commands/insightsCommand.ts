import type { Insight, InsightItem } from '@lva/shared';
import { parseWeek, weekOf } from '../../core/agents/synthesis/weeks.ts';
import type { Core } from '../../core/Core.ts';
import { CoreError } from '../../core/errors.ts';
import { UsageError } from '../CliError.ts';
import { parse, print, withCore } from '../context.ts';
import { date } from '../render.ts';

const SECTIONS = [
  ['learned', 'What you learned'],
  ['themes', 'Themes'],
  ['questions', 'Open questions'],
  ['nextSteps', 'Next steps'],
] as const satisfies readonly (readonly [keyof Insight, string])[];

interface Source {
  n: number;
  captureId: string;
  title: string;
}

/** Numbers the cited captures in order of first citation, as `lva ask` numbers its sources. */
async function sourcesOf(core: Core, insight: Insight): Promise<Source[]> {
  const ids: string[] = [];
  for (const [key] of SECTIONS) for (const item of insight[key]) for (const id of item.captureIds) if (!ids.includes(id)) ids.push(id);
  const sources: Source[] = [];
  for (const [i, id] of ids.entries()) {
    const capture = await core.get(id);
    sources.push({ n: i + 1, captureId: id, title: capture ? capture.title || '(untitled)' : '(deleted capture)' });
  }
  return sources;
}

function render(insight: Insight, sources: readonly Source[]): string {
  const number = new Map(sources.map((s) => [s.captureId, s.n]));
  const item = (i: InsightItem): string => `  - ${i.text}${i.captureIds.map((id) => ` [${number.get(id)}]`).join('')}`;
  const lines = [
    `${insight.period.label}  (${date(insight.period.from).slice(0, 10)} to ${date(insight.period.to - 1).slice(0, 10)}; written ${date(insight.createdAt)}${insight.model !== 'none' ? ` by ${insight.model}` : ''})`,
    '',
    insight.summary,
  ];
  for (const [key, title] of SECTIONS) if (insight[key].length) lines.push('', `${title}:`, ...insight[key].map(item));
  if (sources.length) lines.push('', ...sources.map((s) => `[${s.n}] ${s.title}  ${s.captureId}`));
  return lines.join('\n');
}

/**
 * Writes a week's digest and reports why not when it could not be: the digest job waits (no key, the
 * budget spent) rather than fails, and the command is only done once the digest exists.
 */
async function writeDigest(core: Core, week: string): Promise<void> {
  // The digest reads the week's captures from the index, which may be behind the documents.
  await core.catchUpIndex();
  await core.digestNow(week);
  const job = core.queue.get('digest', week);
  if (job && job.state !== 'done' && job.lastError) {
    throw new CoreError(job.state === 'failed' ? 'AGENT_FAILED' : 'NOT_CONFIGURED', `the digest of ${week} ${job.state === 'failed' ? 'failed' : 'was not written'}: ${job.lastError}`);
  }
}

/** `lva insights [--now] [--week YYYY-Www]`: the weekly digests, newest first, with their sources. */
export async function insightsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { now: { type: 'boolean', default: false }, week: { type: 'string' } });
  if (positionals.length) throw new UsageError('usage: lva insights [--now] [--week YYYY-Www]');
  if (values.week !== undefined && !parseWeek(values.week)) throw new UsageError(`--week must be an ISO week like ${weekOf(Date.now()).label} (got "${values.week}")`);
  const write = values.week ?? (values.now ? weekOf(Date.now()).label : undefined);
  await withCore(values, async (core) => {
    if (write) await writeDigest(core, write);
    const all = await (await core.insights()).list();
    // Having just written one, that one is the answer; otherwise every stored digest.
    const shown = write ? all.filter((i) => i.period.label === write) : all;
    const out = await Promise.all(shown.map(async (insight) => ({ insight, sources: await sourcesOf(core, insight) })));
    print(values.json, { insights: out.map(({ insight, sources }) => ({ ...insight, sources })) }, () =>
      out.length
        ? out.map(({ insight, sources }) => render(insight, sources)).join('\n\n---\n\n')
        : 'no insights yet: lva insights --now writes this week\'s digest (needs ANTHROPIC_API_KEY)',
    );
  });
}
