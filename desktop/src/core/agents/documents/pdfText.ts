import { getDocumentProxy } from 'unpdf';
import { CoreError } from '../../errors.ts';

export interface ReadPdfOptions {
  signal?: AbortSignal;
  /** Called after each page is read, and once with (0, total) when the page count is known. */
  onProgress?: (done: number, total: number) => void;
}

export interface PdfPages {
  /** Text of each page, index 0 = page 1; a page without text is ''. */
  pages: string[];
  title?: string;
}

/** The part of a pdf.js text item we rely on; kept narrow so a pdf.js upgrade breaks here, not downstream. */
interface TextRun {
  str: string;
  hasEOL: boolean;
  y: number;
  height: number;
}

// pdf.js has no wording of its own a person can act on; these are ours.
export const PDF_ENCRYPTED = 'this PDF is password-protected; remove the password and add it again';
export const PDF_NO_TEXT =
  'this PDF has no text layer (a scan?); run it through OCR (e.g. "Make searchable" in a PDF tool) and add it again';

export async function readPdfPages(bytes: Uint8Array, opts: ReadPdfOptions = {}): Promise<PdfPages> {
  throwIfCancelled(opts.signal);
  // pdf.js transfers the buffer it is given (it becomes detached); the caller still owns, and may hash or store, theirs.
  const data = new Uint8Array(bytes);
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // Errors only: pdf.js otherwise warns on stderr about every recoverable oddity in real-world files.
    pdf = await getDocumentProxy(data, { verbosity: 0 });
  } catch (err) {
    throw toDocumentError(err);
  }
  try {
    const total = pdf.numPages;
    opts.onProgress?.(0, total);
    const pages: string[] = [];
    for (let n = 1; n <= total; n++) {
      throwIfCancelled(opts.signal);
      let text: string;
      try {
        const page = await pdf.getPage(n);
        const content = await page.getTextContent();
        text = joinRuns(content.items.flatMap(toRun));
        page.cleanup();
      } catch (err) {
        throw toDocumentError(err, n);
      }
      pages.push(text);
      opts.onProgress?.(n, total);
    }
    throwIfCancelled(opts.signal);
    if (!pages.some((p) => p.length > 0)) throw new CoreError('DOCUMENT_UNREADABLE', PDF_NO_TEXT);
    const title = await readTitle(pdf);
    return title ? { pages, title } : { pages };
  } finally {
    // Frees pdf.js's parsed objects and fonts now rather than whenever the GC gets to them.
    await pdf.loadingTask.destroy().catch(() => undefined);
  }
}

function toRun(item: unknown): TextRun[] {
  if (!isRecord(item) || typeof item.str !== 'string') return []; // marked-content markers carry no text
  const transform = Array.isArray(item.transform) ? (item.transform as unknown[]) : [];
  const y = typeof transform[5] === 'number' ? transform[5] : NaN;
  const height = typeof item.height === 'number' && item.height > 0 ? item.height : 0;
  return [{ str: item.str, hasEOL: item.hasEOL === true, y, height }];
}

/**
 * Lines end where pdf.js says (hasEOL) or where the baseline moves; a gap of well over one line's height
 * becomes a blank line, so paragraphs survive extraction and the chunker can break at them.
 */
function joinRuns(runs: TextRun[]): string {
  let out = '';
  let pending: '' | '\n' = '';
  let lastY = NaN;
  let lastHeight = 0;
  for (const run of runs) {
    const visible = run.str.trim().length > 0;
    if (visible) {
      if (out.length > 0 && !Number.isNaN(lastY) && !Number.isNaN(run.y)) {
        const dy = Math.abs(lastY - run.y);
        const h = Math.max(lastHeight, run.height, 1);
        if (dy > h * 1.8) out += '\n\n';
        else if (pending || dy > h * 0.6) out += '\n';
      } else if (pending) {
        out += pending;
      }
      pending = '';
      lastY = run.y;
      lastHeight = run.height;
    }
    out += run.str;
    if (run.hasEOL) pending = '\n';
  }
  return normaliseWhitespace(out);
}

export function normaliseWhitespace(text: string): string {
  return (
    text
      // Soft hyphens and zero-width characters only mark possible breaks; left in, they split words for search.
      .replace(/[\u00ad\u200b-\u200d\u2060\ufeff]/g, '')
      .replace(/\r\n?/g, '\n')
      .replace(/[^\S\n]+/g, ' ')
      .split('\n')
      .map((line) => line.trim())
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim()
  );
}

async function readTitle(pdf: Awaited<ReturnType<typeof getDocumentProxy>>): Promise<string | undefined> {
  try {
    const meta = await pdf.getMetadata();
    const info: unknown = meta.info;
    const title = isRecord(info) && typeof info.Title === 'string' ? normaliseWhitespace(info.Title).replace(/\n/g, ' ') : '';
    return title || undefined;
  } catch {
    return undefined; // a title is a nicety; a broken Info dictionary must not lose the text
  }
}

function toDocumentError(err: unknown, page?: number): CoreError {
  if (err instanceof CoreError) return err;
  const name = isRecord(err) && typeof err.name === 'string' ? err.name : '';
  const message = isRecord(err) && typeof err.message === 'string' ? err.message : String(err);
  if (name === 'PasswordException') return new CoreError('DOCUMENT_UNREADABLE', PDF_ENCRYPTED, { cause: err });
  const where = page === undefined ? '' : `page ${page}: `;
  return new CoreError('DOCUMENT_UNREADABLE', `this PDF is damaged or not a PDF (${where}${message || name || 'unreadable'})`, { cause: err });
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CoreError('CANCELLED', 'cancelled', { cause: signal.reason });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
