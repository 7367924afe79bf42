/**
 * The agent worker process: `fork(workerMain.ts, [tasksModule], { serialization: 'advanced' })`.
 * It holds no documents and no queue; it runs tasks the core sends and answers each `run` with
 * exactly one `result` or `error`, so the core never has to guess whether a call is still alive.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CoreError } from '../../errors.ts';
import { FromWorkerSchema, ToWorkerSchema, serialiseError, type FromWorker } from './protocol.ts';
import type { AgentTask, TaskRegistry } from './tasks.ts';

// If the parent has vanished and a task ignores its abort signal, nobody else will end this process.
const ORPHAN_EXIT_MS = 5_000;

const running = new Map<number, { controller: AbortController; done: Promise<void> }>();
let stopping = false;

function log(message: string, err?: unknown): void {
  console.error(`[agent worker ${process.pid}] ${message}`, ...(err === undefined ? [] : [err]));
}

function send(message: FromWorker): void {
  if (!process.send || !process.connected) return;
  // The callback turns a failed send (parent gone) into a log line instead of an 'error' event nobody handles.
  process.send(message, undefined, undefined, (err: Error | null) => {
    if (err) log(`could not send ${message.type}`, err);
  });
}

async function loadRegistry(specifier: string): Promise<TaskRegistry> {
  const url = specifier.startsWith('file:') ? specifier : pathToFileURL(path.resolve(specifier)).href;
  const mod = (await import(url)) as { default?: unknown; tasks?: unknown };
  const registry = mod.default ?? mod.tasks;
  if (typeof registry !== 'object' || registry === null) {
    throw new Error(`${specifier} exports no task registry (expected a default or \`tasks\` export)`);
  }
  for (const [name, task] of Object.entries(registry)) {
    if (typeof task !== 'function') throw new Error(`${specifier}: task "${name}" is not a function`);
  }
  return registry as TaskRegistry;
}

function run(registry: Promise<TaskRegistry>, id: number, task: string, input: unknown): void {
  if (running.has(id)) {
    send({ type: 'error', id, error: serialiseError(new CoreError('BAD_INPUT', `call id ${id} is already running`)) });
    return;
  }
  if (stopping) {
    send({ type: 'error', id, error: serialiseError(new CoreError('CANCELLED', 'the agent worker is shutting down')) });
    return;
  }
  const controller = new AbortController();
  const progress = (done: number, total: number, message?: string): void => {
    if (controller.signal.aborted) return;
    const msg: FromWorker = { type: 'progress', id, done, total, ...(message === undefined ? {} : { message }) };
    // The core kills a worker that sends malformed messages, so a task's NaN progress must stop here.
    if (FromWorkerSchema.safeParse(msg).success) send(msg);
    else log(`task "${task}" reported invalid progress (${done}/${total}); dropped`);
  };
  const done = (async () => {
    try {
      const tasks = await registry;
      const fn: AgentTask | undefined = Object.hasOwn(tasks, task) ? tasks[task] : undefined;
      if (!fn) throw new CoreError('BAD_INPUT', `unknown agent task "${task}"`);
      const output = await fn(input, { signal: controller.signal, progress });
      try {
        send({ type: 'result', id, output });
      } catch (err) {
        // Serialisation throws synchronously (a function or a class with private state in the output).
        throw new CoreError('AGENT_BAD_OUTPUT', `task "${task}" returned output that cannot be sent to the core: ${String(err)}`);
      }
    } catch (err) {
      send({ type: 'error', id, error: serialiseError(err) });
    } finally {
      running.delete(id);
    }
  })();
  running.set(id, { controller, done });
}

async function stop(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => {
    log(`tasks did not stop within ${ORPHAN_EXIT_MS} ms of ${reason}; exiting anyway`);
    process.exit(0);
  }, ORPHAN_EXIT_MS).unref();
  const tasks = [...running.values()];
  for (const { controller } of tasks) controller.abort(new CoreError('CANCELLED', `agent worker ${reason}`));
  await Promise.allSettled(tasks.map((t) => t.done));
  // Explicit exit: a warm model (onnxruntime threads, open handles) may otherwise keep the process alive.
  process.exit(0);
}

function main(): void {
  const specifier = process.argv[2];
  if (!process.send) {
    log('must be started with child_process.fork (no IPC channel)');
    process.exit(2);
  }
  if (!specifier) {
    log('no tasks module given (usage: workerMain.ts <tasks module>)');
    process.exit(2);
  }

  const registry = loadRegistry(specifier);

  // Listening before the import finishes, so no message can arrive with nobody to hear it.
  process.on('message', (raw: unknown) => {
    const parsed = ToWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      const id = (raw as { id?: unknown } | null)?.id;
      if (typeof id === 'number' && Number.isInteger(id) && id >= 0) {
        send({ type: 'error', id, error: serialiseError(new CoreError('BAD_INPUT', `malformed message: ${z.prettifyError(parsed.error)}`)) });
      } else {
        log(`ignored a malformed message: ${z.prettifyError(parsed.error)}`);
      }
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'run':
        run(registry, msg.id, msg.task, msg.input);
        break;
      case 'cancel':
        running.get(msg.id)?.controller.abort(new CoreError('CANCELLED', 'cancelled by the core'));
        break;
      case 'shutdown':
        void stop('shut down');
        break;
    }
  });
  process.on('disconnect', () => void stop('lost its parent'));

  registry.then(
    () => send({ type: 'ready' }),
    (err: unknown) => {
      // No `ready`: the core reports a start failure rather than a crash, so jobs do not wait forever on a broken install.
      log(`could not load tasks from ${specifier}`, err);
      process.exit(1);
    },
  );
}

main();
