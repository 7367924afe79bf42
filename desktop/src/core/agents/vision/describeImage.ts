import type Anthropic from '@anthropic-ai/sdk';
import type { Concept, ConceptRelation } from '@lva/shared';
import { z } from 'zod';
import { CoreError } from '../../errors.ts';
import { CONCEPTS_GUIDANCE, ConceptsOutput, tidyConcepts, type Usage } from '../analysis/extractConcepts.ts';
import type { ProviderSettings } from '../ProviderSettings.ts';
import { callTool } from '../structured.ts';

type ImageMime = Anthropic.Base64ImageSource['media_type'];

export const SUPPORTED_IMAGE_MIMES: readonly ImageMime[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

/** The API's limit for one base64 image, which it measures on the encoded data, not the file. */
export const MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024;

export const ImageOutput = z.object({
  description: z
    .string()
    .min(1)
    .max(5000)
    .describe('What the image shows, for a learner looking back: the subject, and for a whiteboard, diagram, slide or screenshot what it explains and how its parts relate. Two to six sentences.'),
  text: z.string().max(100_000).describe("All legible text in the image, verbatim, in reading order, lines separated by newlines; '' if there is none."),
  concepts: ConceptsOutput.shape.concepts,
  relations: ConceptsOutput.shape.relations,
});
export type ImageOutput = z.infer<typeof ImageOutput>;

const SYSTEM = [
  'You describe images that one person captured while learning: photos of whiteboards, diagrams,',
  'slides, book pages, screenshots and photos of things they saw. Record what you find with the',
  'record_image tool: a description, the legible text transcribed exactly (do not correct or complete it),',
  'and the concepts. Describe only what is visible; say when something is unclear rather than guessing.',
  CONCEPTS_GUIDANCE,
].join(' ');

export interface DescribedImage {
  description: string;
  text: string;
  concepts: Concept[];
  relations: ConceptRelation[];
  usage: Usage;
  model: string;
}

/** Format from the file's first bytes: a file saved with the wrong extension is common, and the API rejects a media_type that does not match. */
export function sniffImageMime(bytes: Uint8Array): ImageMime | undefined {
  const at = (i: number): number | undefined => bytes[i];
  const ascii = (from: number, text: string): boolean => [...text].every((ch, i) => at(from + i) === ch.charCodeAt(0));
  if (at(0) === 0x89 && ascii(1, 'PNG\r\n\u001a\n')) return 'image/png';
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'image/jpeg';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'image/gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  return undefined;
}

function declaredMime(mime: string): string {
  const base = mime.split(';', 1)[0]!.trim().toLowerCase();
  return base === 'image/jpg' ? 'image/jpeg' : base;
}

function isSupported(mime: string): mime is ImageMime {
  return (SUPPORTED_IMAGE_MIMES as readonly string[]).includes(mime);
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export async function describeImage(
  client: Anthropic,
  settings: ProviderSettings,
  input: { bytes: Uint8Array; mime: string; name?: string },
  options: { signal?: AbortSignal } = {},
): Promise<DescribedImage> {
  const label = input.name ? `"${input.name}"` : 'the image';
  const declared = declaredMime(input.mime);
  if (!isSupported(declared)) {
    throw new CoreError('BAD_INPUT', `${label} is ${input.mime || 'of no stated type'}; images can be described when they are PNG, JPEG, GIF or WebP`);
  }
  if (input.bytes.length === 0) throw new CoreError('BAD_INPUT', `${label} is empty`);
  const sniffed = sniffImageMime(input.bytes);
  if (!sniffed) throw new CoreError('BAD_INPUT', `${label} is labelled ${declared} but is not a readable PNG, JPEG, GIF or WebP file`);
  const encodedBytes = Math.ceil(input.bytes.length / 3) * 4;
  if (encodedBytes > MAX_IMAGE_BASE64_BYTES) {
    throw new CoreError(
      'TOO_LARGE',
      `${label} is ${megabytes(input.bytes.length)} (${megabytes(encodedBytes)} once encoded); Claude accepts images up to 5 MB encoded, about 3.7 MB of file. Save a smaller or more compressed version to have it described.`,
    );
  }

  const named = input.name ? ` The file is named "${input.name.replace(/"/g, "'")}".` : '';
  const result = await callTool(client, {
    model: settings.models.vision,
    system: SYSTEM,
    content: [
      { type: 'image', source: { type: 'base64', media_type: sniffed, data: Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength).toString('base64') } },
      { type: 'text', text: `Describe this image I captured, transcribe its text, and record its concepts with record_image.${named}` },
    ],
    tool: {
      name: 'record_image',
      description: 'Record the description of the image, its legible text verbatim, and the concepts it shows with the relations between them.',
      schema: ImageOutput,
    },
    // Transcribing a dense slide or book page takes room.
    maxTokens: 4096,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const { description, text } = result.value;
  return { description: description.trim(), text: text.trim(), ...tidyConcepts(result.value), usage: result.usage, model: result.model };
}
