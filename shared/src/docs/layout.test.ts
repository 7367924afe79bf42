import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { newCaptureId } from '../capture/captureId.ts';
import type { Capture } from '../capture/Capture.ts';
import { BUCKET_KEYS, bucketOf, countCaptures, fromRecord, listShards, monthKey, newAccountDoc, newShardDoc, shardRecords, shardsOfMonth, toRecord, type AccountDoc, type ShardDoc } from './layout.ts';

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

  it('keeps shards two devices added offline for the same month, and reads the first layout too', () => {
    const base = A.from(newAccountDoc(0) as AccountDoc & Record<string, unknown>);
    const laptop = A.change(A.clone(base), (d) => void (d.shards['automerge:laptopShard'] = { month: '2026-11', createdAt: 5 }));
    const phone = A.change(A.clone(base), (d) => void (d.shards['automerge:phoneShard'] = { month: '2026-11', createdAt: 3 }));
    const merged = A.merge(laptop, phone);
    expect(shardsOfMonth(merged, '2026-11')).toEqual(['automerge:phoneShard', 'automerge:laptopShard']);
    expect(A.getConflicts(merged, 'shards')).toBeUndefined();

    const legacy = { shards: { '2026-10': ['automerge:old1', 'automerge:old2'], 'automerge:new': { month: '2026-10', createdAt: 9 } } };
    expect(listShards(legacy).map((s) => s.url)).toEqual(['automerge:old1', 'automerge:old2', 'automerge:new']);
  });

  it('keeps captures two devices added offline to the same bucket of one shard', () => {
    const base = A.from(newShardDoc("2026-11") as ShardDoc & Record<string, unknown>);
    expect(Object.keys(base.buckets).sort()).toEqual([...BUCKET_KEYS].sort());
    const a = capture('from the laptop');
    const b = { ...capture('from the phone'), id: `${a.id.slice(0, -2)}Z${a.id.slice(-1)}` as Capture['id'] };
    expect(bucketOf(a.id)).toBe(bucketOf(b.id));
    const left = A.change(A.clone(base), (d) => void (d.buckets[bucketOf(a.id)]![a.id] = toRecord(a)));
    const right = A.change(A.clone(base), (d) => void (d.buckets[bucketOf(b.id)]![b.id] = toRecord(b)));
    const merged = A.merge(left, right);
    expect(countCaptures(merged)).toBe(2);
  });
});
