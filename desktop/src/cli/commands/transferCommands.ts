import fs from 'node:fs';
import path from 'node:path';
import type { NewCapture } from '@lva/shared';
import { CoreError } from '../../core/errors.ts';
import { UsageError } from '../CliError.ts';
import { parse, print, withCore } from '../context.ts';
import { exportLine, markdownFileName, readJsonl, readMarkdownDir, toMarkdown, type ImportItem } from '../importFormats.ts';
import { Progress } from '../progress.ts';

/** One document change and one fsync per batch: large enough to amortise the fsync, small enough to show progress. */
const BATCH = 500;

export async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { 'no-wait': { type: 'boolean', default: false } });
  const source = positionals[0];
  if (!source || positionals.length > 1) throw new UsageError('usage: lva import FILE.jsonl | DIR-of-markdown [--json]');
  if (!fs.existsSync(source)) throw new UsageError(`no such file or directory: ${source}`);
  const items: ImportItem[] = [...(fs.statSync(source).isDirectory() ? readMarkdownDir(source) : readJsonl(source))];
  const good = items.filter((i): i is Extract<ImportItem, { input: NewCapture }> => 'input' in i);
  const rejected: { where: string | number; error: string }[] = items.filter((i): i is Extract<ImportItem, { error: string }> => 'error' in i);
  const imported: { line: string | number; id: string; existing?: true }[] = [];
  await withCore(values, async (core) => {
    const bar = new Progress('importing');
    for (let i = 0; i < good.length; i += BATCH) {
      const batch = good.slice(i, i + BATCH);
      let results: Awaited<ReturnType<typeof core.importCaptures>>;
      try {
        results = await core.importCaptures(batch.map((b) => b.input));
      } catch (err) {
        // One bad item must not sink its batch: retry the batch one by one to find it.
        if (!(err instanceof CoreError) || err.code !== 'BAD_INPUT') throw err;
        results = [];
        for (const b of batch) {
          try {
            results.push(...(await core.importCaptures([b.input])));
          } catch (one) {
            if (!(one instanceof CoreError) || one.code !== 'BAD_INPUT') throw one;
            rejected.push({ where: b.where, error: one.message });
            results.push(undefined as never);
          }
        }
      }
      results.forEach((r, j) => {
        if (r) imported.push({ line: batch[j]!.where, id: r.capture.id, ...(r.created ? {} : { existing: true as const }) });
      });
      bar.update(Math.min(i + BATCH, good.length), good.length);
    }
    bar.done();
    if (!values['no-wait']) await core.drain();
  });
  for (const r of rejected) process.stderr.write(`lva: ${typeof r.where === 'number' ? `line ${r.where}` : r.where}: ${r.error}\n`);
  const existing = imported.filter((i) => i.existing).length;
  print(values.json, imported, () =>
    `imported ${imported.length - existing} capture(s)${existing ? `, ${existing} already present` : ''}${rejected.length ? `, rejected ${rejected.length}` : ''}`,
  );
  return rejected.length ? 1 : 0;
}

export async function exportCommand(args: string[]): Promise<void> {
  const { values } = parse(args, { format: { type: 'string', default: 'jsonl' }, out: { type: 'string' } });
  const format = values.format;
  if (format !== 'jsonl' && format !== 'markdown') throw new UsageError(`--format must be jsonl or markdown (got "${format}")`);
  if (format === 'markdown' && !values.out) throw new UsageError('markdown export writes one file per capture: give --out DIR');
  await withCore(values, async (core) => {
    if (format === 'jsonl') {
      const out = values.out ? fs.createWriteStream(values.out) : process.stdout;
      for await (const c of core.allCaptures()) out.write(`${JSON.stringify(exportLine(c))}\n`);
      if (out !== process.stdout) await new Promise<void>((resolve, reject) => (out as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
      return;
    }
    const dir = values.out!;
    fs.mkdirSync(dir, { recursive: true });
    let n = 0;
    for await (const c of core.allCaptures()) {
      fs.writeFileSync(path.join(dir, markdownFileName(c)), toMarkdown(c));
      n++;
    }
    process.stderr.write(`lva: wrote ${n} file(s) to ${dir}\n`);
  });
}
