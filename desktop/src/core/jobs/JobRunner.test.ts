import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobQueue, type Job } from './JobQueue.ts';
import { JobFailedError, JobRunner, JobWaitError, backoffDelay, type JobEvent } from './JobRunner.ts';

const T0 = Date.UTC(2025, 0, 1);

describe('backoffDelay', () => {
  const low = { baseMs: 1000, maxMs: 60_000, random: () => 0 };
  const high = { baseMs: 1000, maxMs: 60_000, random: () => 1 };

  it('doubles the ceiling with every attempt', () => {
    const ceilings = [1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, high));
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 16_000]);
  });

  it('jitters between half the ceiling and the ceiling', () => {
    for (const attempt of [1, 2, 3, 4, 5]) {
      const ceiling = 1000 * 2 ** (attempt - 1);
      expect(backoffDelay(attempt, low)).toBe(ceiling / 2);
      expect(backoffDelay(attempt, high)).toBe(ceiling);
      const mid = backoffDelay(attempt, { ...low, random: () => 0.5 });
      expect(mid).toBeGreaterThan(ceiling / 2);
      expect(mid).toBeLessThan(ceiling);
    }
  });

  it('never waits longer than maxMs, however many attempts failed', () => {
    for (const attempt of [7, 10, 30, 100, 2000]) {
      expect(backoffDelay(attempt, high)).toBe(60_000);
      expect(backoffDelay(attempt, low)).toBe(30_000);
    }
  });

  it('treats attempt 0 like the first attempt', () => {
    expect(backoffDelay(0, high)).toBe(1000);
  });
});

describe('JobRunner', () => {
  const dirs: string[] = [];
  const queues: JobQueue[] = [];

  afterEach(() => {
    for (const q of queues.splice(0)) q.close();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  function setup(): { queue: JobQueue; runner: JobRunner; clock: { now: number }; events: JobEvent[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-jobrunner-'));
    dirs.push(dir);
    const clock = { now: T0 };
    const queue = new JobQueue(path.join(dir, 'jobs.sqlite'), () => clock.now);
    queues.push(queue);
    // random: () => 1 makes the backoff its ceiling, so the retry time is known.
    const runner = new JobRunner(queue, { baseMs: 1000, maxMs: 60_000, random: () => 1 });
    const events: JobEvent[] = [];
    runner.onEvent((e) => events.push(e));
    return { queue, runner, clock, events };
  }

  it('drains every due job, including jobs the handlers enqueue, in priority order', async () => {
    const { queue, runner, events } = setup();
    const ran: string[] = [];
    runner.register('import', (job: Job) => {
      ran.push(`import:${job.key}`);
      const { files } = job.payload as { files: string[] };
      for (const f of files) queue.enqueue('index', f, { file: f }, { priority: 10 });
      return Promise.resolve();
    });
    runner.register('index', (job: Job) => {
      ran.push(`index:${job.key}`);
      queue.enqueue('embed', 'all', null, { priority: 50 });
      return Promise.resolve();
    });
    runner.register('embed', (job: Job) => {
      ran.push(`embed:${job.key}`);
      return Promise.resolve();
    });
    queue.enqueue('import', 'batch', { files: ['a', 'b', 'c'] }, { priority: 100 });

    await runner.drain();

    expect(ran).toEqual(['import:batch', 'index:a', 'index:b', 'index:c', 'embed:all']);
    expect(queue.counts()).toEqual({ pending: 0, running: 0, failed: 0, done: 5 });
    expect(events.map((e) => e.outcome)).toEqual(['done', 'done', 'done', 'done', 'done']);
    expect(await runner.runOne()).toBe(false);
  });

  it('leaves jobs of kinds it has no handler for alone', async () => {
    const { queue, runner } = setup();
    runner.register('index', () => Promise.resolve());
    queue.enqueue('index', 'a');
    queue.enqueue('transcribe', 'memo');
    await runner.drain();
    expect(queue.get('index', 'a')!.state).toBe('done');
    expect(queue.get('transcribe', 'memo')!.state).toBe('pending');
  });

  it('retries a throwing job later, not again in the same drain, and keeps the error', async () => {
    const { queue, runner, clock, events } = setup();
    let calls = 0;
    runner.register('sync', () => {
      calls++;
      if (calls === 1) return Promise.reject(new Error('relay unreachable'));
      return Promise.resolve();
    });
    queue.enqueue('sync', 'account');

    await runner.drain();
    expect(calls).toBe(1);
    const waiting = queue.get('sync', 'account')!;
    expect(waiting).toMatchObject({ state: 'pending', attempts: 1, lastError: 'relay unreachable', runAfter: T0 + 1000 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'retry', error: 'relay unreachable' });

    // Not due yet: a second drain at the same moment does not run it.
    await runner.drain();
    expect(calls).toBe(1);

    clock.now = T0 + 1000;
    await runner.drain();
    expect(calls).toBe(2);
    expect(queue.get('sync', 'account')).toMatchObject({ state: 'done', attempts: 0, lastError: null });
    expect(events.map((e) => e.outcome)).toEqual(['retry', 'done']);
  });

  it('stores non-Error throws as text', async () => {
    const { queue, runner } = setup();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    runner.register('x', () => Promise.reject('plain string'));
    queue.enqueue('x', '1');
    await runner.drain();
    expect(queue.get('x', '1')!.lastError).toBe('plain string');
  });

  it('a JobWaitError leaves the job pending with its reason and spends no attempt', async () => {
    const { queue, runner, clock, events } = setup();
    let calls = 0;
    let modelReady = false;
    runner.register('embed', () => {
      calls++;
      if (!modelReady) return Promise.reject(new JobWaitError('the model is still downloading', 30_000));
      return Promise.resolve();
    });
    queue.enqueue('embed', 'use', null, { maxAttempts: 2 });

    for (let i = 0; i < 5; i++) {
      await runner.drain();
      expect(calls).toBe(i + 1);
      expect(queue.get('embed', 'use')).toMatchObject({
        state: 'pending',
        attempts: 0,
        lastError: 'the model is still downloading',
        runAfter: clock.now + 30_000,
      });
      clock.now += 30_000;
    }
    expect(events.every((e) => e.outcome === 'waiting')).toBe(true);

    modelReady = true;
    await runner.drain();
    expect(queue.get('embed', 'use')!.state).toBe('done');
  });

  it('fails a job for good after maxAttempts, with the reason visible, and stops running it', async () => {
    const { queue, runner, clock, events } = setup();
    let calls = 0;
    runner.register('upload', () => {
      calls++;
      return Promise.reject(new Error(`server returned 500 (try ${calls})`));
    });
    queue.enqueue('upload', 'memo.wav', null, { maxAttempts: 3 });

    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await runner.drain();
      const job = queue.get('upload', 'memo.wav')!;
      delays.push(job.runAfter - clock.now);
      clock.now += 60_000;
    }
    expect(calls).toBe(3);
    expect(events.map((e) => e.outcome)).toEqual(['retry', 'retry', 'failed']);
    // Backoff grows between attempts.
    expect(delays.slice(0, 2)).toEqual([1000, 2000]);

    const failed = queue.get('upload', 'memo.wav')!;
    expect(failed).toMatchObject({ state: 'failed', attempts: 3, lastError: 'server returned 500 (try 3)' });
    expect(queue.list({ state: 'failed' }).map((j) => j.key)).toEqual(['memo.wav']);

    clock.now += 24 * 3_600_000;
    await runner.drain();
    expect(calls).toBe(3);

    // A person can ask for it again.
    expect(queue.retry(failed.id)).toBe(true);
    await runner.drain();
    expect(calls).toBe(4);
  });

  it('start() runs enqueued work in the background and stop() waits for the job in hand', async () => {
    const { queue, runner } = setup();
    const ran: string[] = [];
    let finishSlow!: () => void;
    const slowStarted = new Promise<void>((resolveStarted) => {
      runner.register('slow', () => {
        resolveStarted();
        return new Promise<void>((resolve) => {
          finishSlow = () => {
            ran.push('slow');
            resolve();
          };
        });
      });
    });
    queue.enqueue('slow', '1');
    runner.start();
    await slowStarted;
    const stopped = runner.stop();
    finishSlow();
    await stopped;
    expect(ran).toEqual(['slow']);
    expect(queue.get('slow', '1')!.state).toBe('done');
  });
});

describe('JobRunner: waiting kinds, permanent failures, cancelling', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  function open(): { queue: JobQueue; runner: JobRunner; now: { t: number } } {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-runner2-'));
    const now = { t: T0 };
    const queue = new JobQueue(path.join(dir, 'jobs.sqlite'), () => now.t);
    return { queue, runner: new JobRunner(queue, { random: () => 0 }), now };
  }

  it('a wait for something every job of the kind needs parks them all with one claim', async () => {
    const { queue, runner } = open();
    let calls = 0;
    runner.register('analyze', () => {
      calls++;
      return Promise.reject(new JobWaitError('needs an API key', 60_000, { wholeKind: true }));
    });
    for (let i = 0; i < 50; i++) queue.enqueue('analyze', `c${i}`);
    await runner.drain();
    expect(calls).toBe(1);
    const all = queue.list({ kind: 'analyze' });
    expect(all.every((j) => j.state === 'pending' && j.lastError === 'needs an API key' && j.runAfter >= T0 + 60_000)).toBe(true);
    queue.close();
  });

  it('a permanent failure is not retried and keeps its reason', async () => {
    const { queue, runner } = open();
    let calls = 0;
    runner.register('extract', () => {
      calls++;
      return Promise.reject(new JobFailedError('this PDF is password-protected'));
    });
    queue.enqueue('extract', 'doc', null, { maxAttempts: 5 });
    await runner.drain();
    expect(calls).toBe(1);
    expect(queue.get('extract', 'doc')).toMatchObject({ state: 'failed', lastError: 'this PDF is password-protected' });
    queue.close();
  });

  it('cancelling a running job aborts its handler; cancelling a pending one fails it as cancelled', async () => {
    const { queue, runner } = open();
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    runner.register('long', (_job, { signal }) => {
      started();
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    });
    queue.enqueue('long', 'a');
    queue.enqueue('long', 'b', null, { delayMs: 10_000 });
    const done = runner.runOne();
    await running;
    expect(runner.cancel(queue.get('long', 'a')!.id)).toBe(true);
    await done;
    expect(queue.get('long', 'a')).toMatchObject({ state: 'failed', lastError: 'cancelled' });
    expect(runner.cancel(queue.get('long', 'b')!.id)).toBe(true);
    expect(queue.get('long', 'b')).toMatchObject({ state: 'failed', lastError: 'cancelled' });
    // Enqueuing the same work again starts it afresh.
    queue.enqueue('long', 'b');
    expect(queue.get('long', 'b')).toMatchObject({ state: 'pending', lastError: null });
    queue.close();
  });
});
