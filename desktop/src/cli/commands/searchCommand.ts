import { UsageError } from '../CliError.ts';
import { parse, parseDate, parseLimit, print, withCore } from '../context.ts';
import { hitLine } from '../render.ts';
import { parseSources } from './captureCommands.ts';

export async function searchCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    limit: { type: 'string' },
    source: { type: 'string', multiple: true },
    tag: { type: 'string', multiple: true },
    from: { type: 'string' },
    to: { type: 'string' },
  });
  const query = positionals.join(' ');
  if (!query.trim()) throw new UsageError('usage: lva search "query" [--limit N] [--source S] [--tag T] [--from DATE] [--to DATE] [--json]');
  const limit = parseLimit(values.limit, 10);
  const sources = parseSources(values.source);
  const filters = {
    ...(sources ? { sources } : {}),
    ...(values.tag ? { tags: values.tag } : {}),
    ...(values.from ? { from: parseDate(values.from, '--from') } : {}),
    ...(values.to ? { to: parseDate(values.to, '--to') } : {}),
  };
  await withCore(values, async (core) => {
    await core.catchUpIndex();
    const result = await core.search({ query, limit, filters }, { waitForModel: true });
    if (result.notice) process.stderr.write(`lva: ${result.notice}\n`);
    const hits = result.hits.map((h) => ({
      id: h.id,
      score: h.score,
      title: h.title,
      snippet: h.snippet,
      createdAt: new Date(h.createdAt).toISOString(),
      source: h.source,
      highlights: h.highlights,
      matched: h.matched,
    }));
    print(values.json, { hits, mode: result.mode }, () => (result.hits.length ? result.hits.map((h, i) => hitLine(h, i + 1)).join('\n') : 'no matches'));
  }, { readOnly: true });
}
