import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CaptureId, CaptureSource, Tag, type Capture, type NewCapture } from '@lva/shared';
import { formatIssues } from '../core/Core.ts';

/** One item to import, or why it cannot be: `where` is a line number (JSONL) or a file name (Markdown). */
export type ImportItem = { where: string | number; input: NewCapture } | { where: string | number; error: string };

const Timestamp = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), 'not a date (use ISO 8601, e.g. 2026-11-24T09:30:00Z)')
    .transform((s) => Date.parse(s)),
]);

/** The documented JSONL line: {"text", "title"?, "createdAt"?, "source"?, "tags"?, "id"?}. */
export const ImportLine = z
  .object({
    text: z.string(),
    title: z.string().optional(),
    createdAt: Timestamp.optional(),
    source: CaptureSource.optional(),
    tags: z.array(Tag).optional(),
    id: CaptureId.optional(),
  })
  .strict();

function toInput(line: z.infer<typeof ImportLine>): NewCapture {
  return Object.fromEntries(Object.entries(line).filter(([, v]) => v !== undefined));
}

export function* readJsonl(file: string): Generator<ImportItem> {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (!raw) continue;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      yield { where: i + 1, error: 'not valid JSON' };
      continue;
    }
    const parsed = ImportLine.safeParse(json);
    yield parsed.success ? { where: i + 1, input: toInput(parsed.data) } : { where: i + 1, error: formatIssues(parsed.error.issues) };
  }
}

function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && !entry.name.startsWith('.')) out.push(...markdownFiles(full));
    else if (entry.isFile() && /\.(md|markdown)$/i.test(entry.name)) out.push(full);
  }
  return out.sort();
}

/**
 * Front matter values are JSON (which is also valid YAML), so what export writes, import reads
 * back exactly; a bare unquoted value is taken as a string.
 */
function parseFrontMatter(block: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const line of block.split(/\r?\n/)) {
    const m = /^([A-Za-z][\w-]*):\s*(.*)$/.exec(line);
    if (!m) continue;
    const value = m[2]!.trim();
    try {
      out[m[1]!] = JSON.parse(value);
    } catch {
      out[m[1]!] = value;
    }
  }
  return out;
}

export function* readMarkdownDir(dir: string): Generator<ImportItem> {
  for (const file of markdownFiles(dir)) {
    const where = path.relative(dir, file);
    const content = fs.readFileSync(file, 'utf8');
    const fm = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(content);
    const meta = fm ? parseFrontMatter(fm[1]!) : {};
    let body = fm ? content.slice(fm[0].length) : content;
    let title = typeof meta.title === 'string' ? meta.title : undefined;
    if (title === undefined) {
      const heading = /^#\s+(.+)\r?\n?/.exec(body);
      if (heading) {
        title = heading[1]!.trim();
        body = body.slice(heading[0].length);
      } else title = path.basename(file).replace(/\.(md|markdown)$/i, '');
    }
    const parsed = ImportLine.safeParse({ ...meta, title, text: body.replace(/^\s*\n/, '').replace(/\s+$/, '') });
    yield parsed.success ? { where, input: toInput(parsed.data) } : { where, error: formatIssues(parsed.error.issues) };
  }
}

export interface ExportLine {
  id: string;
  title: string;
  text: string;
  createdAt: string;
  source: string;
  tags: string[];
}

export function exportLine(c: Capture): ExportLine {
  return { id: c.id, title: c.title, text: c.text, createdAt: new Date(c.createdAt).toISOString(), source: c.source, tags: c.tags };
}

export function markdownFileName(c: Capture): string {
  const slug = c.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'capture';
  return `${new Date(c.createdAt).toISOString().slice(0, 10)}-${slug}-${c.id.slice(-6).toLowerCase()}.md`;
}

export function toMarkdown(c: Capture): string {
  const line = exportLine(c);
  const fm = [`id: ${JSON.stringify(line.id)}`, `title: ${JSON.stringify(line.title)}`, `createdAt: ${JSON.stringify(line.createdAt)}`, `source: ${JSON.stringify(line.source)}`, `tags: ${JSON.stringify(line.tags)}`];
  return `---\n${fm.join('\n')}\n---\n${c.text}\n`;
}
