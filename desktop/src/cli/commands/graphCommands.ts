import type { Core } from '../../core/Core.ts';
import { CoreError } from '../../core/errors.ts';
import { normaliseConceptName } from '../../core/graph/conceptNames.ts';
import { UsageError } from '../CliError.ts';
import { parse, parseDate, parseLimit, print, withCore } from '../context.ts';

/** The graph follows the documents through jobs; a command answers from it once they have run. */
async function current(core: Core): Promise<void> {
  await core.drain();
}

/** `lva concepts [--from DATE] [--to DATE] [--by week|month] [--limit N]`: what you have been learning about. */
export async function conceptsCommand(args: string[]): Promise<void> {
  const { values } = parse(args, { from: { type: 'string' }, to: { type: 'string' }, by: { type: 'string' }, limit: { type: 'string' } });
  const range = { ...(values.from ? { from: parseDate(values.from, '--from') } : {}), ...(values.to ? { to: parseDate(values.to, '--to') } : {}) };
  const limit = parseLimit(values.limit, values.by ? 5 : 30);
  if (values.by !== undefined && values.by !== 'week' && values.by !== 'month') throw new UsageError('--by is week or month');
  await withCore(values, async (core) => {
    await current(core);
    if (values.by) {
      const periods = await core.graph.topConceptsByPeriod({ bucket: values.by as 'week' | 'month', perPeriod: limit, ...range });
      print(values.json, periods, () =>
        periods.length === 0
          ? 'no concepts yet: they are extracted from captures once an Anthropic API key is set'
          : periods.map((p) => `${p.period}  ${p.concepts.map((c) => `${c.name} (${c.captures})`).join(', ')}`).join('\n'),
      );
      return;
    }
    const top = await core.graph.topConcepts({ limit, ...range });
    print(values.json, top, () =>
      top.length === 0
        ? 'no concepts yet: they are extracted from captures once an Anthropic API key is set'
        : top.map((c) => `${String(c.captures).padStart(5)}  ${c.name}`).join('\n'),
    );
  });
}

/** `lva graph neighbours|path|captures …`: the concept graph. */
export async function graphCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest, { depth: { type: 'string' }, limit: { type: 'string' } });
  const limit = parseLimit(values.limit, 20);
  const concept = (raw: string | undefined): string => {
    if (!raw || !normaliseConceptName(raw)) throw new UsageError(`usage: lva graph ${sub ?? 'neighbours'} "concept"`);
    return raw;
  };
  await withCore(values, async (core) => {
    await current(core);
    if (sub === 'neighbours' || sub === 'neighbors') {
      const name = concept(positionals.join(' '));
      const depth = values.depth === undefined ? 1 : Number(values.depth);
      if (depth !== 1 && depth !== 2) throw new UsageError('--depth is 1 or 2');
      const found = await core.graph.neighbours(name, { depth, limit });
      if (found.length === 0) throw new CoreError('NOT_FOUND', `no concept "${name}" with links yet; see lva concepts`);
      print(values.json, found, () => found.map((n) => `${'  '.repeat(n.depth - 1)}${n.name}  ${n.relation.replace('_', ' ')}  (${n.weight} capture${n.weight === 1 ? '' : 's'}${n.via ? `, via ${n.via}` : ''})`).join('\n'));
    } else if (sub === 'path') {
      const [from, to] = positionals;
      if (!from || !to) throw new UsageError('usage: lva graph path "concept A" "concept B"');
      const steps = await core.graph.path(concept(from), concept(to));
      if (!steps) throw new CoreError('NOT_FOUND', `no path between "${from}" and "${to}" in the concept graph`);
      print(values.json, steps, () => steps.map((s) => (s.link ? `  -[${s.link.kind.replace('_', ' ')}, ${s.link.captureId}]-> ${s.name}` : s.name)).join('\n'));
    } else if (sub === 'captures') {
      const name = concept(positionals.join(' '));
      const found = await core.graph.capturesByConcept(name, { limit });
      const rows: { id: string; createdAt: number; title: string }[] = [];
      for (const hit of found) {
        const capture = await core.get(hit.id);
        if (capture) rows.push({ id: capture.id, createdAt: capture.createdAt, title: capture.title });
      }
      print(values.json, rows, () => (rows.length ? rows.map((r) => `${r.id}  ${new Date(r.createdAt).toISOString().slice(0, 10)}  ${r.title}`).join('\n') : `no captures mention "${name}"`));
    } else {
      throw new UsageError('usage: lva graph neighbours "concept" [--depth 2] | lva graph path "A" "B" | lva graph captures "concept"');
    }
  });
}
