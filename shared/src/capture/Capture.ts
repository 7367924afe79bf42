import { z } from 'zod';
import { CAPTURE_ID_PATTERN } from './captureId.ts';

export const CAPTURE_SOURCES = ['voice', 'text', 'image', 'document', 'phone'] as const;
export const CaptureSource = z.enum(CAPTURE_SOURCES);
export type CaptureSource = z.infer<typeof CaptureSource>;

export const CaptureId = z.string().regex(CAPTURE_ID_PATTERN, 'not a capture id').brand<'CaptureId'>();
export type CaptureId = z.infer<typeof CaptureId>;

export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'not a SHA-256 hex digest');

/** A file kept outside Automerge, addressed by the SHA-256 of its bytes. */
export const BlobRef = z.object({
  sha256: Sha256,
  mime: z.string().min(1).max(200),
  size: z.number().int().nonnegative(),
  durationMs: z.number().int().nonnegative().optional(),
  name: z.string().max(500).optional(),
});
export type BlobRef = z.infer<typeof BlobRef>;

/**
 * Steps whose output is synced content: transcribe (audio), describe (images), extract (documents),
 * concepts. Indexing and embedding are not here: each device derives those itself, so their state is
 * read from the local index rather than written into shared documents.
 */
export const PIPELINE_STEPS = ['transcribe', 'describe', 'extract', 'concepts'] as const;
export const PipelineStep = z.enum(PIPELINE_STEPS);
export type PipelineStep = z.infer<typeof PipelineStep>;

export const StepState = z.enum(['pending', 'running', 'waiting', 'done', 'failed']);
export const StepStatus = z.object({
  state: StepState,
  /** Why it failed or what it waits for, in words a person can act on. */
  reason: z.string().max(2000).optional(),
  updatedAt: z.number().int(),
});
export type StepStatus = z.infer<typeof StepStatus>;

export const Concept = z.object({
  name: z.string().min(1).max(200),
  type: z.string().max(50).optional(),
  importance: z.number().min(0).max(1).optional(),
});
export type Concept = z.infer<typeof Concept>;

export const RELATION_KINDS = ['related_to', 'part_of', 'causes', 'example_of', 'contrasts_with'] as const;
export const RelationKind = z.enum(RELATION_KINDS);
export type RelationKind = z.infer<typeof RelationKind>;

/** A directed link between two of a capture's concepts, by their (normalised) names. */
export const ConceptRelation = z.object({
  from: z.string().min(1).max(200),
  to: z.string().min(1).max(200),
  kind: RelationKind,
});
export type ConceptRelation = z.infer<typeof ConceptRelation>;

/** Where a capture came from when it is one part of a larger file (a PDF page range, a Markdown section). */
export const CaptureOrigin = z.object({
  parentId: z.string().regex(CAPTURE_ID_PATTERN, 'not a capture id'),
  /** Position among the parent's parts, from 0. */
  index: z.number().int().nonnegative(),
  /** First and last PDF page the part covers, from 1; citations show them. */
  page: z.number().int().positive().optional(),
  pageEnd: z.number().int().positive().optional(),
});
export type CaptureOrigin = z.infer<typeof CaptureOrigin>;

export const EditableField = z.enum(['title', 'text', 'tags']);

/** A change a person made by hand; kept so machine output never silently overwrites it. */
export const UserEdit = z.object({
  at: z.number().int(),
  deviceId: z.string().min(1).max(100),
  field: EditableField,
});
export type UserEdit = z.infer<typeof UserEdit>;

export const Tag = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^\s,#]+$/, 'tags have no spaces, commas or #');

export const MAX_TEXT_LENGTH = 1_000_000;

/** A capture as the app sees it. In documents `text` is an Automerge ImmutableString (see captureDoc.ts). */
export const Capture = z.object({
  id: CaptureId,
  createdAt: z.number().int().nonnegative(),
  source: CaptureSource,
  deviceId: z.string().min(1).max(100),
  title: z.string().max(500),
  text: z.string().max(MAX_TEXT_LENGTH),
  blobs: z.array(BlobRef).max(100),
  status: z.partialRecord(PipelineStep, StepStatus),
  concepts: z.array(Concept).max(500),
  /** Absent on captures made before concepts were extracted with relations. */
  relations: z.array(ConceptRelation).max(1000).optional(),
  origin: CaptureOrigin.optional(),
  tags: z.array(Tag).max(100),
  edits: z.array(UserEdit).max(10_000),
  /** Set when the capture was deleted; kept as a tombstone so deletes sync. */
  deletedAt: z.number().int().optional(),
});
export type Capture = z.infer<typeof Capture>;

/** What a caller supplies to create a capture; the store fills in id, device and defaults. */
export const NewCapture = z.object({
  /** Kept when importing an export, so a round trip keeps ids and a repeated import adds nothing. */
  id: CaptureId.optional(),
  text: z.string().max(MAX_TEXT_LENGTH).default(''),
  title: z.string().max(500).optional(),
  createdAt: z.number().int().nonnegative().optional(),
  source: CaptureSource.default('text'),
  tags: z.array(Tag).max(100).default([]),
  blobs: z.array(BlobRef).max(100).default([]),
  origin: CaptureOrigin.optional(),
});
export type NewCapture = z.input<typeof NewCapture>;

/** A title from the first line of text when none is given: short enough for a timeline row. */
export function deriveTitle(text: string, max = 80): string {
  const firstLine = text.trim().split(/\r?\n/, 1)[0] ?? '';
  const clean = firstLine.replace(/^#+\s*/, '').trim();
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return (space > max / 2 ? cut.slice(0, space) : cut) + '…';
}
