import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreError } from '../../errors.ts';
import { JobQueue } from '../../jobs/JobQueue.ts';
import { JobRunner, JobWaitError, type JobEvent } from '../../jobs/JobRunner.ts';
import { AgentWorker, WorkerCrashedError, WorkerStartError, type AgentWorkerOptions, type WorkerExit } from './AgentWorker.ts';
import { FromWorkerSchema, deserialiseError, serialiseError, type FromWorker } from './protocol.ts';

const TASKS = fileURLToPath(new URL('../../../../test/fixtures/workerTasks.ts', import.meta.url));

const workers: AgentWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

function makeWorker(options: Partial<AgentWorkerOptions> = {}): AgentWorker {
  const worker = new AgentWorker({ tasksModule: TASKS, ...options });
  workers.push(worker);
  return worker;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts a long `sleep` call and resolves once the worker is running it. */
async function sleeping(worker: AgentWorker, signal?: AbortSignal): Promise<{ call: Promise<string>; pid: number }> {
  let running!: () => void;
  const started = new Promise<void>((resolve) => (running = resolve));
  const call = worker.call<string>('sleep', { ms: 600_000 }, { ...(signal ? { signal } : {}), onProgress: () => running() });
  // The call's rejection is asserted by the caller; this keeps it from counting as unhandled meanwhile.
  call.catch(() => undefined);
  await started;
  const pid = worker.pid;
  if (pid === undefined) throw new Error('worker has no pid while a call runs');
  return { call, pid };
}

describe('serialiseError / deserialiseError', () => {
  it('round-trips the kinds of error the core acts on', () => {
    const core = deserialiseError(serialiseError(new CoreError('BUDGET_SPENT', 'spent')));
    expect(core).toBeInstanceOf(CoreError);
    expect(core).toMatchObject({ code: 'BUDGET_SPENT', message: 'spent' });

    const wait = deserialiseError(serialiseError(new JobWaitError('later', 1234)));
    expect(wait).toBeInstanceOf(JobWaitError);
    expect(wait).toMatchObject({ recheckInMs: 1234, message: 'later' });

    const sys = deserialiseError(serialiseError(Object.assign(new Error('no such file'), { code: 'ENOENT', retryable: false })));
    expect(sys).not.toBeInstanceOf(CoreError);
    expect(sys).toMatchObject({ message: 'no such file', code: 'ENOENT', retryable: false });

    const typeErr = deserialiseError(serialiseError(new TypeError('bad type')));
    expect(typeErr).toMatchObject({ name: 'TypeError', message: 'bad type' });
    expect(deserialiseError(serialiseError('a string'))).toMatchObject({ message: 'a string' });
  });
});

describe('AgentWorker', () => {
  it('round-trips input and output', async () => {
    const worker = makeWorker();
    const input = { text: 'héllo', n: 3, list: [1, 'two', null], nested: { at: new Date(0) } };
    await expect(worker.call('echo', input)).resolves.toEqual(input);
    expect(worker.restarts).toBe(0);
  });

  it('passes Uint8Array input', async () => {
    const worker = makeWorker();
    await expect(worker.call('bytes', new Uint8Array([1, 2, 3, 250]))).resolves.toEqual({ length: 4, sum: 256 });
    const big = new Uint8Array(4 * 1024 * 1024).fill(1);
    await expect(worker.call('bytes', big)).resolves.toEqual({ length: big.length, sum: big.length });
  });

  it('rejects input that cannot be cloned with BAD_INPUT and keeps serving', async () => {
    const worker = makeWorker();
    await expect(worker.call('echo', { f: () => 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(worker.call('echo', 2)).resolves.toBe(2);
    expect(worker.restarts).toBe(0);
  });

  it('runs calls concurrently', async () => {
    const worker = makeWorker();
    const { call } = await sleeping(worker);
    // If calls were serial this would wait behind the ten-minute sleep and time out.
    await expect(worker.call('echo', 'meanwhile')).resolves.toBe('meanwhile');
    await worker.close();
    await expect(call).rejects.toBeInstanceOf(WorkerCrashedError);
  });

  it('reports progress', async () => {
    const worker = makeWorker();
    const seen: [number, number, string | undefined][] = [];
    const out = await worker.call('progress', { steps: 3 }, { onProgress: (done, total, message) => seen.push([done, total, message]) });
    expect(out).toBe(3);
    expect(seen).toEqual([
      [1, 3, 'step 1'],
      [2, 3, 'step 2'],
      [3, 3, 'step 3'],
    ]);
  });

  it('rethrows CoreError with its code', async () => {
    const worker = makeWorker();
    const err = await worker.call('fail', { code: 'DOCUMENT_UNREADABLE', message: 'encrypted PDF' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoreError);
    expect(err).toMatchObject({ code: 'DOCUMENT_UNREADABLE', message: 'encrypted PDF' });
  });

  it('rethrows JobWaitError with its recheck delay', async () => {
    const worker = makeWorker();
    const err = await worker.call('wait', { ms: 4321 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobWaitError);
    expect(err).not.toBeInstanceOf(WorkerCrashedError);
    expect(err).toMatchObject({ recheckInMs: 4321, message: 'no model yet' });
  });

  it('rejects an unknown task with BAD_INPUT and keeps serving', async () => {
    const worker = makeWorker();
    await expect(worker.call('nope', null)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(worker.call('echo', 1)).resolves.toBe(1);
  });

  it('cancels a call, and the worker serves the next one', async () => {
    const worker = makeWorker();
    const controller = new AbortController();
    const { call, pid } = await sleeping(worker, controller.signal);
    controller.abort();
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoreError);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    await expect(worker.call('pid', null)).resolves.toBe(pid);
    expect(worker.restarts).toBe(0);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const worker = makeWorker();
    await expect(worker.call('echo', 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('fails in-flight calls with WorkerCrashedError when the worker is killed, then restarts it', async () => {
    const worker = makeWorker();
    const exits: WorkerExit[] = [];
    worker.onExit((e) => exits.push(e));
    const { call, pid } = await sleeping(worker);
    process.kill(pid, 'SIGKILL');
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerCrashedError);
    expect(err).toBeInstanceOf(JobWaitError);
    expect((err as WorkerCrashedError).recheckInMs).toBe(1000);
    expect(err).toMatchObject({ pid, signal: 'SIGKILL' });
    expect(exits).toEqual([expect.objectContaining({ pid, signal: 'SIGKILL', expected: false })]);

    const next = await worker.call<number>('pid', null);
    expect(next).not.toBe(pid);
    expect(worker.pid).toBe(next);
    expect(worker.restarts).toBe(1);
  });

  it('treats a task that exits the process as a crash', async () => {
    const worker = makeWorker();
    await expect(worker.call('crash', { how: 'exit' })).rejects.toBeInstanceOf(WorkerCrashedError);
    await expect(worker.call('echo', 'again')).resolves.toBe('again');
    expect(worker.restarts).toBe(1);
  });

  it('backs off restarting a worker that keeps crashing', async () => {
    const worker = makeWorker({ restartBackoffMs: { base: 2500, max: 2500 } });
    await expect(worker.call('crash', { how: 'kill' })).rejects.toBeInstanceOf(WorkerCrashedError);
    const second = await worker.call('crash', { how: 'kill' }).catch((e: unknown) => e);
    // The second quick crash schedules a delayed restart, and the job is told to come back no sooner.
    expect(second).toBeInstanceOf(WorkerCrashedError);
    expect((second as WorkerCrashedError).recheckInMs).toBeGreaterThan(1500);
    await expect(worker.call('echo', 'up')).resolves.toBe('up');
    expect(worker.restarts).toBe(2);
  });

  it('kills a worker that sends a malformed message, without harm to this process', async () => {
    const worker = makeWorker();
    const exits: WorkerExit[] = [];
    worker.onExit((e) => exits.push(e));
    const first = await worker.call<number>('pid', null);
    const err = await worker.call('garbage', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerCrashedError);
    expect((err as Error).message).toMatch(/malformed message/);
    expect(exits[0]).toMatchObject({ pid: first, expected: false, reason: expect.stringMatching(/malformed/) as unknown });
    const next = await worker.call<number>('pid', null);
    expect(next).not.toBe(first);
  });

  it('reports a tasks module that does not load as WorkerStartError', async () => {
    const worker = makeWorker({ tasksModule: path.join(os.tmpdir(), 'lva-no-such-tasks-module.ts') });
    await expect(worker.call('echo', 1)).rejects.toBeInstanceOf(WorkerStartError);
    expect(worker.pid).toBeUndefined();
  });

  it('close() ends the worker and fails calls in flight', async () => {
    const worker = makeWorker();
    const exits: WorkerExit[] = [];
    worker.onExit((e) => exits.push(e));
    const { call, pid } = await sleeping(worker);
    await worker.close();
    await expect(call).rejects.toBeInstanceOf(WorkerCrashedError);
    expect(exits).toEqual([expect.objectContaining({ pid, expected: true, code: 0 })]);
    await waitFor(() => !isAlive(pid), 'the worker process to go');
    expect(worker.pid).toBeUndefined();
    await expect(worker.call('echo', 1)).rejects.toThrow(/closed/);
  });

  it('does not keep an idle parent process alive', async () => {
    // A script that makes one call and never closes the worker must still exit on its own.
    const agentWorker = fileURLToPath(new URL('./AgentWorker.ts', import.meta.url));
    const script = [
      `import { AgentWorker } from ${JSON.stringify(agentWorker)};`,
      `const w = new AgentWorker({ tasksModule: ${JSON.stringify(TASKS)} });`,
      `console.log(await w.call('pid', null));`,
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 60_000 });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    expect(signal).toBeNull();
    expect(code).toBe(0);
    const workerPid = Number(stdout.trim());
    expect(workerPid).toBeGreaterThan(0);
    // The worker notices its parent is gone and exits too.
    await waitFor(() => !isAlive(workerPid), 'the orphaned worker to exit');
  });
});

describe('workerMain', () => {
  it('answers a malformed run with BAD_INPUT, ignores other junk, and keeps serving', async () => {
    const child = fork(fileURLToPath(new URL('./workerMain.ts', import.meta.url)), [TASKS], {
      serialization: 'advanced',
      execArgv: [],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const received: FromWorker[] = [];
    child.on('message', (raw) => received.push(FromWorkerSchema.parse(raw)));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await waitFor(() => received.some((m) => m.type === 'ready'), 'ready');
      child.send({ type: 'run', id: 7 }); // no task
      child.send('junk');
      child.send({ type: 'cancel', id: 'x' });
      child.send({ type: 'run', id: 8, task: 'echo', input: 'still here' });
      await waitFor(() => received.some((m) => m.type === 'result' && m.id === 8), 'the echo result');
      expect(received).toContainEqual({ type: 'error', id: 7, error: expect.objectContaining({ code: 'BAD_INPUT', name: 'CoreError' }) as unknown });
      expect(received).toContainEqual({ type: 'result', id: 8, output: 'still here' });
      await waitFor(() => (stderr.match(/ignored a malformed message/g) ?? []).length === 2, 'two ignored messages logged');
      child.send({ type: 'shutdown' });
      expect(await closed).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('AgentWorker with JobQueue and JobRunner', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('retries a job whose worker was killed without spending an attempt', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-agentworker-'));
    dirs.push(dir);
    const queue = new JobQueue(path.join(dir, 'jobs.sqlite'));
    // Failure backoff far beyond the test timeout: the job can only finish in time if the crash counts as a wait.
    const runner = new JobRunner(queue, { baseMs: 600_000, maxMs: 600_000 });
    const worker = makeWorker();
    const events: JobEvent[] = [];
    runner.onEvent((e) => events.push(e));

    let runs = 0;
    let running!: () => void;
    const firstRunning = new Promise<void>((resolve) => (running = resolve));
    runner.register('agent.sleep', async () => {
      runs++;
      const ms = runs === 1 ? 600_000 : 10;
      await worker.call('sleep', { ms }, { onProgress: () => running() });
    });

    // One attempt: had the crash spent it, the job would end `failed`.
    queue.enqueue('agent.sleep', 'k1', null, { maxAttempts: 1 });
    runner.start();
    try {
      await firstRunning;
      const pid = worker.pid!;
      process.kill(pid, 'SIGKILL');

      await waitFor(() => events.length >= 1, 'the first job event');
      expect(events[0]).toMatchObject({ outcome: 'waiting' });
      const waiting = queue.get('agent.sleep', 'k1');
      expect(waiting).toMatchObject({ attempts: 0, maxAttempts: 1 });
      expect(waiting?.state === 'pending' || waiting?.state === 'running').toBe(true);
      expect(waiting?.lastError).toMatch(/died/);

      await waitFor(() => events.some((e) => e.outcome === 'done'), 'the job to be done');
      expect(events.map((e) => e.outcome)).toEqual(['waiting', 'done']);
      expect(queue.get('agent.sleep', 'k1')).toMatchObject({ state: 'done', attempts: 0, lastError: null });
      expect(runs).toBe(2);
      expect(worker.restarts).toBe(1);
      expect(worker.pid).not.toBe(pid);
    } finally {
      await runner.stop();
      queue.close();
    }
  });
});
