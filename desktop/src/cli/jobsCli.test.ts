import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The fake serves in this process, so the CLI is spawned asynchronously (spawnSync would block it).
import { startAnthropicFake, type AnthropicFake } from '../../test/fakes/anthropicFake.ts';
import { modelResponder } from '../../test/fakes/modelResponder.ts';
import { makeEncryptedPdf } from '../../test/fixtures/pdf.ts';
import { runLva, type LvaRun } from '../../test/lvaProcess.ts';

interface JobRow {
  id: number;
  kind: string;
  key: string;
  state: string;
  waiting: boolean;
  lastError: string | null;
}

describe('lva jobs: what waits, what failed, and running them', () => {
  let dir: string;
  let fake: AnthropicFake;
  let withKey: Record<string, string>;

  const lva = (env: Record<string, string>, ...args: string[]): Promise<LvaRun> => runLva(dir, args, env);
  const jobs = async (...args: string[]): Promise<JobRow[]> => {
    const r = await lva({}, 'jobs', ...args, '--json');
    expect(r.status, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { jobs: JobRow[] }).jobs;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-jobs-cli-'));
    fake = await startAnthropicFake({ defaultResponse: modelResponder({ glossary: { heron: 'animal', 'shallow water': 'place' } }) });
    withKey = { ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: fake.url };
  });

  afterAll(async () => {
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('without a key the capture is stored and its concepts wait; lva jobs run with the key completes them', async () => {
    const captured = await lva({}, 'capture', 'The heron hunts in shallow water', '--json');
    expect(captured.status).toBe(0);
    expect(captured.stderr).toMatch(/^lva: concepts wait: Finding concepts needs an Anthropic API key: set ANTHROPIC_API_KEY/m);
    const { id } = JSON.parse(captured.stdout) as { id: string };

    const listed = await lva({}, 'jobs');
    expect(listed.stdout).toMatch(new RegExp(`waiting:\\n.*analyze +${id} +0/5 .*needs an Anthropic API key`));
    const [analyze] = await jobs('--kind', 'analyze');
    expect(analyze).toMatchObject({ key: id, state: 'pending', waiting: true, lastError: expect.stringMatching(/ANTHROPIC_API_KEY/) as string });

    const ran = await lva(withKey, 'jobs', 'run');
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^ran \d+ jobs?; 0 waiting, 0 failed/);
    expect(await jobs('--state', 'failed')).toEqual([]);
    const shown = JSON.parse((await lva({}, 'show', id, '--json')).stdout) as { concepts: { name: string }[] };
    expect(shown.concepts.map((c) => c.name)).toEqual(['heron', 'shallow water']);
  });

  it('lva insights --now without a key exits 1, naming the variable', async () => {
    const r = await lva({}, 'insights', '--now');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^lva: the digest of \d{4}-W\d{2} was not written: The weekly digest needs an Anthropic API key: set ANTHROPIC_API_KEY/);
  });

  it('a password-protected PDF is stored, its extraction fails with the reason, and a retry fails the same way', async () => {
    const file = path.join(dir, 'locked.pdf');
    fs.writeFileSync(file, makeEncryptedPdf([['A secret page about herons.']], 'hunter2'));
    const r = await lva({}, 'capture', '--file', file, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^lva: extraction failed: .*password-protected/m);
    // Said once, not again as a job event.
    expect(r.stderr.match(/password-protected/g)).toHaveLength(1);
    const { id, status } = JSON.parse(r.stdout) as { id: string; status: { extract: { state: string; reason: string } } };
    expect(status.extract).toMatchObject({ state: 'failed', reason: expect.stringMatching(/password-protected/) as string });

    const failed = await jobs('--state', 'failed');
    expect(failed).toEqual([expect.objectContaining({ kind: 'extract', key: id, lastError: expect.stringMatching(/password-protected/) as string })]);
    const human = await lva({}, 'jobs', '--state', 'failed');
    expect(human.stdout).toMatch(new RegExp(`failed:\\n.*extract +${id} .*password-protected`));

    const retried = await lva({}, 'jobs', 'retry', String(failed[0]!.id));
    expect(retried.status).toBe(1);
    expect(retried.stdout).toMatch(/failed again: .*password-protected/);
  });

  it('a Markdown file without a key: its parts are stored, and their concepts wait, said once', async () => {
    const file = path.join(dir, 'notes.md');
    fs.writeFileSync(file, '# Herons\n\nHerons nest in colonies near shallow water.\n');
    const r = await lva({}, 'capture', '--file', file, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^lva: concepts wait for 1 of 1 part: Finding concepts needs an Anthropic API key/m);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: { extract: { state: 'done' } }, jobs: [], partJobs: [{ kind: 'analyze', outcome: 'wait', parts: 1, of: 1 }] });
  });

  it('--no-wait leaves the job pending; lva jobs cancel stops it', async () => {
    const file = path.join(dir, 'later.md');
    fs.writeFileSync(file, '# Later\n\nHerons nest in colonies.\n');
    const r = await lva({}, 'capture', '--file', file, '--no-wait', '--json');
    expect(r.status).toBe(0);
    const { id } = JSON.parse(r.stdout) as { id: string };
    const pending = (await jobs('--state', 'pending')).find((j) => j.key === id);
    expect(pending).toMatchObject({ kind: 'extract', state: 'pending', waiting: false });

    const cancelled = await lva({}, 'jobs', 'cancel', String(pending!.id));
    expect(cancelled.status, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toBe(`cancelled job ${pending!.id} (extract ${id})\n`);
    expect((await jobs('--state', 'failed')).find((j) => j.key === id)).toMatchObject({ lastError: 'cancelled' });
    expect((await lva({}, 'jobs', 'cancel', String(pending!.id))).status).toBe(1);
    expect((await lva({}, 'jobs', 'retry', 'x')).status).toBe(2);
  });
});
