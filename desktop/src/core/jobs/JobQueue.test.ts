import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobQueue } from './JobQueue.ts';

const T0 = Date.UTC(2025, 0, 1);

interface Harness {
  queue: JobQueue;
  file: string;
  clock: { now: number };
  reopen: () => JobQueue;
}

describe('JobQueue', () => {
  const dirs: string[] = [];
  const queues: JobQueue[] = [];

  afterEach(() => {
    for (const q of queues.splice(0)) {
      try {
        q.close();
      } catch {
        // already closed by the test
      }
    }
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  function setup(): Harness {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-jobqueue-'));
    dirs.push(dir);
    const file = path.join(dir, 'jobs.sqlite');
    const clock = { now: T0 };
    const open = (): JobQueue => {
      const q = new JobQueue(file, () => clock.now);
      queues.push(q);
      return q;
    };
    return { queue: open(), file, clock, reopen: open };
  }

  it('keeps one job per (kind, key) however often it is enqueued, with the latest payload', () => {
    const { queue } = setup();
    queue.enqueue('index', 'shard-a', { v: 1 });
    queue.enqueue('index', 'shard-a', { v: 2 });
    queue.enqueue('index', 'shard-a', { v: 3 });
    queue.enqueue('embed', 'shard-a', null);

    const index = queue.list({ kind: 'index' });
    expect(index).toHaveLength(1);
    expect(index[0]!.payload).toEqual({ v: 3 });
    expect(index[0]!.state).toBe('pending');
    expect(queue.list()).toHaveLength(2);
    expect(queue.counts()).toEqual({ pending: 2, running: 0, failed: 0, done: 0 });
  });

  it('makes a done job pending again when it is enqueued again', () => {
    const { queue, clock } = setup();
    queue.enqueue('index', 'a');
    const job = queue.claim(['index'])!;
    queue.complete(job.id);
    expect(queue.get('index', 'a')!.state).toBe('done');
    expect(queue.claim(['index'])).toBeUndefined();

    clock.now += 1000;
    queue.enqueue('index', 'a', { again: true });
    const again = queue.get('index', 'a')!;
    expect(again.id).toBe(job.id);
    expect(again.state).toBe('pending');
    expect(again.payload).toEqual({ again: true });
    expect(queue.claim(['index'])!.id).toBe(job.id);
  });

  it('runs a job again after it completes when it was enqueued while running', () => {
    const { queue } = setup();
    queue.enqueue('index', 'a', { v: 1 });
    const first = queue.claim(['index'])!;
    expect(first.payload).toEqual({ v: 1 });

    // New input arrives while the handler is working on the old one.
    queue.enqueue('index', 'a', { v: 2 });
    expect(queue.get('index', 'a')!.state).toBe('running');
    expect(queue.claim(['index'])).toBeUndefined();

    queue.complete(first.id);
    expect(queue.get('index', 'a')!.state).toBe('pending');
    const second = queue.claim(['index'])!;
    expect(second.id).toBe(first.id);
    expect(second.payload).toEqual({ v: 2 });
    queue.complete(second.id);
    expect(queue.get('index', 'a')!.state).toBe('done');
  });

  it('a failing attempt of a job re-enqueued while running is retried, not failed for good', () => {
    const { queue } = setup();
    queue.enqueue('index', 'a', null, { maxAttempts: 1 });
    const job = queue.claim(['index'])!;
    queue.enqueue('index', 'a');
    expect(queue.fail(job.id, 'boom', 0)).toBe('pending');
    const after = queue.get('index', 'a')!;
    expect(after.state).toBe('pending');
    expect(after.lastError).toBe('boom');
    expect(queue.claim(['index'])!.id).toBe(job.id);
  });

  it('claims only due jobs of the given kinds, lowest priority first, and marks them running', () => {
    const { queue, clock } = setup();
    queue.enqueue('embed', 'e', null, { priority: 50 });
    queue.enqueue('index', 'later', null, { priority: 10, delayMs: 5000 });
    queue.enqueue('index', 'now', null, { priority: 10 });
    queue.enqueue('other', 'x', null, { priority: 0 });

    expect(queue.claim([])).toBeUndefined();

    const first = queue.claim(['index', 'embed'])!;
    expect(first.key).toBe('now');
    expect(first.state).toBe('running');
    expect(queue.get('index', 'now')!.state).toBe('running');

    // 'later' has the better priority but is not due yet.
    const second = queue.claim(['index', 'embed'])!;
    expect(second.key).toBe('e');
    expect(queue.claim(['index', 'embed'])).toBeUndefined();

    clock.now += 5000;
    expect(queue.claim(['index', 'embed'])!.key).toBe('later');
    expect(queue.claim(['index', 'embed'])).toBeUndefined();
    // Jobs of kinds nobody asked for stay untouched.
    expect(queue.get('other', 'x')!.state).toBe('pending');
    expect(queue.counts()).toEqual({ pending: 1, running: 3, failed: 0, done: 0 });
  });

  it('puts jobs that were running when the process died back to pending on reopen', () => {
    const { queue, reopen } = setup();
    queue.enqueue('index', 'a', { docId: 'a' });
    queue.enqueue('index', 'b', { docId: 'b' });
    const running = queue.claim(['index'])!;
    expect(queue.counts().running).toBe(1);
    // The process dies mid-job: nothing completes it.
    queue.close();

    const after = reopen();
    const job = after.get('index', running.key)!;
    expect(job.state).toBe('pending');
    expect(job.payload).toEqual(running.payload);
    expect(after.counts()).toEqual({ pending: 2, running: 0, failed: 0, done: 0 });
    const claimed = [after.claim(['index'])!.key, after.claim(['index'])!.key].sort();
    expect(claimed).toEqual(['a', 'b']);
  });

  it('keeps completed and failed jobs across a reopen', () => {
    const { queue, reopen } = setup();
    queue.enqueue('index', 'ok');
    queue.enqueue('index', 'bad', null, { maxAttempts: 1 });
    queue.complete(queue.claim(['index'])!.id);
    queue.fail(queue.claim(['index'])!.id, 'disk full', 0);
    queue.close();

    const after = reopen();
    expect(after.get('index', 'ok')!.state).toBe('done');
    expect(after.get('index', 'bad')).toMatchObject({ state: 'failed', lastError: 'disk full' });
  });

  it('schedules a retry in the future and counts the attempt, then fails for good after maxAttempts', () => {
    const { queue, clock } = setup();
    queue.enqueue('upload', 'file-1', null, { maxAttempts: 3 });

    const first = queue.claim(['upload'])!;
    expect(first.attempts).toBe(0);
    expect(queue.fail(first.id, 'network down', 2000)).toBe('pending');
    let job = queue.get('upload', 'file-1')!;
    expect(job).toMatchObject({ state: 'pending', attempts: 1, lastError: 'network down', runAfter: T0 + 2000 });
    expect(queue.claim(['upload'])).toBeUndefined();
    expect(queue.nextDue(['upload'])).toBe(T0 + 2000);

    clock.now = T0 + 2000;
    const second = queue.claim(['upload'])!;
    expect(second.attempts).toBe(1);
    expect(queue.fail(second.id, 'network still down', 4000)).toBe('pending');
    expect(queue.get('upload', 'file-1')!.attempts).toBe(2);

    clock.now += 4000;
    const third = queue.claim(['upload'])!;
    expect(queue.fail(third.id, 'server said 500', 8000)).toBe('failed');
    job = queue.get('upload', 'file-1')!;
    expect(job).toMatchObject({ state: 'failed', attempts: 3, lastError: 'server said 500' });

    clock.now += 60_000;
    expect(queue.claim(['upload'])).toBeUndefined();
    expect(queue.nextDue(['upload'])).toBeUndefined();
    const failed = queue.list({ state: 'failed' });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ kind: 'upload', key: 'file-1', lastError: 'server said 500' });
    expect(queue.counts()).toEqual({ pending: 0, running: 0, failed: 1, done: 0 });
  });

  it('clears the error of a job once it succeeds', () => {
    const { queue, clock } = setup();
    queue.enqueue('upload', 'f');
    queue.fail(queue.claim(['upload'])!.id, 'flaky', 100);
    clock.now += 100;
    queue.complete(queue.claim(['upload'])!.id);
    expect(queue.get('upload', 'f')).toMatchObject({ state: 'done', attempts: 0, lastError: null });
  });

  it('wait() reschedules with a reason but spends no attempt', () => {
    const { queue, clock } = setup();
    queue.enqueue('embed', 'model', null, { maxAttempts: 1 });
    for (let i = 0; i < 5; i++) {
      const job = queue.claim(['embed'])!;
      expect(job).toBeDefined();
      queue.wait(job.id, 'the model is not downloaded yet', 30_000);
      const waiting = queue.get('embed', 'model')!;
      expect(waiting).toMatchObject({ state: 'pending', attempts: 0, lastError: 'the model is not downloaded yet', runAfter: clock.now + 30_000 });
      expect(queue.claim(['embed'])).toBeUndefined();
      clock.now += 30_000;
    }
    // Still one attempt left: a real failure now ends it.
    expect(queue.fail(queue.claim(['embed'])!.id, 'corrupt weights', 0)).toBe('failed');
  });

  it('wake() makes waiting jobs of a kind due now', () => {
    const { queue } = setup();
    queue.enqueue('embed', 'model');
    queue.wait(queue.claim(['embed'])!.id, 'no model', 60_000);
    expect(queue.claim(['embed'])).toBeUndefined();
    queue.wake('embed');
    expect(queue.claim(['embed'])!.key).toBe('model');
  });

  it('retry() brings a failed job back with fresh attempts; jobs that did not fail are not touched', () => {
    const { queue, clock } = setup();
    queue.enqueue('upload', 'f', { name: 'memo.wav' }, { maxAttempts: 2 });
    queue.enqueue('other', 'g');
    queue.fail(queue.claim(['upload'])!.id, 'e1', 10);
    clock.now += 10;
    const job = queue.claim(['upload'])!;
    expect(queue.fail(job.id, 'e2', 10)).toBe('failed');

    const g = queue.get('other', 'g')!;
    expect(queue.retry(g.id)).toBe(false);
    expect(queue.get('other', 'g')!.state).toBe('pending');

    clock.now += 5000;
    expect(queue.retry(job.id)).toBe(true);
    expect(queue.get('upload', 'f')).toMatchObject({ state: 'pending', attempts: 0, runAfter: clock.now, payload: { name: 'memo.wav' } });
    expect(queue.retry(job.id)).toBe(false);
    // Two attempts again before it fails.
    expect(queue.fail(queue.claim(['upload'])!.id, 'e3', 0)).toBe('pending');
    expect(queue.fail(queue.claim(['upload'])!.id, 'e4', 0)).toBe('failed');
    expect(queue.get('upload', 'f')!.lastError).toBe('e4');
  });

  it('counts jobs by state', () => {
    const { queue } = setup();
    expect(queue.counts()).toEqual({ pending: 0, running: 0, failed: 0, done: 0 });
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.enqueue('k', key, null, { maxAttempts: 1 });
    queue.complete(queue.claim(['k'])!.id);
    queue.complete(queue.claim(['k'])!.id);
    queue.fail(queue.claim(['k'])!.id, 'x', 0);
    queue.claim(['k']);
    expect(queue.counts()).toEqual({ pending: 1, running: 1, failed: 1, done: 2 });
  });

  it('lists by state and kind, most recently updated first', () => {
    const { queue, clock } = setup();
    queue.enqueue('a', '1');
    clock.now += 1;
    queue.enqueue('a', '2');
    clock.now += 1;
    queue.enqueue('b', '3');
    expect(queue.list().map((j) => j.key)).toEqual(['3', '2', '1']);
    expect(queue.list({ kind: 'a' }).map((j) => j.key)).toEqual(['2', '1']);
    expect(queue.list({ limit: 1 }).map((j) => j.key)).toEqual(['3']);
    expect(queue.list({ state: 'done' })).toEqual([]);
  });

  it('prunes old done jobs but keeps recent, pending and failed ones', () => {
    const { queue, clock } = setup();
    queue.enqueue('k', 'old');
    queue.enqueue('k', 'stuck', null, { maxAttempts: 1 });
    queue.complete(queue.claim(['k'])!.id);
    queue.fail(queue.claim(['k'])!.id, 'x', 0);
    clock.now += 10 * 86_400_000;
    queue.enqueue('k', 'recent');
    queue.complete(queue.claim(['k'])!.id);
    queue.enqueue('k', 'waiting');
    queue.prune(7 * 86_400_000);
    expect(queue.list().map((j) => j.key).sort()).toEqual(['recent', 'stuck', 'waiting']);
  });
});
