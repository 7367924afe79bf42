import { getDocumentProxy } from 'unpdf';
import { describe, expect, it } from 'vitest';
import { corruptPdf, makeEncryptedPdf, makePdf } from '../../../../test/fixtures/pdf.ts';
import { CoreError } from '../../errors.ts';
import { chunkMarkdown, chunkPages, chunkPlainText, DEFAULT_MAX_CHARS, type Chunk } from './chunking.ts';
import { extractDocument, type ExtractProgress } from './extractDocument.ts';
import { readPdfPages } from './pdfText.ts';

const WORDS = (
  'the a learning memory voice note idea concept retrieval spacing practice recall question answer model ' +
  'attention neuron habit review summary example context language pattern signal structure evidence'
).split(' ');

/** Deterministic prose: a small LCG, so failures reproduce. */
function prose(seed: number, sentences: number): string[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  const out: string[] = [];
  for (let s = 0; s < sentences; s++) {
    const n = 6 + (next() % 14);
    const words = Array.from({ length: n }, () => WORDS[next() % WORDS.length]!);
    words[0] = words[0]!.charAt(0).toUpperCase() + words[0]!.slice(1);
    out.push(`${words.join(' ')}.`);
  }
  return out;
}

/** Wraps sentences into PDF-like lines of at most `width` characters. */
function wrap(sentences: string[], width = 90): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of sentences.join(' ').split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

const tokens = (text: string) => text.split(/\s+/).filter(Boolean);

async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CoreError);
  return err as CoreError;
}

function expectWellFormed(chunks: Chunk[], source: string, maxChars = DEFAULT_MAX_CHARS): void {
  for (const c of chunks) {
    expect(c.text.length).toBeLessThanOrEqual(maxChars);
    expect(c.text).toBe(c.text.trim());
    expect(c.title.length).toBeGreaterThan(0);
  }
  expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
  // Every word arrives whole, once, in order: nothing split, dropped or duplicated.
  expect(chunks.flatMap((c) => tokens(c.text))).toEqual(tokens(source));
}

const LONG_PAGE = wrap(prose(1, 60)); // ~5,000 characters: several chunks on its own
const DOC = [LONG_PAGE, ['Short page two ends here.'], ['Short page three ends here.'], [], ['The last page ends the document.']];

describe('test PDF writer', () => {
  it('writes a PDF that pdf.js reads back', async () => {
    const pdf = await getDocumentProxy(makePdf([['Hello (world)'], ['Page two']], { title: 'Fixture' }), { verbosity: 0 });
    expect(pdf.numPages).toBe(2);
    const page = await pdf.getPage(1);
    const items = (await page.getTextContent()).items.map((i) => ('str' in i ? i.str : ''));
    expect(items.join('')).toBe('Hello (world)');
    await pdf.loadingTask.destroy();
  });

  it('encrypts so that pdf.js needs the password, and decrypts with it', async () => {
    const bytes = makeEncryptedPdf([['Secret words']], 'hunter2', { title: 'Hidden' });
    const err = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { name?: string } | undefined)?.name).toBe('PasswordException');
    // Right password: the key, /O, /U and per-object RC4 are all computed as a real reader expects.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0, password: 'hunter2' });
    const items = (await (await pdf.getPage(1)).getTextContent()).items.map((i) => ('str' in i ? i.str : ''));
    expect(items.join('')).toBe('Secret words');
    expect((await pdf.getMetadata()).info).toMatchObject({ Title: 'Hidden' });
    await pdf.loadingTask.destroy();
  });
});

describe('readPdfPages', () => {
  it('reads each page, keeps line and paragraph breaks, and the title', async () => {
    const bytes = makePdf([['First line', 'second line', '', 'A new paragraph.'], [], ['Third page']], { title: 'Notes' });
    const { pages, title } = await readPdfPages(bytes);
    expect(pages).toEqual(['First line\nsecond line\n\nA new paragraph.', '', 'Third page']);
    expect(title).toBe('Notes');
  });

  it('leaves the caller’s bytes intact', async () => {
    const bytes = makePdf([['Kept']]);
    const copy = Uint8Array.from(bytes);
    await readPdfPages(bytes);
    expect(bytes.byteLength).toBe(copy.byteLength);
    expect(Buffer.from(bytes).equals(Buffer.from(copy))).toBe(true);
  });

  it('reports progress per page up to the total', async () => {
    const seen: [number, number][] = [];
    await readPdfPages(makePdf(DOC), { onProgress: (done, total) => seen.push([done, total]) });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5].map((n) => [n, 5]));
  });

  it('stops between pages when cancelled', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const err = await rejection(
      readPdfPages(makePdf(DOC), {
        signal: controller.signal,
        onProgress: (done) => {
          seen.push(done);
          if (done === 2) controller.abort();
        },
      }),
    );
    expect(err.code).toBe('CANCELLED');
    expect(Math.max(...seen)).toBe(2);
  });

  it('does not start when already cancelled', async () => {
    const err = await rejection(readPdfPages(makePdf(DOC), { signal: AbortSignal.abort() }));
    expect(err.code).toBe('CANCELLED');
  });

  it('explains a password-protected PDF', async () => {
    const err = await rejection(readPdfPages(makeEncryptedPdf(DOC, 'secret')));
    expect(err.code).toBe('DOCUMENT_UNREADABLE');
    expect(err.message).toMatch(/password-protected; remove the password/);
  });

  it('explains a damaged PDF', async () => {
    const err = await rejection(readPdfPages(corruptPdf()));
    expect(err.code).toBe('DOCUMENT_UNREADABLE');
    expect(err.message).toMatch(/damaged or not a PDF \(.+\)/);
  });

  it('explains a PDF without text', async () => {
    const err = await rejection(readPdfPages(makePdf([[], ['   ']])));
    expect(err.code).toBe('DOCUMENT_UNREADABLE');
    expect(err.message).toMatch(/no text layer/);
  });
});

describe('chunkPages', () => {
  it('cuts a long page into several chunks and merges short pages into one spanning them', async () => {
    const { pages } = await readPdfPages(makePdf(DOC));
    const chunks = chunkPages(pages, { docTitle: 'Study guide' });
    expectWellFormed(chunks, pages.join('\n'));

    const firstPage = chunks.filter((c) => c.pageEnd === 1);
    expect(firstPage.length).toBeGreaterThanOrEqual(2);
    for (const c of firstPage) expect(c.page).toBe(1);
    for (const c of chunks.slice(0, -1)) expect(c.text.length).toBeGreaterThanOrEqual(1200);

    const last = chunks[chunks.length - 1]!;
    expect(last.pageEnd).toBe(5); // page 4 is empty and so covered silently
    expect(last.text).toContain('Short page two ends here.\n\nShort page three ends here.\n\nThe last page ends the document.');
    expect(last.title).toBe(`Study guide, p. ${last.page}–5`);
    expect(firstPage[0]!.title).toBe('Study guide, p. 1');
  });

  it('titles chunks by their first sentence when there is no document title', () => {
    const chunks = chunkPages(['', 'Photosynthesis turns light into sugar. It happens in leaves.']);
    expect(chunks).toEqual([
      { text: 'Photosynthesis turns light into sugar. It happens in leaves.', title: 'Photosynthesis turns light into sugar.', index: 0, page: 2, pageEnd: 2 },
    ]);
  });

  it('joins a sentence broken across pages with a space, not a paragraph', () => {
    const chunks = chunkPages(['The mitochondria is the', 'powerhouse of the cell.']);
    expect(chunks.map((c) => c.text)).toEqual(['The mitochondria is the powerhouse of the cell.']);
    expect(chunks[0]).toMatchObject({ page: 1, pageEnd: 2 });
  });

  it('is deterministic', async () => {
    const { pages } = await readPdfPages(makePdf(DOC));
    expect(chunkPages(pages)).toEqual(chunkPages([...pages]));
  });
});

describe('chunkPlainText', () => {
  const paragraphs = Array.from({ length: 12 }, (_, i) => prose(100 + i, 3 + (i % 5)).join(' '));
  const text = paragraphs.join('\n\n');

  it('keeps every chunk within bounds, every word whole, and prefers paragraph ends', () => {
    const chunks = chunkPlainText(text);
    expectWellFormed(chunks, text);
    for (const c of chunks.slice(0, -1)) expect(c.text.length).toBeGreaterThanOrEqual(1200);
    for (const c of chunks) expect(c.text).toMatch(/\.$/);
    expect(chunks.every((c) => c.page === undefined && c.pageEnd === undefined)).toBe(true);
  });

  it('respects small limits, cutting at sentences and then words', () => {
    const maxChars = 60;
    const chunks = chunkPlainText(text, { targetChars: 45, maxChars });
    expectWellFormed(chunks, text, maxChars);
  });

  it('cuts a word only when it is longer than a whole chunk', () => {
    const url = `https://example.com/${'x'.repeat(150)}`;
    const chunks = chunkPlainText(`See ${url} for more.`, { maxChars: 100 });
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(100);
    expect(chunks.map((c) => c.text).join('').replace(/\s/g, '')).toBe(`See${url}formore.`);
    expect(chunks[0]!.text).toBe('See'); // the cut falls before the long word, not inside one
  });

  it('is deterministic', () => {
    expect(chunkPlainText(text)).toEqual(chunkPlainText(`${text}`));
  });
});

describe('chunkMarkdown', () => {
  it('titles chunks with their heading path and never mixes sections', () => {
    const md = ['# Intro', '', 'Why this exists.', '', '## Setup', '', 'Install it.', '', '### Linux', '', 'Use apt.', '', '## Usage', '', 'Run it.'].join('\n');
    const chunks = chunkMarkdown(md);
    expect(chunks.map((c) => [c.title, c.text])).toEqual([
      ['Intro', '# Intro\n\nWhy this exists.'],
      ['Intro › Setup', '## Setup\n\nInstall it.'],
      ['Intro › Setup › Linux', '### Linux\n\nUse apt.'],
      ['Intro › Usage', '## Usage\n\nRun it.'],
    ]);
  });

  it('drops headings with no body of their own from the text but keeps them in the path', () => {
    const chunks = chunkMarkdown('Preamble text.\n\n# Guide\n## Part one\n\nBody.');
    expect(chunks.map((c) => c.title)).toEqual(['Preamble text.', 'Guide › Part one']);
  });

  it('keeps a code fence whole when it fits, even if that means an earlier cut', () => {
    const intro = prose(7, 8).join(' ');
    const code = ['```ts', ...Array.from({ length: 12 }, (_, i) => `const value${i} = compute(${i}); // # not a heading`), '```'].join('\n');
    const md = `# Code\n\n${intro}\n\n${code}\n\nAfter the code.`;
    const maxChars = Math.max(intro.length, code.length) + 20;
    const chunks = chunkMarkdown(md, { maxChars, targetChars: maxChars });
    expect(chunks.some((c) => c.text.includes(code))).toBe(true);
    for (const c of chunks) {
      expect(c.text.length).toBeLessThanOrEqual(maxChars);
      expect(c.title).toBe('Code');
    }
  });

  it('re-fences the parts of a code block too long for one chunk', () => {
    const code = ['```py', ...Array.from({ length: 40 }, (_, i) => `print("line ${i}")`), '```'].join('\n');
    const chunks = chunkMarkdown(code, { maxChars: 200 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect(c.text.length).toBeLessThanOrEqual(200);
      expect(c.text).toMatch(/^```py\n[\s\S]*\n```$/);
    }
    const lines = chunks.flatMap((c) => c.text.split('\n').filter((l) => !l.startsWith('```')));
    expect(lines).toEqual(Array.from({ length: 40 }, (_, i) => `print("line ${i}")`));
  });

  it('keeps long sections within bounds and is deterministic', () => {
    const md = ['# Long', '', ...Array.from({ length: 10 }, (_, i) => prose(300 + i, 5).join(' ')).flatMap((p) => [p, ''])].join('\n');
    const chunks = chunkMarkdown(md);
    expectWellFormed(chunks, md);
    expect(new Set(chunks.map((c) => c.title))).toEqual(new Set(['Long']));
    expect(chunkMarkdown(md)).toEqual(chunks);
  });
});

describe('extractDocument', () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);

  it('extracts a PDF with its title, page count and progress', async () => {
    const progress: ExtractProgress[] = [];
    const result = await extractDocument(
      { bytes: makePdf(DOC, { title: 'Biology' }), mime: 'application/pdf', name: 'bio.pdf' },
      { onProgress: (p) => progress.push(p) },
    );
    expect(result.title).toBe('Biology');
    expect(result.pages).toBe(5);
    expect(result.chunks[0]!.title).toBe('Biology, p. 1');
    const reading = progress.filter((p) => p.stage === 'reading');
    expect(reading.map((p) => p.done)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(progress[progress.length - 1]).toEqual({ stage: 'chunking', done: 1, total: 1 });
  });

  it('falls back to the file name for an untitled PDF', async () => {
    const result = await extractDocument({ bytes: makePdf([['Some text.']]), mime: 'application/pdf', name: '/tmp/Lecture 3.pdf' });
    expect(result.title).toBe('Lecture 3');
  });

  it('cancels a PDF mid-way', async () => {
    const controller = new AbortController();
    const err = await rejection(
      extractDocument(
        { bytes: makePdf(DOC), mime: 'application/pdf' },
        { signal: controller.signal, onProgress: (p) => p.done === 1 && p.stage === 'reading' && controller.abort() },
      ),
    );
    expect(err.code).toBe('CANCELLED');
  });

  it('extracts Markdown with a front-matter title, stripping a BOM', async () => {
    const bytes = utf8('\uFEFF---\ntitle: "Cell biology"\n---\n# Cells\n\nThey divide.\r\n');
    const result = await extractDocument({ bytes, mime: 'text/markdown; charset=utf-8', name: 'cells.md' });
    expect(result.title).toBe('Cell biology');
    expect(result.pages).toBeUndefined();
    expect(result.chunks).toEqual([{ text: '# Cells\n\nThey divide.', title: 'Cells', index: 0 }]);
  });

  it('extracts plain text titled by its file name', async () => {
    const result = await extractDocument({ bytes: utf8('One idea.\n\nAnother idea.'), mime: 'text/plain', name: 'ideas.txt' });
    expect(result.title).toBe('ideas');
    expect(result.chunks.map((c) => c.text)).toEqual(['One idea.\n\nAnother idea.']);
  });

  it('refuses text that is not UTF-8', async () => {
    const latin1 = Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x6e, 0x6f, 0x69, 0x72]); // "café noir" in Latin-1
    const err = await rejection(extractDocument({ bytes: latin1, mime: 'text/plain' }));
    expect(err.code).toBe('DOCUMENT_UNREADABLE');
    expect(err.message).toMatch(/not UTF-8 text/);

    const utf16 = Uint8Array.from([0xff, 0xfe, 0x68, 0x00, 0x69, 0x00]);
    expect((await rejection(extractDocument({ bytes: utf16, mime: 'text/markdown' }))).message).toMatch(/UTF-16/);
    const binary = Uint8Array.from([0x68, 0x00, 0x69, 0x00]);
    expect((await rejection(extractDocument({ bytes: binary, mime: 'text/plain' }))).message).toMatch(/not UTF-8 text/);
  });

  it('refuses an empty text file', async () => {
    const err = await rejection(extractDocument({ bytes: utf8(' \n\n '), mime: 'text/plain' }));
    expect(err.code).toBe('DOCUMENT_UNREADABLE');
  });

  it('refuses other types', async () => {
    const err = await rejection(extractDocument({ bytes: new Uint8Array([0x89, 0x50]), mime: 'image/png' }));
    expect(err.code).toBe('BAD_INPUT');
  });
});
