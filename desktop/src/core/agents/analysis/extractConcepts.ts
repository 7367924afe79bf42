import type Anthropic from '@anthropic-ai/sdk';
import { RELATION_KINDS, type Concept, type ConceptRelation } from '@lva/shared';
import { z } from 'zod';
import { normaliseConceptName } from '../../graph/conceptNames.ts';
import type { ProviderSettings } from '../ProviderSettings.ts';
import { callTool } from '../structured.ts';

/** A long document is split into parts before it gets here; this only bounds a single odd capture. */
export const MAX_TEXT_CHARS = 12_000;
const MAX_CONCEPTS = 30;
const MAX_RELATIONS = 60;

export const CONCEPT_TYPES = ['topic', 'technique', 'person', 'tool', 'term', 'place', 'event', 'other'] as const;

export const ToolConcept = z.object({
  name: z.string().min(1).max(200).describe('The concept as a learner would name it: short, singular, no leading article.'),
  // Any short string is accepted, so a near-miss like "method" does not throw the whole answer away.
  type: z.string().max(50).describe(`One of: ${CONCEPT_TYPES.join(', ')}.`),
  importance: z.number().min(0).max(1).describe('How central it is to this text, from 0 (a passing mention) to 1 (what the text is about).'),
});

export const ToolRelation = z.object({
  from: z.string().min(1).max(200).describe('A concept name exactly as given in concepts.'),
  to: z.string().min(1).max(200).describe('Another concept name exactly as given in concepts.'),
  kind: z
    .enum(RELATION_KINDS)
    .describe('related_to (generic link), part_of (from is a part or subtopic of to), causes (from leads to to), example_of (from is an instance of to), contrasts_with (from is an alternative to or opposite of to).'),
});

export const ConceptsOutput = z.object({
  concepts: z.array(ToolConcept).max(MAX_CONCEPTS),
  relations: z.array(ToolRelation).max(MAX_RELATIONS).describe('Links the text itself states or clearly implies between the concepts above; an empty list when there are none.'),
});
export type ConceptsOutput = z.infer<typeof ConceptsOutput>;

export const CONCEPTS_GUIDANCE = [
  'Pick the concepts a learner would want to connect to their other notes later: the ideas, techniques,',
  'people, tools and terms the text is about or teaches. Not every noun: leave out incidental words,',
  'filler and things mentioned only in passing. Usually 3 to 15; fewer for a short note.',
  'Name each concept the way it would be looked up (singular, no article, the common name over a synonym),',
  'in the language of the text.',
].join(' ');

const SYSTEM = [
  'You analyse notes that one person captured while learning (things they said, wrote, read or saw),',
  'to build their personal map of concepts. Record your analysis with the record_concepts tool.',
  CONCEPTS_GUIDANCE,
].join(' ');

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface ExtractedConcepts {
  concepts: Concept[];
  relations: ConceptRelation[];
  usage: Usage;
  /** The model that served the call; '' when nothing was sent (empty text). */
  model: string;
}

/**
 * Trims names, merges concepts that name the same thing (on the graph's own key, so this agrees
 * with how ConceptGraph merges them), keeps the highest importance, and keeps only relations whose
 * ends are both among the concepts, rewritten to the kept names, without self-links or repeats.
 */
export function tidyConcepts(output: ConceptsOutput): { concepts: Concept[]; relations: ConceptRelation[] } {
  const byKey = new Map<string, Concept>();
  for (const raw of output.concepts) {
    const name = raw.name.trim();
    const key = name ? normaliseConceptName(name)?.key : undefined;
    // A name that normalises to nothing ("—", "???") would never join the graph anyway.
    if (!key) continue;
    const type = raw.type.trim().toLowerCase();
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, { name, ...(type ? { type } : {}), importance: raw.importance });
    } else if (raw.importance > (seen.importance ?? 0)) {
      // The stronger mention names it; a weaker duplicate is usually the passing one.
      byKey.set(key, { name, ...(type ? { type } : seen.type ? { type: seen.type } : {}), importance: raw.importance });
    }
  }
  const relations: ConceptRelation[] = [];
  const stated = new Set<string>();
  for (const raw of output.relations) {
    const fromKey = normaliseConceptName(raw.from.trim())?.key;
    const toKey = normaliseConceptName(raw.to.trim())?.key;
    if (!fromKey || !toKey || fromKey === toKey) continue;
    const from = byKey.get(fromKey);
    const to = byKey.get(toKey);
    if (!from || !to) continue;
    const id = `${fromKey}\n${toKey}\n${raw.kind}`;
    if (stated.has(id)) continue;
    stated.add(id);
    relations.push({ from: from.name, to: to.name, kind: raw.kind });
  }
  const concepts = [...byKey.values()].sort((a, b) => (b.importance ?? 0) - (a.importance ?? 0));
  return { concepts, relations };
}

/** Cuts at a paragraph or sentence end near the limit, so the model does not see half a word. */
export function capText(text: string, max = MAX_TEXT_CHARS): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const end = Math.max(cut.lastIndexOf('\n\n'), cut.lastIndexOf('. '));
  return `${end > max * 0.8 ? cut.slice(0, end + 1) : cut}\n[…the rest of the text is not shown]`;
}

function escapeAttr(value: string): string {
  return value.replace(/"/g, "'").replace(/[\r\n]+/g, ' ');
}

export async function extractConcepts(
  client: Anthropic,
  settings: ProviderSettings,
  input: { title: string; text: string; source: string },
  options: { signal?: AbortSignal } = {},
): Promise<ExtractedConcepts> {
  if (!input.text.trim()) return { concepts: [], relations: [], usage: { inputTokens: 0, outputTokens: 0 }, model: '' };
  const title = input.title.trim() ? ` title="${escapeAttr(input.title.trim())}"` : '';
  const result = await callTool(client, {
    model: settings.models.analysis,
    system: SYSTEM,
    content: `<note source="${escapeAttr(input.source)}"${title}>\n${capText(input.text)}\n</note>`,
    tool: {
      name: 'record_concepts',
      description: 'Record the concepts in the note worth connecting to other notes, and the relations the note states between them.',
      schema: ConceptsOutput,
    },
    maxTokens: 2048,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { ...tidyConcepts(result.value), usage: result.usage, model: result.model };
}
