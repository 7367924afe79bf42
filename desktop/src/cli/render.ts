import type { SearchHit } from '../core/search/HybridSearch.ts';

const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

export function highlight(snippet: string, ranges: readonly [number, number][], tty = process.stdout.isTTY === true): string {
  let out = '';
  let at = 0;
  for (const [start, end] of ranges) {
    out += snippet.slice(at, start) + (tty ? BOLD : '[') + snippet.slice(start, end) + (tty ? RESET : ']');
    at = end;
  }
  return out + snippet.slice(at);
}

export function date(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

export function hitLine(hit: SearchHit, rank: number): string {
  return `${rank}. ${hit.title || '(untitled)'}  [${hit.source}, ${date(hit.createdAt)}, ${hit.matched.join('+')}]  ${hit.id}\n   ${highlight(hit.snippet, hit.highlights)}`;
}
