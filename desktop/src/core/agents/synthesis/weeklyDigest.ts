import type Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import type { Usage } from '../analysis/extractConcepts.ts';
import type { ProviderSettings } from '../ProviderSettings.ts';
import { callTool } from '../structured.ts';

/** Limits match the stored Insight (shared/src/docs/journal.ts), so a validated digest always stores. */
const MAX_ITEMS = 50;
const MAX_ITEM_CHARS = 2000;
const MAX_CITATIONS = 50;

/** Enough of each capture to say what it was about; the concepts carry the rest. */
export const EXCERPT_CHARS = 600;
/** About 25k input tokens: a busy week fits, and the prompt stays cheap. */
export const MAX_DIGEST_CAPTURES = 120;
const MAX_CONCEPTS_SHOWN = 12;

export const DigestItem = z.object({
  // Empty text is allowed through validation and dropped afterwards: one blank item is not worth failing the digest for.
  text: z.string().max(MAX_ITEM_CHARS).describe('One point, one or two sentences, addressed to the learner ("you").'),
  captureIds: z.array(z.string().max(100)).max(MAX_CITATIONS).describe('Ids of the captures this point draws on, exactly as given.'),
});
export type DigestItem = z.infer<typeof DigestItem>;

const items = (what: string): z.ZodArray<typeof DigestItem> => z.array(DigestItem).max(MAX_ITEMS).describe(what);

export const Digest = z.object({
  summary: z.string().max(5000).describe('Two to four sentences on what the period was about for this learner.'),
  learned: items('What they learned: the main ideas and facts, each citing the captures it comes from. Up to 8.'),
  themes: items('Threads that run through several captures, or connect this period to ideas that recur. Up to 5.'),
  questions: items('Open questions: things they wondered about, got stuck on or left unresolved. Up to 5.'),
  nextSteps: items('Concrete things to do next: to review, practise, read or try, following from the captures. Up to 5.'),
});
export type Digest = z.infer<typeof Digest>;

const SECTIONS = ['learned', 'themes', 'questions', 'nextSteps'] as const;

export interface DigestCapture {
  id: string;
  title: string;
  text: string;
  createdAt: number;
  concepts: string[];
}

export interface DigestInput {
  period: { from: number; to: number; label: string };
  captures: DigestCapture[];
}

export interface WrittenDigest {
  digest: Digest;
  /** Capture ids the model cited that it was not given, removed from the digest; once each. */
  dropped: string[];
  usage: Usage;
  /** The model that wrote it; '' when nothing was sent (no captures). */
  model: string;
}

const SYSTEM = [
  'You write a weekly learning digest for one person from the notes they captured during the period:',
  'things they said, wrote, read or saw while learning. The notes are given as <capture> elements with',
  'an id, a date, a title, the start of the text and its concepts. Write to the person ("you"), plainly,',
  'without praise or filler. Every item must rest on the captures: list in captureIds the ids of the',
  'captures it draws on, exactly as given, and cite only those ids. Leave a section empty rather than',
  'padding it. Record the digest with the record_digest tool.',
].join(' ');

/**
 * When there are more captures than fit, the ones with the most concepts are kept (they carry the most
 * to learn from; voice memos still waiting for analysis have none), newer first among equals; they are
 * then shown in the order they were made, so the model sees the period unfold.
 */
export function selectCaptures(captures: readonly DigestCapture[], max = MAX_DIGEST_CAPTURES): DigestCapture[] {
  const chosen = captures.length <= max ? [...captures] : [...captures].sort((a, b) => b.concepts.length - a.concepts.length || b.createdAt - a.createdAt).slice(0, max);
  return chosen.sort((a, b) => a.createdAt - b.createdAt);
}

function attr(value: string): string {
  return value.replace(/"/g, "'").replace(/[\r\n]+/g, ' ').trim();
}

function captureBlock(c: DigestCapture): string {
  const text = c.text.trim();
  const excerpt = text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
  const date = new Date(c.createdAt).toISOString().slice(0, 10);
  const concepts = c.concepts.slice(0, MAX_CONCEPTS_SHOWN).map(attr).join(', ');
  const title = c.title.trim() ? ` title="${attr(c.title)}"` : '';
  return `<capture id="${attr(c.id)}" date="${date}"${title}${concepts ? ` concepts="${concepts}"` : ''}>\n${excerpt}\n</capture>`;
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function emptyDigest(summary: string): Digest {
  return { summary, learned: [], themes: [], questions: [], nextSteps: [] };
}

/** Removes citations of captures the model was not shown (collecting them in `dropped`) and blank items. */
export function checkCitations(digest: Digest, given: ReadonlySet<string>): { digest: Digest; dropped: string[] } {
  const dropped = new Set<string>();
  const clean = (list: readonly DigestItem[]): DigestItem[] =>
    list.flatMap((item) => {
      const text = item.text.trim();
      if (!text) return [];
      const captureIds: string[] = [];
      for (const raw of item.captureIds) {
        const id = raw.trim();
        if (!given.has(id)) dropped.add(raw);
        else if (!captureIds.includes(id)) captureIds.push(id);
      }
      return [{ text, captureIds }];
    });
  const out = emptyDigest(digest.summary.trim());
  for (const section of SECTIONS) out[section] = clean(digest[section]);
  return { digest: out, dropped: [...dropped] };
}

export async function writeDigest(
  client: Anthropic,
  settings: ProviderSettings,
  input: DigestInput,
  options: { signal?: AbortSignal } = {},
): Promise<WrittenDigest> {
  const { period } = input;
  if (input.captures.length === 0) {
    return { digest: emptyDigest(`Nothing was captured in ${period.label}.`), dropped: [], usage: { inputTokens: 0, outputTokens: 0 }, model: '' };
  }
  const shown = selectCaptures(input.captures);
  const left = input.captures.length - shown.length;
  const note = left > 0 ? `\n\n(${left} more captures from the period are not shown; they had fewer concepts.)` : '';
  const content = [
    `The period is ${period.label}, from ${day(period.from)} to ${day(period.to - 1)}. ${input.captures.length} captures were made in it.`,
    '',
    shown.map(captureBlock).join('\n'),
  ].join('\n') + note;

  const result = await callTool(client, {
    model: settings.models.synthesis,
    system: SYSTEM,
    content,
    tool: {
      name: 'record_digest',
      description: `Record the learning digest for ${period.label}.`,
      schema: Digest,
    },
    maxTokens: 4096,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // Only the captures shown can be cited: one that was left out could only be cited by a guess.
  const checked = checkCitations(result.value, new Set(shown.map((c) => c.id)));
  return { ...checked, usage: result.usage, model: result.model };
}
