import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { newCaptureId } from '../capture/captureId.ts';
import type { Capture } from '../capture/Capture.ts';
import { bucketOf, countCaptures, fromRecord, monthKey, newShardDoc, shardRecords, toRecord, type ShardDoc } from './layout.ts';

function capture(text: string): Capture {
  return { id: newCaptureId() as Capture['id'], createdAt: Date.now(), source: 'text', deviceId: 'd', title: '', text, blobs: [], status: {}, concepts: [], tags: [], edits: [] };
}

describe('document layout', () => {
  it('stores text as an ImmutableString and reads the same capture back', () => {
    const c = capture('transcripts are machine-written');
    let doc = A.change(A.init<ShardDoc>(), (d) => Object.assign(d, newShardDoc('2026-11')));
    doc = A.change(doc, (d) => {
      d.buckets[bucketOf(c.id)] = {};
      d.buckets[bucketOf(c.id)]![c.id] = toRecord(c);
    });
    const loaded = A.load<ShardDoc>(A.save(doc));
    const record = loaded.buckets[bucketOf(c.id)]![c.id];
    expect(A.isImmutableString(record!.text)).toBe(true);
    expect(fromRecord(record)).toEqual({ ok: true, capture: c });
    expect(countCaptures(loaded)).toBe(1);
    expect([...shardRecords(loaded)].map(([id]) => id)).toEqual([c.id]);
  });

  it('reports a malformed record instead of throwing', () => {
    const bad = fromRecord({ ...toRecord(capture('x')), source: 'fax' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/source/);
    expect(fromRecord(null).ok).toBe(false);
    expect(fromRecord('a string').ok).toBe(false);
  });

  it('spreads captures over 32 buckets so no map grows large', () => {
    const buckets = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const b = bucketOf(newCaptureId());
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
    expect(buckets.size).toBe(32);
    expect(Math.max(...buckets.values())).toBeLessThan(150);
  });

  it('names months in UTC', () => {
    expect(monthKey(Date.UTC(2026, 0, 31, 23, 59))).toBe('2026-01');
    expect(monthKey(Date.UTC(2026, 1, 1, 0, 0))).toBe('2026-02');
  });
});
