import path from 'node:path';
import { deriveTitle } from '@lva/shared';
import { CoreError } from '../../errors.ts';
import { chunkMarkdown, chunkPages, chunkPlainText, markdownTitle, type Chunk, type ChunkOptions } from './chunking.ts';
import { readPdfPages, throwIfCancelled } from './pdfText.ts';

export interface ExtractInput {
  bytes: Uint8Array;
  /** As `fileKind` in captureFiles.ts assigns it; parameters such as "; charset=utf-8" are ignored. */
  mime: string;
  /** The file's name, used for the title when the document has none of its own. */
  name?: string;
}

export interface ExtractProgress {
  stage: 'reading' | 'chunking';
  done: number;
  total: number;
}

export interface ExtractOptions {
  signal?: AbortSignal;
  onProgress?: (p: ExtractProgress) => void;
  chunking?: ChunkOptions;
}

export interface ExtractedDocument {
  title: string;
  chunks: Chunk[];
  /** Page count, for PDFs. */
  pages?: number;
}

export const SUPPORTED_DOCUMENT_MIMES = ['application/pdf', 'text/markdown', 'text/plain'] as const;

export async function extractDocument(input: ExtractInput, opts: ExtractOptions = {}): Promise<ExtractedDocument> {
  const { signal, onProgress } = opts;
  const mime = input.mime.split(';', 1)[0]!.trim().toLowerCase();
  const fromName = input.name ? path.basename(input.name, path.extname(input.name)).trim() : '';
  throwIfCancelled(signal);

  if (mime === 'application/pdf') {
    const { pages, title: pdfTitle } = await readPdfPages(input.bytes, {
      ...(signal ? { signal } : {}),
      onProgress: (done, total) => onProgress?.({ stage: 'reading', done, total }),
    });
    const title = pdfTitle ?? fromName;
    onProgress?.({ stage: 'chunking', done: 0, total: 1 });
    const chunks = chunkPages(pages, { ...opts.chunking, ...(title ? { docTitle: title } : {}) });
    throwIfCancelled(signal);
    onProgress?.({ stage: 'chunking', done: 1, total: 1 });
    return { title: title || chunks[0]?.title || 'Untitled PDF', chunks, pages: pages.length };
  }

  if (mime === 'text/markdown' || mime === 'text/x-markdown' || mime === 'text/plain') {
    onProgress?.({ stage: 'reading', done: 0, total: 1 });
    const text = decodeUtf8(input.bytes);
    onProgress?.({ stage: 'reading', done: 1, total: 1 });
    throwIfCancelled(signal);
    onProgress?.({ stage: 'chunking', done: 0, total: 1 });
    const markdown = mime !== 'text/plain';
    const chunks = markdown ? chunkMarkdown(text, opts.chunking) : chunkPlainText(text, opts.chunking);
    if (chunks.length === 0) throw new CoreError('DOCUMENT_UNREADABLE', 'this file is empty; there is no text to add');
    throwIfCancelled(signal);
    onProgress?.({ stage: 'chunking', done: 1, total: 1 });
    const title = (markdown ? markdownTitle(text) : undefined) ?? (fromName || deriveTitle(text));
    return { title: title || 'Untitled', chunks };
  }

  throw new CoreError('BAD_INPUT', `cannot extract text from ${input.mime || 'a file without a type'}; supported: ${SUPPORTED_DOCUMENT_MIMES.join(', ')}`);
}

/** Strict, so a file in another encoding is refused rather than filled with replacement characters. */
export function decodeUtf8(bytes: Uint8Array): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new CoreError('DOCUMENT_UNREADABLE', 'this file is UTF-16 text, not UTF-8 text; save it as UTF-8 and add it again');
  }
  let text: string;
  try {
    // ignoreBOM false: a UTF-8 byte order mark is removed rather than kept as a leading U+FEFF.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (err) {
    throw new CoreError('DOCUMENT_UNREADABLE', 'this file is not UTF-8 text; save it as UTF-8 and add it again', { cause: err });
  }
  // NUL never occurs in text; it marks a binary file (or BOM-less UTF-16) that happened to decode.
  if (text.includes('\u0000')) throw new CoreError('DOCUMENT_UNREADABLE', 'this file is not UTF-8 text (it looks binary); save it as UTF-8 text and add it again');
  return text.replace(/\r\n?/g, '\n');
}
