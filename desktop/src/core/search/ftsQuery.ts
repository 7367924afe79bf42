/**
 * Turns what a person typed into an FTS5 query. Every word is quoted, so FTS5 operators and stray
 * quotes in the input are plain text, never syntax errors. Words are OR'ed: bm25 already ranks
 * captures with more of the words higher, and a stricter AND would hide partial matches from the fusion.
 * The last word is a prefix, so results follow the keystrokes while a word is still being typed.
 */
export function ftsQuery(input: string): string | undefined {
  const words = input.normalize('NFKC').match(/[\p{L}\p{N}]+/gu);
  if (!words) return undefined;
  const unique = [...new Set(words.map((w) => w.toLowerCase()))].slice(0, 32);
  const typingLastWord = !/\s$/.test(input);
  return unique
    .map((w, i) => (i === unique.length - 1 && typingLastWord && w.length >= 2 ? `"${w}"*` : `"${w}"`))
    .join(' OR ');
}
