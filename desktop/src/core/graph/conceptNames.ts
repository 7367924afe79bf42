/**
 * Concept names come from a language model, capture by capture, so the same idea arrives as "Neural
 * nets", "neural network" and "the Neural Networks". The graph merges them on a key; this is that key.
 *
 * Decisions:
 * - The key is lowercase, NFKC, punctuation collapsed to spaces (except `+` and `#`, so "C++" and
 *   "C#" survive), leading articles dropped, every word singular, then looked up in a small alias
 *   table. Aliases match the whole key only: "ts" alone is TypeScript, "ts file" is left alone.
 * - The display name is the key, except that words written in capitals ("DNA", "CPU") keep them:
 *   a lowercase acronym reads as a typo. Aliased keys display as the alias target. Capital words are
 *   also never singularised ("AWS", "DNS" are not plurals). Which variant a merged concept shows is
 *   settled by ConceptGraph (the most common one), not here.
 */

const MAX_NAME_LENGTH = 200;

/** Whole-key aliases, applied after singularising, so only singular forms are needed. */
const ALIASES: Readonly<Record<string, string>> = {
  'neural net': 'neural network',
  nn: 'neural network',
  ann: 'artificial neural network',
  ml: 'machine learning',
  ai: 'artificial intelligence',
  llm: 'large language model',
  rl: 'reinforcement learning',
  nlp: 'natural language processing',
  srs: 'spaced repetition',
  'spaced repetition system': 'spaced repetition',
  js: 'javascript',
  ts: 'typescript',
};

const ARTICLES = new Set(['a', 'an', 'the']);

/** Words that end in s but are not plurals, or whose plural is the same word. */
const INVARIANT = new Set([
  'alias', 'atlas', 'bias', 'canvas', 'chaos', 'cosmos', 'ethos', 'pathos', 'kudos', 'lens', 'means',
  'news', 'series', 'species', 'thanks', 'ios', 'macos', 'aids', 'diabetes', 'herpes', 'measles',
  'data', 'media', 'criteria',
]);

/** Fields of study ending in -ics: singular nouns ("topics" and "clinics" are still plurals). */
const ICS_FIELDS = [
  'physics', 'mathematics', 'economics', 'statistics', 'linguistics', 'ethics', 'genetics', 'graphics',
  'robotics', 'politics', 'dynamics', 'electronics', 'semantics', 'optics', 'acoustics', 'athletics',
  'logistics', 'analytics', 'informatics', 'pragmatics', 'phonetics', 'mechanics', 'kinematics',
  'aesthetics', 'ergonomics', 'cybernetics', 'hydraulics', 'thermodynamics', 'aerodynamics',
];

const IRREGULAR: Readonly<Record<string, string>> = {
  children: 'child', people: 'person', men: 'man', women: 'woman', mice: 'mouse', geese: 'goose',
  teeth: 'tooth', feet: 'foot', phenomena: 'phenomenon', matrices: 'matrix', indices: 'index',
  vertices: 'vertex', appendices: 'appendix', crises: 'crisis', diagnoses: 'diagnosis',
  prognoses: 'prognosis', axes: 'axis', oases: 'oasis', emphases: 'emphasis', neuroses: 'neurosis',
  leaves: 'leaf', lives: 'life', knives: 'knife', wives: 'wife', wolves: 'wolf', halves: 'half',
  selves: 'self', shelves: 'shelf', thieves: 'thief', loaves: 'loaf', potatoes: 'potato',
  tomatoes: 'tomato', heroes: 'hero', echoes: 'echo', vetoes: 'veto', torpedoes: 'torpedo',
  buses: 'bus', gases: 'gas', lenses: 'lens', viruses: 'virus', bonuses: 'bonus', campuses: 'campus',
  statuses: 'status', censuses: 'census', focuses: 'focus', octopuses: 'octopus', cacti: 'cactus',
  fungi: 'fungus', nuclei: 'nucleus', stimuli: 'stimulus', radii: 'radius', alumni: 'alumnus',
  quizzes: 'quiz', analyses: 'analysis',
};

/** Words ending in -ie, whose plural -ies must not become -y ("movies" is not "movy"). */
const IE_WORDS = new Set([
  'movie', 'cookie', 'zombie', 'calorie', 'rookie', 'selfie', 'brownie', 'smoothie', 'prairie',
  'hippie', 'goalie', 'auntie', 'pixie', 'freebie', 'newbie', 'genie', 'sortie', 'lie', 'pie', 'tie', 'die',
]);

function singular(word: string): string {
  if (Object.hasOwn(IRREGULAR, word)) return IRREGULAR[word]!;
  if (word.length <= 3 || /\d/.test(word) || !word.endsWith('s')) return word;
  if (INVARIANT.has(word) || ICS_FIELDS.some((f) => word.endsWith(f))) return word;
  if (/(ss|us|is)$/.test(word)) return word;
  // -yses and -theses are the Greek -sis plurals (analyses, hypotheses, syntheses).
  if (word.endsWith('yses')) return word.slice(0, -2) + 'is';
  if (word.endsWith('theses')) return word.slice(0, -2) + 'is';
  if (word.endsWith('ies')) {
    const ie = word.slice(0, -1);
    return IE_WORDS.has(ie) || [...IE_WORDS].some((w) => ie.endsWith(w) && w.length > 3) ? ie : word.slice(0, -3) + 'y';
  }
  if (/(sses|ches|shes|xes|zzes)$/.test(word)) return word.slice(0, -2);
  return word.slice(0, -1);
}

export interface NormalisedConcept {
  /** The identity concepts merge on. */
  key: string;
  /** How to show it: the key, with words written in capitals kept in capitals. */
  name: string;
}

export function normaliseConceptName(raw: string): NormalisedConcept | undefined {
  if (typeof raw !== 'string' || raw.length > MAX_NAME_LENGTH) return undefined;
  const text = raw
    .normalize('NFKC')
    // Possessives go before punctuation becomes spaces, or "Newton's" would leave a stray "s".
    .replace(/['’]s\b/gu, '')
    .replace(/['’]/gu, '')
    .replace(/[^\p{L}\p{N}+#]+/gu, ' ')
    .trim();
  let words = text.split(' ').filter((w) => /[\p{L}\p{N}]/u.test(w));
  while (words.length > 1 && ARTICLES.has(words[0]!.toLowerCase())) words = words.slice(1);
  if (words.length === 0) return undefined;
  const hasLower = words.some((w) => /\p{Ll}/u.test(w) && !/^\p{Lu}{2,}s$/u.test(w));
  const keyWords: string[] = [];
  const nameWords: string[] = [];
  for (const word of words) {
    const lower = word.toLowerCase();
    // A name written all in capitals is shouting, not a row of acronyms, unless its words are short.
    const acronym = word.length >= 2 && /\p{Lu}/u.test(word) && word === word.toUpperCase() && (word.length <= 5 || hasLower);
    // "GPUs" is the plural of an acronym; "AWS" and "DNS" are acronyms, never singularised.
    const pluralAcronym = /^\p{Lu}{2,}s$/u.test(word);
    if (acronym || pluralAcronym) {
      const stem = pluralAcronym ? word.slice(0, -1) : word;
      keyWords.push(stem.toLowerCase());
      nameWords.push(stem);
    } else {
      const single = singular(lower);
      keyWords.push(single);
      nameWords.push(single);
    }
  }
  const joined = keyWords.join(' ');
  const alias = ALIASES[joined];
  if (alias) return { key: alias, name: alias };
  return { key: joined, name: nameWords.join(' ') };
}
