import { describe, expect, it } from 'vitest';
import { Capture, NewCapture, deriveTitle } from './Capture.ts';
import { CAPTURE_ID_PATTERN, captureIdTime, newCaptureId } from './captureId.ts';

describe('capture ids', () => {
  it('are ULIDs that sort by creation time, even within one millisecond', () => {
    const t = Date.UTC(2026, 10, 24, 9, 30);
    const ids = [newCaptureId(t - 5000), newCaptureId(t), newCaptureId(t), newCaptureId(t), newCaptureId(t + 1)];
    for (const id of ids) expect(id).toMatch(CAPTURE_ID_PATTERN);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(captureIdTime(ids[1]!)).toBe(t);
    expect(captureIdTime(ids[0]!)).toBe(t - 5000);
  });
});

describe('capture schema', () => {
  const valid = {
    id: newCaptureId(),
    createdAt: Date.now(),
    source: 'voice',
    deviceId: 'dev1',
    title: 'A title',
    text: 'some text',
    blobs: [{ sha256: 'a'.repeat(64), mime: 'audio/webm', size: 10, durationMs: 1500 }],
    status: { transcribe: { state: 'failed', reason: 'no network', updatedAt: 1 } },
    concepts: [{ name: 'neural network', type: 'topic', importance: 0.8 }],
    tags: ['ml'],
    edits: [{ at: 1, deviceId: 'dev1', field: 'text' }],
  };

  it('accepts a full capture and keeps every field', () => {
    expect(Capture.parse(valid)).toEqual(valid);
  });

  it('rejects what another device could send wrong', () => {
    expect(Capture.safeParse({ ...valid, id: 'not-an-id' }).success).toBe(false);
    expect(Capture.safeParse({ ...valid, source: 'telepathy' }).success).toBe(false);
    expect(Capture.safeParse({ ...valid, blobs: [{ sha256: 'xyz', mime: 'audio/webm', size: 1 }] }).success).toBe(false);
    expect(Capture.safeParse({ ...valid, status: { transcribe: { state: 'exploded', updatedAt: 1 } } }).success).toBe(false);
    expect(Capture.safeParse({ ...valid, tags: ['has space'] }).success).toBe(false);
    expect(Capture.safeParse({ ...valid, text: 5 }).success).toBe(false);
  });

  it('fills defaults for a new capture', () => {
    expect(NewCapture.parse({ text: 'x' })).toEqual({ text: 'x', source: 'text', tags: [], blobs: [] });
  });

  it('derives a short title from the first line', () => {
    expect(deriveTitle('# Heading\nbody')).toBe('Heading');
    expect(deriveTitle('  first line  \nsecond')).toBe('first line');
    const long = deriveTitle('word '.repeat(40));
    expect(long.length).toBeLessThanOrEqual(81);
    expect(long.endsWith('…')).toBe(true);
  });
});
