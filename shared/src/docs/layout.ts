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

/** Where a shard document is listed in the account document. */
export interface ShardEntry {
  /** `YYYY-MM`, UTC: the month of the captures it holds. */
  month: string;
  createdAt: number;
  /** Absent for capture shards; 'journal' for a month's conversations and insights (see journal.ts). */
  kind?: 'journal';
}

/** The one document per account: its settings, devices and the list of capture shards. */
export interface AccountDoc {
  kind: 'lva/account';
  schema: number;
  createdAt: number;
  /**
   * Shard document URL → its entry. Keyed by URL so that two devices adding shards while offline
   * add two keys to a map that already exists, which Automerge merges. (A first layout kept
   * month → URL list; two devices creating the same month's list offline made a conflict in which
   * one list, and every capture reachable only through it, was lost. `listShards` still reads it.)
   */
  shards: Record<string, ShardEntry | string[]>;
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

/** The last character of a capture id (Crockford base32), which names its bucket. */
export const BUCKET_KEYS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Every bucket exists from the start: a bucket two devices each created while offline would be one
 * conflict, and the captures in the losing one would be lost.
 */
export function newShardDoc(month: string): ShardDoc {
  return { kind: 'lva/captures', schema: DOC_SCHEMA_VERSION, month, buckets: Object.fromEntries([...BUCKET_KEYS].map((b) => [b, {}])) };
}

export interface ListedShard extends ShardEntry {
  url: string;
}

/** Every capture shard the account lists, by month, then creation, then URL: the same order on every device. */
export function listShards(account: Pick<AccountDoc, 'shards'>): ListedShard[] {
  return listDocuments(account).filter((s) => s.kind === undefined);
}

/** The month journals (conversations, insights), in the same order as shards. */
export function listJournals(account: Pick<AccountDoc, 'shards'>): ListedShard[] {
  return listDocuments(account).filter((s) => s.kind === 'journal');
}

function listDocuments(account: Pick<AccountDoc, 'shards'>): ListedShard[] {
  const out: ListedShard[] = [];
  for (const [key, value] of Object.entries(account.shards)) {
    if (Array.isArray(value)) {
      // The first layout: month → URLs, oldest first.
      value.forEach((url, i) => out.push({ url, month: key, createdAt: i }));
    } else if (value && typeof value === 'object' && typeof value.month === 'string') {
      out.push({ url: key, month: value.month, createdAt: value.createdAt, ...(value.kind === 'journal' ? { kind: 'journal' as const } : {}) });
    }
  }
  const seen = new Set<string>();
  return out
    .sort((a, b) => a.month.localeCompare(b.month) || a.createdAt - b.createdAt || a.url.localeCompare(b.url))
    .filter((s) => !seen.has(s.url) && seen.add(s.url));
}

export function shardsOfMonth(account: Pick<AccountDoc, 'shards'>, month: string): string[] {
  return listShards(account)
    .filter((s) => s.month === month)
    .map((s) => s.url);
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
