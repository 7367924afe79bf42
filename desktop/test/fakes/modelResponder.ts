import type { AnthropicPlan, RecordedRequest } from './anthropicFake.ts';

/**
 * A stand-in for the model's judgement in pipeline tests, answering each request by what it asks
 * for (the tool it names), from what the request itself contains. Concepts are the glossary terms
 * found in the note; an answer cites the first capture it is shown; a digest cites the first
 * captures it is given. Deterministic, so a test can say exactly what the pipeline should store.
 */
export interface ResponderOptions {
  /** Concept name → type; found in a note by case-insensitive match. */
  glossary: Record<string, string>;
  /** What the vision tool reports for any image. */
  image?: { description: string; text: string; concepts: string[] };
}

interface Body {
  tools?: { name: string }[];
  messages: { role: string; content: string | { type: string; text?: string }[] }[];
}

function lastText(body: Body): string {
  const content = body.messages.at(-1)?.content ?? '';
  return typeof content === 'string' ? content : content.map((part) => part.text ?? '').join('\n');
}

export function conceptsIn(text: string, glossary: Record<string, string>): { name: string; type: string; importance: number }[] {
  const lower = text.toLowerCase();
  return Object.entries(glossary)
    .filter(([name]) => lower.includes(name.toLowerCase()))
    .map(([name, type], i) => ({ name, type, importance: Math.max(0.3, 0.9 - i * 0.1) }));
}

export function modelResponder(options: ResponderOptions): (request: RecordedRequest) => AnthropicPlan {
  return (request) => {
    const body = request.body as Body;
    const tool = body.tools?.[0]?.name;
    const text = lastText(body);
    if (tool === 'record_concepts') {
      const concepts = conceptsIn(text, options.glossary);
      const relations = concepts.slice(1).map((c, i) => ({ from: concepts[i]!.name, to: c.name, kind: 'related_to' }));
      return { kind: 'tool_use', name: tool, input: { concepts, relations } };
    }
    if (tool === 'record_image') {
      const image = options.image ?? { description: 'An image.', text: '', concepts: [] };
      return {
        kind: 'tool_use',
        name: tool,
        input: { description: image.description, text: image.text, concepts: image.concepts.map((name) => ({ name, type: options.glossary[name] ?? 'topic', importance: 0.8 })), relations: [] },
      };
    }
    if (tool === 'record_digest') {
      const ids = [...text.matchAll(/<capture id="([0-9A-Z]+)"/g)].map((m) => m[1]!);
      const item = (what: string, cite: string[]) => ({ text: what, captureIds: cite });
      return {
        kind: 'tool_use',
        name: tool,
        input: {
          summary: `You captured ${ids.length} note(s) this week.`,
          learned: ids.slice(0, 3).map((id, i) => item(`Learned point ${i + 1}`, [id])),
          themes: ids.length ? [item('A recurring theme', ids.slice(0, 2))] : [],
          questions: [item('What is still unclear?', [])],
          nextSteps: [item('Review the notes', ids.slice(0, 1))],
        },
      };
    }
    const shown = [...text.matchAll(/<capture id="([0-9A-Z]+)"/g)].map((m) => m[1]!);
    return { kind: 'text', text: shown.length ? `According to your notes, see [[${shown[0]}]].` : 'Your notes do not cover this.' };
  };
}
