import { deriveTitle } from '@lva/shared';

/**
 * Splits document text into capture-sized chunks. Pure and deterministic: the same input always gives the same
 * chunks, so re-extracting a document replaces its parts one for one instead of shuffling them.
 */

export interface ChunkOptions {
  /** The size chunks aim for; a cut is looked for between 80 % of this and `maxChars`. */
  targetChars?: number;
  /** No chunk is longer, except where a single word is (then the word is cut, as nothing else can be). */
  maxChars?: number;
}

export interface PageChunkOptions extends ChunkOptions {
  /** When given, chunk titles read "DocTitle, p. 3–4"; otherwise each chunk is titled by its first sentence. */
  docTitle?: string;
}

export interface Chunk {
  text: string;
  title: string;
  /** Position in the document, from 0. */
  index: number;
  /** First and last PDF page the chunk covers, from 1; absent for Markdown and text. */
  page?: number;
  pageEnd?: number;
}

export interface PageChunk extends Chunk {
  page: number;
  pageEnd: number;
}

export const DEFAULT_TARGET_CHARS = 1500;
export const DEFAULT_MAX_CHARS = 1800;

// How good a place to cut is, best first. A cut at a worse level is taken only when no better one leaves a
// chunk of reasonable size.
const PARAGRAPH = 0;
const SENTENCE = 1;
const LINE = 2;
const WORD = 3;
const MID_WORD = 4;

/** An uncuttable piece of text and how it joins the piece before it. */
interface Unit {
  text: string;
  /** Whitespace put before this unit when it does not start a chunk. */
  sep: string;
  /** How good a cut just before this unit is. */
  level: number;
  page?: number;
}

interface Limits {
  min: number;
  target: number;
  max: number;
}

export function chunkPages(pages: string[], opts: PageChunkOptions = {}): PageChunk[] {
  const limits = resolveLimits(opts);
  const units: Unit[] = [];
  let previous = '';
  pages.forEach((raw, i) => {
    const text = raw.trim();
    if (!text) return;
    const pageUnits = proseUnits(text, limits.max, i + 1);
    const first = pageUnits[0];
    if (first && units.length > 0) {
      // Pages often break mid-sentence; only a page that ends a sentence is treated as ending a paragraph.
      const ended = /[.!?…:;)"'”’\]]$/.test(previous);
      first.sep = ended ? '\n\n' : ' ';
      first.level = ended ? PARAGRAPH : WORD;
    }
    units.push(...pageUnits);
    previous = text;
  });
  const docTitle = opts.docTitle ? deriveTitle(opts.docTitle.replace(/\s+/g, ' '), 60) : '';
  return pack(units, limits).map((group, index) => {
    const text = joinUnits(group);
    const page = group[0]!.page!;
    const pageEnd = group[group.length - 1]!.page!;
    const pagesLabel = page === pageEnd ? `p. ${page}` : `p. ${page}–${pageEnd}`;
    const title = docTitle ? `${docTitle}, ${pagesLabel}` : firstSentenceTitle(text);
    return { text, title, index, page, pageEnd };
  });
}

export function chunkPlainText(text: string, opts: ChunkOptions = {}): Chunk[] {
  const limits = resolveLimits(opts);
  return pack(proseUnits(normaliseNewlines(text).trim(), limits.max), limits).map((group, index) => {
    const chunkText = joinUnits(group);
    return { text: chunkText, title: firstSentenceTitle(chunkText), index };
  });
}

/**
 * Headings split first: a chunk never holds two sections, and is titled with its heading path
 * ("Intro › Setup"). Within a section, paragraphs then sentences; a code fence stays whole when it fits.
 */
export function chunkMarkdown(text: string, opts: ChunkOptions = {}): Chunk[] {
  const limits = resolveLimits(opts);
  const chunks: Chunk[] = [];
  for (const section of parseMarkdown(text).sections) {
    const units: Unit[] = [];
    for (const block of section.blocks) {
      const blockUnits = block.code ? codeUnits(block.text, limits.max) : proseUnits(block.text, limits.max);
      const first = blockUnits[0];
      if (first) {
        first.sep = '\n\n';
        first.level = PARAGRAPH;
      }
      units.push(...blockUnits);
    }
    const path = section.path.join(' › ');
    for (const group of pack(units, limits)) {
      const chunkText = joinUnits(group);
      chunks.push({ text: chunkText, title: path ? deriveTitle(path, 200) : firstSentenceTitle(chunkText), index: chunks.length });
    }
  }
  return chunks;
}

/** The document's own title, if the Markdown names one: front matter `title:`, else a lone leading H1. */
export function markdownTitle(text: string): string | undefined {
  return parseMarkdown(text).title;
}

// ---- Markdown -------------------------------------------------------------------------------------------

interface Block {
  text: string;
  code: boolean;
}

interface Section {
  path: string[];
  blocks: Block[];
}

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})/;
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;

function parseMarkdown(source: string): { sections: Section[]; title?: string } {
  const lines = normaliseNewlines(source).split('\n');
  let start = 0;
  let frontTitle: string | undefined;
  if (lines[0]?.trim() === '---') {
    const end = lines.findIndex((l, i) => i > 0 && (l.trim() === '---' || l.trim() === '...'));
    if (end > 0) {
      for (const l of lines.slice(1, end)) {
        const m = /^title:\s*(.*?)\s*$/.exec(l);
        if (m?.[1]) frontTitle = m[1].replace(/^(["'])(.*)\1$/, '$2').trim() || undefined;
      }
      start = end + 1;
    }
  }

  const sections: Section[] = [];
  const stack: { level: number; text: string }[] = [];
  let current: Section = { path: [], blocks: [] };
  let paragraph: string[] = [];
  const h1s: string[] = [];

  const flush = () => {
    const text = paragraph.join('\n').trim();
    if (text) current.blocks.push({ text, code: false });
    paragraph = [];
  };
  const openSection = (level: number, heading: string, raw: string) => {
    flush();
    if (current.blocks.length > 0) sections.push(current);
    while (stack.length > 0 && stack[stack.length - 1]!.level >= level) stack.pop();
    stack.push({ level, text: heading });
    if (level === 1) h1s.push(heading);
    // The heading line stays in the text, so a chunk read on its own still says what it is about.
    current = { path: stack.map((s) => s.text).filter(Boolean), blocks: [{ text: raw.trim(), code: false }] };
  };

  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE_OPEN.exec(line);
    if (fence) {
      flush();
      const marker = fence[1]!;
      const close = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}[ \\t]*$`);
      const body = [line];
      // An unclosed fence runs to the end of the document, as CommonMark says.
      for (i++; i < lines.length; i++) {
        body.push(lines[i]!);
        if (close.test(lines[i]!)) break;
      }
      current.blocks.push({ text: body.join('\n').replace(/\s+$/, ''), code: true });
      continue;
    }
    const atx = ATX_HEADING.exec(line);
    if (atx) {
      openSection(atx[1]!.length, headingText(atx[2] ?? ''), line);
      continue;
    }
    const setext = SETEXT_UNDERLINE.exec(line);
    if (setext && paragraph.length === 1 && paragraph[0]!.trim()) {
      const heading = paragraph[0]!;
      paragraph = [];
      openSection(setext[1]![0] === '=' ? 1 : 2, headingText(heading), `${heading}\n${line}`);
      continue;
    }
    if (!line.trim() || (setext && paragraph.length === 0)) {
      flush(); // a blank line, or a lone '---' rule, ends a paragraph
      continue;
    }
    paragraph.push(line);
  }
  flush();
  // A heading followed directly by a subheading has no body of its own; its name lives on in the path.
  if (current.blocks.length > 0) sections.push(current);
  // A heading followed directly by a subheading has no body of its own; its name lives on in the path.
  const withBody = sections.filter((s) => s.path.length === 0 || s.blocks.length > 1);
  const title = frontTitle ?? (h1s.length === 1 ? h1s[0] : undefined);
  const kept = withBody.length > 0 ? withBody : sections; // a file of headings alone still says something
  return title ? { sections: kept, title } : { sections: kept };
}

/** Heading text as a person reads it: emphasis and code markers dropped. */
function headingText(raw: string): string {
  return raw
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/(\*\*|__|`)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A fence that does not fit is cut between lines, each part re-fenced so it still reads as code. */
function codeUnits(block: string, max: number): Unit[] {
  if (block.length <= max) return [{ text: block, sep: '\n\n', level: PARAGRAPH }];
  const lines = block.split('\n');
  const open = lines[0]!;
  const marker = FENCE_OPEN.exec(open)?.[1] ?? '```';
  const closed = lines.length > 1 && new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}[ \\t]*$`).test(lines[lines.length - 1]!);
  const body = lines.slice(1, closed ? -1 : undefined);
  const close = marker;
  const budget = max - open.length - close.length - 2;
  if (budget < 20) return proseUnits(block, max); // limits too small to re-fence sensibly
  const parts: string[][] = [];
  let part: string[] = [];
  let size = 0;
  for (const line of body.flatMap((l) => (l.length <= budget ? [l] : hardSplit(l, budget)))) {
    const add = part.length === 0 ? line.length : line.length + 1;
    if (part.length > 0 && size + add > budget) {
      parts.push(part);
      part = [];
      size = 0;
    }
    size += part.length === 0 ? line.length : line.length + 1;
    part.push(line);
  }
  if (part.length > 0) parts.push(part);
  return parts.map((p, i) => ({ text: `${open}\n${p.join('\n')}\n${close}`, sep: '\n\n', level: i === 0 ? PARAGRAPH : LINE }));
}

// ---- Prose ----------------------------------------------------------------------------------------------

/** Paragraphs, cut into sentences; a sentence longer than `max` into lines, then words. */
function proseUnits(text: string, max: number, page?: number): Unit[] {
  const units: Unit[] = [];
  const withPage = (u: Unit): Unit => (page === undefined ? u : { ...u, page });
  for (const paragraph of text.split(/\n[^\S\n]*\n\s*/)) {
    const trimmed = paragraph.trim();
    if (!trimmed) continue;
    splitSentences(trimmed).forEach(({ text: sentence, sep: sentenceSep }, i) => {
      for (const piece of splitOversize(sentence, max)) {
        const first = piece.first ? { sep: i === 0 ? '\n\n' : sentenceSep, level: i === 0 ? PARAGRAPH : SENTENCE } : piece;
        units.push(withPage({ text: piece.text, sep: first.sep, level: first.level }));
      }
    });
  }
  return units;
}

// Words after which a full stop rarely ends a sentence.
const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'prof', 'st', 'vs', 'etc', 'e.g', 'i.e', 'fig', 'no', 'cf', 'al', 'approx', 'vol', 'pp', 'p']);

function splitSentences(paragraph: string): { text: string; sep: string }[] {
  const out: { text: string; sep: string }[] = [];
  // A boundary: terminal punctuation (and closing quotes), whitespace, then something that can start a sentence.
  const boundary = /([.!?…]+["'”’)\]]*)(\s+)(?=["'“‘([]?[\p{Lu}\p{N}])|([。！？])/gu;
  let from = 0;
  let sep = '';
  for (const m of paragraph.matchAll(boundary)) {
    const end = m.index + (m[1]?.length ?? m[3]!.length);
    if (m[1]?.startsWith('.') && m[1].length === 1) {
      const word = /(\S+)$/.exec(paragraph.slice(from, m.index))?.[1]?.toLowerCase() ?? '';
      if (ABBREVIATIONS.has(word.replace(/^[("'“‘[]+/, '')) || /^\p{Lu}$/u.test(word)) continue; // "Dr. Smith", "J. Doe"
    }
    out.push({ text: paragraph.slice(from, end), sep });
    const ws = m[2] ?? '';
    sep = ws.includes('\n') ? '\n' : ws ? ' ' : '';
    from = end + ws.length;
  }
  if (from < paragraph.length) out.push({ text: paragraph.slice(from), sep });
  return out.filter((s) => s.text.trim().length > 0);
}

function splitOversize(sentence: string, max: number): { text: string; sep: string; level: number; first: boolean }[] {
  if (sentence.length <= max) return [{ text: sentence, sep: '', level: SENTENCE, first: true }];
  const out: { text: string; sep: string; level: number; first: boolean }[] = [];
  // Whitespace runs are kept as separators; a newline inside a sentence (a list item, a wrapped line) is a better cut than a space.
  const tokens = sentence.split(/(\s+)/);
  let sep = '';
  for (let i = 0; i < tokens.length; i += 2) {
    const word = tokens[i]!;
    const ws = tokens[i + 1] ?? '';
    if (word) {
      const level = sep.includes('\n') ? LINE : WORD;
      hardSplit(word, max).forEach((part, j) => {
        out.push({ text: part, sep: j === 0 ? (sep.includes('\n') ? '\n' : sep ? ' ' : '') : '', level: j === 0 ? level : MID_WORD, first: out.length === 0 });
      });
    }
    sep = ws;
  }
  return out;
}

/** Only for a "word" longer than a whole chunk (a URL, base64): cut between code points, never inside one. */
function hardSplit(word: string, max: number): string[] {
  if (word.length <= max) return [word];
  const parts: string[] = [];
  let part = '';
  for (const ch of word) {
    if (part.length + ch.length > max) {
      parts.push(part);
      part = '';
    }
    part += ch;
  }
  if (part) parts.push(part);
  return parts;
}

// ---- Packing --------------------------------------------------------------------------------------------

/**
 * Fills a chunk until the next unit would overflow `max`, then cuts at the best boundary whose chunk is at
 * least `min` long (paragraph over sentence over line over word; nearest `target` among equals). Units after
 * the cut start the next chunk.
 */
function pack(units: Unit[], limits: Limits): Unit[][] {
  const groups: Unit[][] = [];
  let start = 0;
  while (start < units.length) {
    const lengths: number[] = []; // lengths[k] = length of units[start..start+k] joined
    let length = 0;
    let end = start;
    for (; end < units.length; end++) {
      const unit = units[end]!;
      const add = end === start ? unit.text.length : unit.sep.length + unit.text.length;
      if (end > start && length + add > limits.max) break;
      length += add;
      lengths.push(length);
    }
    let cut = end - start; // number of units in this chunk
    if (end < units.length) {
      let bestLevel = Infinity;
      let bestDistance = Infinity;
      for (let k = 1; k <= end - start; k++) {
        const size = lengths[k - 1]!;
        if (size < limits.min) continue;
        const level = units[start + k]!.level;
        const distance = Math.abs(size - limits.target);
        if (level < bestLevel || (level === bestLevel && distance <= bestDistance)) {
          bestLevel = level;
          bestDistance = distance;
          cut = k;
        }
      }
    }
    groups.push(units.slice(start, start + cut));
    start += cut;
  }
  return groups;
}

function joinUnits(group: Unit[]): string {
  return group.map((u, i) => (i === 0 ? u.text : u.sep + u.text)).join('');
}

function resolveLimits(opts: ChunkOptions): Limits {
  const max = Math.max(1, Math.floor(opts.maxChars ?? DEFAULT_MAX_CHARS));
  const target = Math.min(max, Math.max(1, Math.floor(opts.targetChars ?? Math.min(DEFAULT_TARGET_CHARS, max))));
  return { min: Math.floor(target * 0.8), target, max };
}

function normaliseNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** A title from the chunk's first line, or its first sentence when that line runs on. */
function firstSentenceTitle(text: string): string {
  const firstLine = text.split('\n').find((l) => l.trim() && !FENCE_OPEN.test(l)) ?? text;
  const sentence = splitSentences(firstLine.trim())[0]?.text ?? firstLine;
  return deriveTitle(sentence, 80);
}
