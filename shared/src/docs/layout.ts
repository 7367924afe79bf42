import { ImmutableString, isImmutableString } from '@automerge/automerge';
import { Capture } from '../capture/Capture.ts';

/**
 * Document layout, chosen from measurements: the cost of an Automerge change grows with the keys in
 * the same map (22 ms at 20k keys, ~0.9 ms with sub-maps), and one map of 50k captures takes 5 s to
 * load. So captures live in monthly shard documents of at most ~2,000 captures, each split into 32
 * buckets so no map holds more than ~100 keys.
 */
export const SHARD_CAPACITY = 2000;
export const DOC_SCHEMA_VERSION = 1;

export interface DeviceRecord {
  name: string;
  addedAt: number;
}

/** The one document per account: its settings, devices and the list of capture shards. */
export interface AccountDoc {
  kind: 'lva/account';
  schema: number;
  createdAt: number;
  /** Month (`YYYY-MM`, UTC) → shard document URLs, oldest first; a month overflows into a new shard. */
  shards: Record<string, string[]>;
  devices: Record<string, DeviceRecord>;
  settings: Record<string, string | number | boolean>;
}

/** A capture as stored: machine-written text is an ImmutableString, which loads ~5x faster than a collaborative string. */
export type CaptureRecord = Omit<Capture, 'text'> & { text: ImmutableString };

export interface ShardDoc {
  kind: 'lva/captures';
  schema: number;
  month: string;
  buckets: Record<string, Record<string, CaptureRecord>>;
}

export function monthKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** The last id character is random, so captures spread evenly over 32 buckets. */
export function bucketOf(id: string): string {
  return id.slice(-1);
}

export function newAccountDoc(now: number): AccountDoc {
  return { kind: 'lva/account', schema: DOC_SCHEMA_VERSION, createdAt: now, shards: {}, devices: {}, settings: {} };
}

export function newShardDoc(month: string): ShardDoc {
  return { kind: 'lva/captures', schema: DOC_SCHEMA_VERSION, month, buckets: {} };
}

export function toRecord(capture: Capture): CaptureRecord {
  const { text, ...rest } = capture;
  // Automerge rejects `undefined` values, so optional fields that are unset are left out.
  const record = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Omit<Capture, 'text'>;
  return { ...record, text: new ImmutableString(text) };
}

export type RecordParse = { ok: true; capture: Capture } | { ok: false; error: string };

/**
 * Reads a stored capture back. Records may come from other devices, so they are validated, never trusted:
 * a malformed one is reported and skipped rather than breaking the index.
 */
export function fromRecord(record: unknown): RecordParse {
  if (typeof record !== 'object' || record === null) return { ok: false, error: 'capture record is not an object' };
  const raw = record as Record<string, unknown>;
  const text = isImmutableString(raw.text) ? raw.text.val : raw.text;
  const parsed = Capture.safeParse({ ...raw, text });
  if (!parsed.success) return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { ok: true, capture: parsed.data };
}

export function countCaptures(shard: ShardDoc): number {
  let n = 0;
  for (const bucket of Object.values(shard.buckets)) n += Object.keys(bucket).length;
  return n;
}

export function* shardRecords(shard: ShardDoc): Generator<[string, unknown]> {
  for (const bucket of Object.values(shard.buckets)) yield* Object.entries(bucket);
}
