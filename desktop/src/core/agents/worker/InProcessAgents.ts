import { CoreError } from '../../errors.ts';
import type { AgentHost } from '../jobs/agentCall.ts';
import type { AgentTask } from './tasks.ts';

/**
 * Runs agent tasks on the core's own event loop. For tests and tools that want no second process;
 * the app and the CLI use AgentWorker, so that local models and parsing never block the core.
 */
export class InProcessAgents implements AgentHost {
  readonly #tasks: () => Promise<Record<string, AgentTask<never, unknown>>>;

  /** Loaded on first call: the tasks pull in the SDKs and pdf.js, which a search never needs. */
  constructor(tasks: () => Promise<Record<string, AgentTask<never, unknown>>>) {
    this.#tasks = tasks;
  }

  async call<O>(task: string, input: unknown, options: { signal?: AbortSignal; onProgress?: (done: number, total: number, message?: string) => void } = {}): Promise<O> {
    const run = (await this.#tasks())[task] as AgentTask | undefined;
    if (!run) throw new CoreError('BAD_INPUT', `no agent task "${task}"`);
    const signal = options.signal ?? new AbortController().signal;
    return (await run(input, { signal, progress: (done, total, message) => options.onProgress?.(done, total, message) })) as O;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
