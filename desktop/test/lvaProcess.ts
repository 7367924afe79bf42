import { spawn } from 'node:child_process';
import path from 'node:path';

export const LVA = path.resolve(import.meta.dirname, '../bin/lva.js');

export interface LvaRun {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `lva ARGS --data-dir DIR` as its own process, asynchronously, so a relay or a fake API
 * serving in the test's process keeps answering meanwhile. Provider keys of whoever runs the tests
 * never reach the child: only `env` given here does.
 */
export function runLva(dataDir: string, args: readonly string[], env: Record<string, string> = {}): Promise<LvaRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(ANTHROPIC|OPENAI)_/.test(k)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LVA, ...args, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}
