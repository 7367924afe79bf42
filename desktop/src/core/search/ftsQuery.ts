/**
 * Turns what a person typed into an FTS5 query. Every word is quoted, so FTS5 operators and stray
 * quotes in the input are plain text, never syntax errors. Words are OR'ed: bm25 already ranks
 * captures with more of the words higher, and a stricter AND would hide partial matches from the fusion.
 * When searching as you type, the last word is a prefix, so results follow the keystrokes.
 */
export function ftsQuery(input: string, options: FtsOptions = {}): string | undefined {
  const terms = ftsTerms(input, options);
  return terms.length ? terms.join(' OR ') : undefined;
}

/**
 * The quoted FTS5 terms of a query, one per distinct word. Function words ("a", "to", "the", the "s"
 * of "body's") are left out unless the query has nothing else: nearly every capture contains them, so
 * they would put unrelated captures at the top of the keyword list and, through the fusion, above
 * the captures the query is about.
 */
export interface FtsOptions {
  /** Search as you type: the unfinished last word matches as a prefix. Off for submitted queries, where "germs" must not find "German". */
  prefixLastWord?: boolean;
}

export function ftsTerms(input: string, options: FtsOptions = {}): string[] {
  const words = input.normalize('NFKC').match(/[\p{L}\p{N}]+/gu);
  if (!words) return [];
  const all = [...new Set(words.map((w) => w.toLowerCase()))];
  const content = all.filter((w) => !STOPWORDS.has(w));
  const unique = (content.length ? content : all).slice(0, 32);
  const typingLastWord = options.prefixLastWord === true && !/\s$/.test(input) && unique.at(-1) === all.at(-1);
  return unique.map((w, i) => (i === unique.length - 1 && typingLastWord && w.length >= 2 ? `"${w}"*` : `"${w}"`));
}

const STOPWORDS = new Set(
  (
    'a about above after again against all also am an and any are as at be because been before being below between both but by ' +
    'can could did do does doing down during each few for from further had has have having he her here hers him his how i if in ' +
    'into is it its itself just me more most my no nor not now of off on once only or other our ours out over own same she should ' +
    'so some such than that the their theirs them then there these they this those through to too under until up us very was we ' +
    'were what when where which while who whom why will with would you your yours s t d ll m re ve'
  ).split(' '),
);
