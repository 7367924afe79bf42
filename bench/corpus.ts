/**
 * A deterministic corpus of realistic, varied captures for the benchmarks.
 *
 * Every capture is built around one of ~2,000 distinct base sentences (topic × sentence template) and
 * then varied: extra sentences with changing names, days, numbers and terms, voice-style fillers,
 * document excerpts, tags, sources and creation times spread over three years. Scale runs may reuse
 * the base sentence's vector for a capture (see CachingEmbedderSource); the import benchmark embeds
 * every text with the real model.
 */
import type { NewCapture } from '@lva/shared';

/** Bump when the generated texts change, so cached data dirs are rebuilt. */
export const CORPUS_VERSION = 1;

interface Topic {
  name: string;
  domain: string;
  terms: [string, string, string, string];
  facts: [string, string];
}

const TOPICS: Topic[] = [
  { name: 'photosynthesis', domain: 'biology', terms: ['chlorophyll', 'stomata', 'glucose', 'thylakoid'], facts: ['plants turn light, water and carbon dioxide into sugar', 'the light reactions happen in the thylakoid membranes'] },
  { name: 'mitochondria', domain: 'biology', terms: ['ATP', 'cristae', 'respiration', 'electron transport'], facts: ['they have their own DNA inherited from the mother', 'most of the cell’s ATP is made on the inner membrane'] },
  { name: 'CRISPR', domain: 'biology', terms: ['Cas9', 'guide RNA', 'gene editing', 'bacteria'], facts: ['it started as an immune system in bacteria', 'a guide RNA tells Cas9 where to cut the DNA'] },
  { name: 'the immune system', domain: 'biology', terms: ['antibodies', 'T cells', 'vaccines', 'inflammation'], facts: ['memory B cells remember a pathogen for years', 'fever is the body making itself hostile to microbes'] },
  { name: 'evolution', domain: 'biology', terms: ['natural selection', 'mutation', 'fitness', 'speciation'], facts: ['selection acts on individuals but evolution happens to populations', 'finches on the Galápagos changed beak size within a few generations'] },
  { name: 'sleep and memory', domain: 'neuroscience', terms: ['REM', 'hippocampus', 'consolidation', 'slow-wave sleep'], facts: ['the brain replays the day’s memories during slow-wave sleep', 'pulling an all-nighter cuts next-day learning by about forty percent'] },
  { name: 'spaced repetition', domain: 'learning', terms: ['forgetting curve', 'flashcards', 'Anki', 'intervals'], facts: ['reviewing just before you forget makes memories last longer', 'Ebbinghaus measured the forgetting curve on himself'] },
  { name: 'neuroplasticity', domain: 'neuroscience', terms: ['synapses', 'dendrites', 'myelin', 'long-term potentiation'], facts: ['neurons that fire together wire together', 'adult brains keep forming new connections into old age'] },
  { name: 'dopamine', domain: 'neuroscience', terms: ['reward prediction', 'motivation', 'striatum', 'habits'], facts: ['dopamine signals the difference between expected and actual reward', 'it is more about wanting than about liking'] },
  { name: 'quantum entanglement', domain: 'physics', terms: ['Bell inequality', 'superposition', 'measurement', 'qubits'], facts: ['measuring one particle fixes the correlated result of the other', 'it cannot be used to send messages faster than light'] },
  { name: 'special relativity', domain: 'physics', terms: ['time dilation', 'Lorentz factor', 'speed of light', 'simultaneity'], facts: ['moving clocks run slow as seen from a resting observer', 'GPS satellites must correct for relativity every day'] },
  { name: 'entropy', domain: 'physics', terms: ['second law', 'microstates', 'heat death', 'Boltzmann'], facts: ['entropy counts how many microstates look the same from outside', 'the arrow of time points the way entropy grows'] },
  { name: 'black holes', domain: 'physics', terms: ['event horizon', 'Hawking radiation', 'singularity', 'accretion disk'], facts: ['nothing inside the event horizon can get out', 'they slowly evaporate through Hawking radiation'] },
  { name: 'plate tectonics', domain: 'geology', terms: ['subduction', 'mantle convection', 'rift valleys', 'earthquakes'], facts: ['the Atlantic widens by a few centimetres every year', 'mountains like the Himalayas come from plates colliding'] },
  { name: 'climate feedback loops', domain: 'climate', terms: ['albedo', 'permafrost', 'methane', 'carbon sinks'], facts: ['melting ice exposes darker water that absorbs more heat', 'thawing permafrost releases methane that warms things further'] },
  { name: 'the French Revolution', domain: 'history', terms: ['Bastille', 'Robespierre', 'Estates-General', 'Terror'], facts: ['bread prices and debt pushed Paris to revolt in 1789', 'the Terror ended with Robespierre’s own execution'] },
  { name: 'the Roman Republic', domain: 'history', terms: ['Senate', 'consuls', 'Caesar', 'Rubicon'], facts: ['two consuls shared power and served for one year', 'crossing the Rubicon meant civil war'] },
  { name: 'the printing press', domain: 'history', terms: ['Gutenberg', 'movable type', 'Reformation', 'literacy'], facts: ['Gutenberg combined movable type with a wine-press design', 'pamphlets spread the Reformation across Europe within months'] },
  { name: 'the Silk Road', domain: 'history', terms: ['caravans', 'Samarkand', 'trade routes', 'Marco Polo'], facts: ['ideas and diseases travelled along it as well as silk', 'no one merchant travelled the whole route'] },
  { name: 'the Industrial Revolution', domain: 'history', terms: ['steam engine', 'textile mills', 'coal', 'urbanisation'], facts: ['Watt’s separate condenser made steam engines far more efficient', 'cities in northern England doubled in a generation'] },
  { name: 'the Cold War', domain: 'history', terms: ['containment', 'Berlin Wall', 'arms race', 'proxy wars'], facts: ['nuclear deterrence rested on mutually assured destruction', 'the Berlin Wall fell in November 1989'] },
  { name: 'Spanish subjunctive', domain: 'languages', terms: ['ojalá', 'espero que', 'conjugation', 'mood'], facts: ['it follows expressions of wishes, doubts and emotions', 'ojalá is always followed by the subjunctive'] },
  { name: 'Japanese particles', domain: 'languages', terms: ['wa', 'ga', 'wo', 'ni'], facts: ['wa marks the topic while ga marks the grammatical subject', 'ni marks direction and points in time'] },
  { name: 'German cases', domain: 'languages', terms: ['nominative', 'accusative', 'dative', 'genitive'], facts: ['prepositions like mit and bei always take the dative', 'the article changes with the case, not just the noun'] },
  { name: 'Mandarin tones', domain: 'languages', terms: ['pinyin', 'tone sandhi', 'third tone', 'characters'], facts: ['two third tones in a row turn the first into a second tone', 'ma can mean mother, hemp, horse or scold depending on tone'] },
  { name: 'French pronunciation', domain: 'languages', terms: ['liaison', 'nasal vowels', 'silent letters', 'elision'], facts: ['final consonants are mostly silent unless a liaison links them', 'there are four nasal vowels in standard French'] },
  { name: 'recursion', domain: 'programming', terms: ['base case', 'call stack', 'tail calls', 'divide and conquer'], facts: ['every recursive function needs a base case that stops it', 'deep recursion can overflow the call stack'] },
  { name: 'Rust ownership', domain: 'programming', terms: ['borrow checker', 'lifetimes', 'move semantics', 'references'], facts: ['each value has exactly one owner at a time', 'you can have many shared borrows or one mutable borrow'] },
  { name: 'hash tables', domain: 'programming', terms: ['hash function', 'collisions', 'load factor', 'buckets'], facts: ['lookups take constant time on average', 'a table resizes when its load factor gets too high'] },
  { name: 'SQL joins', domain: 'programming', terms: ['inner join', 'left join', 'foreign keys', 'query planner'], facts: ['a left join keeps every row of the left table', 'the query planner picks the join order, not the query text'] },
  { name: 'CRDTs', domain: 'programming', terms: ['merge', 'convergence', 'Automerge', 'vector clocks'], facts: ['replicas that saw the same changes end in the same state', 'they let apps work offline and merge later'] },
  { name: 'gradient descent', domain: 'machine learning', terms: ['learning rate', 'loss function', 'backpropagation', 'momentum'], facts: ['it steps against the gradient to lower the loss', 'a learning rate that is too high makes training diverge'] },
  { name: 'transformers', domain: 'machine learning', terms: ['attention', 'embeddings', 'tokens', 'positional encoding'], facts: ['attention lets every token look at every other token', 'the cost of attention grows with the square of the sequence length'] },
  { name: 'overfitting', domain: 'machine learning', terms: ['validation set', 'regularisation', 'dropout', 'bias-variance'], facts: ['a model that memorises the training set fails on new data', 'dropout randomly silences neurons during training'] },
  { name: 'Bayes’ theorem', domain: 'mathematics', terms: ['prior', 'posterior', 'likelihood', 'base rates'], facts: ['a positive test for a rare disease is often a false positive', 'the posterior is the prior updated by the likelihood'] },
  { name: 'prime numbers', domain: 'mathematics', terms: ['sieve', 'factorisation', 'RSA', 'twin primes'], facts: ['there are infinitely many primes, as Euclid proved', 'RSA encryption relies on factoring being hard'] },
  { name: 'calculus', domain: 'mathematics', terms: ['derivatives', 'integrals', 'limits', 'chain rule'], facts: ['the derivative is the slope of the tangent line', 'integration and differentiation undo each other'] },
  { name: 'linear algebra', domain: 'mathematics', terms: ['eigenvectors', 'matrices', 'determinant', 'basis'], facts: ['an eigenvector keeps its direction under the transformation', 'the determinant measures how much a matrix scales area'] },
  { name: 'game theory', domain: 'mathematics', terms: ['Nash equilibrium', 'prisoner’s dilemma', 'payoff matrix', 'tit for tat'], facts: ['in a Nash equilibrium no player gains by changing alone', 'tit for tat wins repeated prisoner’s dilemma tournaments'] },
  { name: 'inflation', domain: 'economics', terms: ['interest rates', 'central bank', 'CPI', 'money supply'], facts: ['central banks raise interest rates to cool inflation', 'mild inflation of about two percent is the usual target'] },
  { name: 'opportunity cost', domain: 'economics', terms: ['trade-offs', 'scarcity', 'marginal benefit', 'sunk costs'], facts: ['the real cost of a choice is the best alternative you give up', 'sunk costs should not change what you decide next'] },
  { name: 'compound interest', domain: 'finance', terms: ['index funds', 'rule of 72', 'principal', 'returns'], facts: ['money doubles in about 72 divided by the rate years', 'starting ten years earlier matters more than saving more later'] },
  { name: 'cognitive biases', domain: 'psychology', terms: ['confirmation bias', 'anchoring', 'availability heuristic', 'Kahneman'], facts: ['we search for evidence that agrees with what we already think', 'the first number we hear anchors our estimates'] },
  { name: 'the growth mindset', domain: 'psychology', terms: ['Dweck', 'praise', 'effort', 'fixed mindset'], facts: ['praising effort works better than praising talent', 'believing ability can grow changes how people handle failure'] },
  { name: 'deliberate practice', domain: 'learning', terms: ['feedback', 'expertise', 'comfort zone', 'Ericsson'], facts: ['practice works when it targets weaknesses with fast feedback', 'ten thousand hours is an average, not a rule'] },
  { name: 'the Feynman technique', domain: 'learning', terms: ['explain simply', 'gaps', 'analogies', 'teaching'], facts: ['explaining an idea to a child reveals the gaps in your understanding', 'you go back to the source whenever the explanation breaks down'] },
  { name: 'music theory', domain: 'music', terms: ['circle of fifths', 'chord progressions', 'modes', 'intervals'], facts: ['the circle of fifths shows which keys share the most notes', 'a ii–V–I progression is the backbone of jazz standards'] },
  { name: 'guitar technique', domain: 'music', terms: ['barre chords', 'fingerpicking', 'capo', 'scales'], facts: ['barre chords get easier when you use the weight of your arm', 'practising slowly with a metronome builds speed faster'] },
  { name: 'sourdough baking', domain: 'cooking', terms: ['starter', 'hydration', 'autolyse', 'proofing'], facts: ['a starter is a culture of wild yeast and lactic acid bacteria', 'higher hydration gives a more open crumb'] },
  { name: 'fermentation', domain: 'cooking', terms: ['kimchi', 'lactobacillus', 'brine', 'kombucha'], facts: ['salt keeps the bad bacteria out while lactobacillus thrives', 'kimchi keeps getting more sour in the fridge'] },
  { name: 'Stoicism', domain: 'philosophy', terms: ['Marcus Aurelius', 'dichotomy of control', 'virtue', 'Epictetus'], facts: ['focus only on what is within your control', 'Marcus Aurelius wrote the Meditations as a private journal'] },
  { name: 'the trolley problem', domain: 'philosophy', terms: ['utilitarianism', 'deontology', 'ethics', 'intuitions'], facts: ['most people would pull the lever but not push the man', 'it contrasts outcomes with duties'] },
  { name: 'Renaissance painting', domain: 'art', terms: ['perspective', 'chiaroscuro', 'Leonardo', 'fresco'], facts: ['linear perspective was worked out by Brunelleschi', 'Leonardo blended tones so softly that outlines disappear'] },
];

const TEMPLATES: ((t: Topic) => string)[] = [
  (t) => `Today I learned that in ${t.name} ${t.facts[0]}.`,
  (t) => `Today I learned that ${t.facts[1]}.`,
  (t) => `Key idea about ${t.name}: ${t.facts[0]}.`,
  (t) => `Something that surprised me in ${t.domain} class: ${t.facts[1]}.`,
  (t) => `I finally understand ${t.terms[0]} — it is central to ${t.name}.`,
  (t) => `Question for later: how does ${t.terms[1]} relate to ${t.terms[2]} in ${t.name}?`,
  (t) => `Explaining ${t.name} out loud to myself, the hard part is ${t.terms[3]}.`,
  (t) => `Flashcard: what is ${t.terms[0]}? Answer: part of ${t.name}, where ${t.facts[0]}.`,
  (t) => `Flashcard: why does it matter that ${t.facts[1]}?`,
  (t) => `Summary of the lecture on ${t.name}: ${t.terms[0]}, ${t.terms[1]} and ${t.terms[2]}.`,
  (t) => `My own words: ${t.facts[0]}, which is why ${t.terms[2]} matters.`,
  (t) => `I keep mixing up ${t.terms[1]} and ${t.terms[3]} when I study ${t.name}.`,
  (t) => `Podcast note on ${t.domain}: the guest said ${t.facts[1]}.`,
  (t) => `Reading about ${t.name} tonight; the chapter on ${t.terms[2]} was the clearest.`,
  (t) => `An analogy for ${t.terms[0]} that finally clicked for me.`,
  (t) => `Misconception I had about ${t.name}: I thought ${t.terms[3]} worked the other way around.`,
  (t) => `Exam prep for ${t.domain}: remember that ${t.facts[0]}.`,
  (t) => `Interesting connection between ${t.name} and everyday life: ${t.facts[1]}.`,
  (t) => `The textbook explains ${t.terms[1]} badly; the video explained it through ${t.terms[2]}.`,
  (t) => `Three things to review about ${t.name}: ${t.terms[0]}, ${t.terms[3]}, and why ${t.facts[1]}.`,
  (t) => `Voice memo while walking: thinking about ${t.name} and ${t.terms[1]}.`,
  (t) => `If I had to teach ${t.name} tomorrow I would start with ${t.terms[0]}.`,
  (t) => `Quick note: ${t.terms[2]} is not the same as ${t.terms[3]}.`,
  (t) => `Historical detail about ${t.name}: ${t.facts[1]}.`,
  (t) => `Study group discussed ${t.name}; we argued about whether ${t.facts[0]}.`,
  (t) => `I want to go deeper into ${t.terms[3]} after finishing the unit on ${t.name}.`,
  (t) => `The simplest way to put it: ${t.facts[0]}.`,
  (t) => `Practice problem on ${t.terms[1]} took me forty minutes, but now ${t.name} makes sense.`,
  (t) => `Wrote a one-page summary of ${t.name} from memory and forgot ${t.terms[2]}.`,
  (t) => `Teacher’s tip for ${t.domain}: link ${t.terms[0]} to ${t.terms[1]} with a drawing.`,
  (t) => `A counterintuitive fact from ${t.domain}: ${t.facts[1]}.`,
  (t) => `My mental model of ${t.name} in one sentence: ${t.facts[0]}.`,
  (t) => `Documentary about ${t.name} showed ${t.terms[3]} really well.`,
  (t) => `Still confused: does ${t.terms[2]} cause ${t.terms[1]}, or the reverse?`,
  (t) => `Review session: I could explain ${t.terms[0]} and ${t.terms[3]} without notes.`,
  (t) => `Reminder to myself that ${t.facts[1]}, and to look up ${t.terms[0]} again.`,
  (t) => `Compared two books on ${t.name}; the second one covered ${t.terms[2]} in much more depth.`,
  (t) => `Idea for a blog post: what ${t.terms[1]} teaches us about learning ${t.domain}.`,
  (t) => `After the quiz on ${t.name} I realised I never understood ${t.terms[1]}.`,
  (t) => `Mnemonic for ${t.terms[3]} in ${t.name} that my friend suggested.`,
];

const PEOPLE = ['Maria', 'Jonas', 'Aiko', 'Priya', 'Tom', 'Lena', 'Carlos', 'Fatima', 'Wei', 'Noah', 'Sofia', 'Kwame', 'Elif', 'Daniel'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const PLACES = ['the library', 'the train', 'the kitchen', 'the park', 'the office', 'the café on the corner', 'the gym', 'my desk'];
const SOURCES_OF_INFO = ['the podcast', 'the lecture', 'a YouTube video', 'the textbook', 'an article', 'a conversation', 'the documentary', 'the online course'];
/** Words that are rare in the corpus: each appears in about four captures in ten thousand. */
export const RARE_WORDS = [
  'quipu', 'zugzwang', 'sfumato', 'apophenia', 'hapax', 'petrichor', 'sonder', 'palimpsest', 'syzygy', 'ultracrepidarian',
  'defenestration', 'boustrophedon', 'kakistocracy', 'mondegreen', 'sesquipedalian', 'tmesis', 'zeugma', 'anfractuous', 'phosphene', 'limerence',
];

const FILLERS: ((r: Rng, t: Topic, other: Topic) => string)[] = [
  (r) => `Heard it from ${r.pick(SOURCES_OF_INFO)} on ${r.pick(DAYS)}.`,
  (r) => `${r.pick(PEOPLE)} explained it much better than I can.`,
  (r, t) => `Need to review this before the ${t.domain} test on ${r.pick(DAYS)}.`,
  (r, t, o) => `It reminds me of ${o.name}, especially ${r.pick(o.terms)}.`,
  (r) => `I was at ${r.pick(PLACES)} when it finally made sense.`,
  (r, t) => `Page ${r.int(12, 480)} of the ${t.domain} book has a good diagram.`,
  (r, t) => `Spent ${r.int(10, 90)} minutes on ${r.pick(t.terms)} today.`,
  (r, t, o) => `Not sure how this fits with ${r.pick(o.terms)} from ${o.domain}.`,
  (r) => `Ask ${r.pick(PEOPLE)} about it at the study group.`,
  (r, t) => `The example with ${r.pick(t.terms)} was the one that helped.`,
  (r) => `Rated my confidence ${r.int(2, 9)} out of 10.`,
  (r, t) => `Chapter ${r.int(1, 24)} goes into ${r.pick(t.terms)} in detail.`,
  (r, t) => {
    const i = r.int(0, 3);
    return `Should make flashcards for ${t.terms[i]} and ${t.terms[(i + r.int(1, 3)) % 4]}.`;
  },
  (r, t, o) => `Funny how ${t.name} and ${o.name} both come down to ${r.pick(t.terms)}.`,
];

const VOICE_OPENERS = ['Okay so', 'Um, so basically', 'Right, quick thought:', 'So I was thinking', 'Alright,', 'Note to self,'];
const VOICE_FILLERS = ['you know', 'I mean', 'like', 'sort of', 'basically', 'actually'];

/** mulberry32: small, fast and deterministic. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The ~2,000 distinct base sentences, in a fixed order: index = topic × templates + template. */
export function baseSentences(): string[] {
  return TOPICS.flatMap((t) => TEMPLATES.map((tpl) => tpl(t)));
}

export interface GeneratedCapture {
  input: NewCapture;
  /** Index into baseSentences() of the sentence this capture is built around. */
  base: number;
}

export interface CorpusOptions {
  seed: number;
  count: number;
  /** Creation times are spread evenly (with jitter) over this many months before `endMs`, oldest first. */
  months?: number;
  endMs?: number;
  /** Only short notes (one base sentence and at most one extra), the best case for the embedder. */
  shortOnly?: boolean;
}

const DAY_MS = 86_400_000;

/** Generates captures in chronological order, as an import from another tool would deliver them. */
export function* generateCaptures(opts: CorpusOptions): Generator<GeneratedCapture> {
  const rng = new Rng(opts.seed);
  const bases = baseSentences();
  const months = opts.months ?? 36;
  const end = opts.endMs ?? Date.UTC(2026, 0, 1);
  const start = end - months * 30 * DAY_MS;
  const step = (end - start) / Math.max(1, opts.count);
  for (let i = 0; i < opts.count; i++) {
    // Topics are not equally popular: a mild skew towards the first ones.
    const topicIndex = Math.min(TOPICS.length - 1, Math.floor(TOPICS.length * rng.next() ** 1.3));
    const template = rng.int(0, TEMPLATES.length - 1);
    const base = topicIndex * TEMPLATES.length + template;
    const topic = TOPICS[topicIndex]!;
    const other = rng.pick(TOPICS);
    const createdAt = Math.floor(start + i * step + rng.next() * step * 0.9);
    const sentence = bases[base]!;
    const filler = (): string => {
      let s = rng.pick(FILLERS)(rng, topic, other);
      if (rng.chance(0.002)) s = s.replace(/\.$/, `, a bit like ${rng.pick(RARE_WORDS)}.`);
      return s;
    };
    const extra = (n: number): string[] => Array.from({ length: n }, filler);
    const tags: string[] = [];
    if (rng.chance(0.6)) tags.push(topic.domain.replace(/\s+/g, '-'));
    if (rng.chance(0.15)) tags.push(rng.pick(['exam', 'review', 'podcast', 'todo', 'question', 'favourite']));

    let input: NewCapture;
    const roll = rng.next();
    if (opts.shortOnly) {
      input = { text: [sentence, ...extra(rng.int(0, 1))].join(' '), source: rng.chance(0.5) ? 'text' : 'phone', createdAt, tags };
    } else if (roll < 0.4) {
      // Typed note: a sentence or a short paragraph.
      const text = [sentence, ...extra(rng.int(0, 3))].join(' ');
      input = rng.chance(0.3) ? { text, title: `${capitalise(topic.name)} — ${rng.pick(topic.terms)}`, source: 'text', createdAt, tags } : { text, source: 'text', createdAt, tags };
    } else if (roll < 0.55) {
      // Quick phone note.
      input = { text: [sentence, ...extra(rng.int(0, 1))].join(' '), source: 'phone', createdAt, tags };
    } else if (roll < 0.9) {
      // Voice transcript: spoken, rambling, 30 s to 2 min.
      const parts = [`${rng.pick(VOICE_OPENERS)} ${lowerFirst(sentence)}`];
      for (const s of extra(rng.int(3, 12))) parts.push(rng.chance(0.4) ? `${capitalise(rng.pick(VOICE_FILLERS))}, ${lowerFirst(s)}` : s);
      if (rng.chance(0.5)) parts.push(`Anyway, ${lowerFirst(bases[topicIndex * TEMPLATES.length + rng.int(0, TEMPLATES.length - 1)]!)}`);
      input = { text: parts.join(' '), source: 'voice', createdAt, tags };
    } else if (roll < 0.97) {
      // Document excerpt: long, several paragraphs.
      const paragraphs: string[] = [sentence];
      const count = rng.int(3, 10);
      for (let p = 0; p < count; p++) paragraphs.push(extra(rng.int(3, 6)).join(' '));
      input = { text: paragraphs.join('\n\n'), title: `Notes on ${topic.name}, chapter ${rng.int(1, 24)}`, source: 'document', createdAt, tags };
    } else {
      // Photo of a whiteboard or a page, with its description.
      input = { text: `Photo of the whiteboard. ${sentence} ${extra(1).join(' ')}`, source: 'image', createdAt, tags };
    }
    yield { input, base };
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function lowerFirst(s: string): string {
  // Keep proper nouns and acronyms as they are.
  return /^[A-Z][a-z]/.test(s) && !/^(I|CRISPR|ATP|SQL|RSA|GPS)\b/.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s;
}

export interface BenchQuery {
  query: string;
  kind: 'word' | 'phrase' | 'rare' | 'common';
}

/** A fixed mix of ~200 queries: topic words, natural-language phrases, rare terms and very common words. */
export function benchQueries(count = 200): BenchQuery[] {
  const rng = new Rng(4242);
  const words = [...new Set(TOPICS.flatMap((t) => [t.name.replace(/^the /, ''), ...t.terms]))];
  const phrases = [
    'how does sleep help memory',
    'why do plants need light',
    'what causes inflation',
    'explain the borrow checker',
    'difference between dative and accusative',
    'things I keep forgetting before exams',
    'what did Maria explain',
    'podcast about the brain',
    'how to practice guitar faster',
    'why is the sky of black holes dark',
    'notes about revolutions in Europe',
    'how do computers search text quickly',
    'good analogy for entropy',
    'what makes bread rise',
    'ideas about learning languages',
    'probability of a false positive test',
    'how vaccines train the body',
    'ancient trade between China and Europe',
    'how neural networks learn',
    'what the stoics said about control',
  ];
  const common = ['today', 'learned', 'note', 'the', 'review', 'study'];
  const out: BenchQuery[] = [];
  for (let i = 0; i < count; i++) {
    const r = i % 20;
    if (r < 8) out.push({ query: rng.pick(words), kind: 'word' });
    else if (r < 15) out.push({ query: rng.pick(phrases), kind: 'phrase' });
    else if (r < 18) out.push({ query: rng.pick(RARE_WORDS), kind: 'rare' });
    else out.push({ query: rng.pick(common), kind: 'common' });
  }
  return out;
}
