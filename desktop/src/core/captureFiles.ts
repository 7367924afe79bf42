import path from 'node:path';
import type { CaptureSource } from '@lva/shared';
import { CoreError } from './errors.ts';

export interface FileKind {
  mime: string;
  source: CaptureSource;
  step: 'transcribe' | 'describe' | 'extract';
}

const KINDS: Record<string, FileKind> = {
  '.wav': { mime: 'audio/wav', source: 'voice', step: 'transcribe' },
  '.webm': { mime: 'audio/webm', source: 'voice', step: 'transcribe' },
  '.ogg': { mime: 'audio/ogg', source: 'voice', step: 'transcribe' },
  '.mp3': { mime: 'audio/mpeg', source: 'voice', step: 'transcribe' },
  '.m4a': { mime: 'audio/mp4', source: 'voice', step: 'transcribe' },
  '.png': { mime: 'image/png', source: 'image', step: 'describe' },
  '.jpg': { mime: 'image/jpeg', source: 'image', step: 'describe' },
  '.jpeg': { mime: 'image/jpeg', source: 'image', step: 'describe' },
  '.webp': { mime: 'image/webp', source: 'image', step: 'describe' },
  '.gif': { mime: 'image/gif', source: 'image', step: 'describe' },
  '.pdf': { mime: 'application/pdf', source: 'document', step: 'extract' },
  '.md': { mime: 'text/markdown', source: 'document', step: 'extract' },
  '.markdown': { mime: 'text/markdown', source: 'document', step: 'extract' },
  '.txt': { mime: 'text/plain', source: 'document', step: 'extract' },
};

/** Leading bytes of each format: a file is rejected when its contents do not match its extension. */
const MAGIC: Record<string, (b: Uint8Array) => boolean> = {
  'audio/wav': (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WAVE',
  'audio/webm': (b) => b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3,
  'audio/ogg': (b) => ascii(b, 0, 4) === 'OggS',
  'audio/mpeg': (b) => ascii(b, 0, 3) === 'ID3' || (b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0),
  'audio/mp4': (b) => ascii(b, 4, 8) === 'ftyp',
  'image/png': (b) => b[0] === 0x89 && ascii(b, 1, 4) === 'PNG',
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/webp': (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP',
  'image/gif': (b) => ascii(b, 0, 4) === 'GIF8',
  'application/pdf': (b) => ascii(b, 0, 5) === '%PDF-',
  // Text has no signature; a NUL byte up front means a binary file with a text extension. The
  // document agent checks the whole file is UTF-8.
  'text/markdown': (b) => !b.includes(0),
  'text/plain': (b) => !b.includes(0),
};

function ascii(b: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...b.subarray(start, end));
}

export function fileKind(file: string, bytes: Uint8Array): FileKind {
  const ext = path.extname(file).toLowerCase();
  const kind = KINDS[ext];
  if (!kind) {
    throw new CoreError('BAD_INPUT', `unsupported file type "${ext || path.basename(file)}"; supported: ${Object.keys(KINDS).join(' ')}`);
  }
  if (!MAGIC[kind.mime]!(bytes)) throw new CoreError('BAD_INPUT', `${path.basename(file)} is not a valid ${ext.slice(1)} file`);
  return kind;
}

/** Duration of a PCM WAV from its header; other formats get theirs when transcribed. */
export function wavDurationMs(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let byteRate: number | undefined;
  for (let at = 12; at + 8 <= bytes.byteLength; ) {
    const id = ascii(bytes, at, at + 4);
    const size = view.getUint32(at + 4, true);
    if (id === 'fmt ' && at + 16 <= bytes.byteLength) byteRate = view.getUint32(at + 16, true);
    if (id === 'data') return byteRate ? Math.round((Math.min(size, bytes.byteLength - at - 8) / byteRate) * 1000) : undefined;
    at += 8 + size + (size % 2);
  }
  return undefined;
}
