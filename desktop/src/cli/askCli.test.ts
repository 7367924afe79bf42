import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The fake serves in this process, so the CLI is spawned asynchronously (spawnSync would block it).
import { startAnthropicFake, type AnthropicFake } from '../../test/fakes/anthropicFake.ts';
import { runLva, type LvaRun } from '../../test/lvaProcess.ts';

function lva(dataDir: string, env: Record<string, string>, ...args: string[]): Promise<LvaRun> {
  return runLva(dataDir, args, env);
}

describe('lva ask', () => {
  let dir: string;
  let fake: AnthropicFake;
  let id: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-ask-cli-'));
    fake = await startAnthropicFake();
    const captured = await lva(dir, {}, 'capture', 'The heron hunts by standing still in shallow water', '--json');
    expect(captured.status).toBe(0);
    id = (JSON.parse(captured.stdout) as { id: string }).id;
  });

  afterAll(async () => {
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('streams the answer to stdout, then its sources; --json gives the whole turn', async () => {
    const env = { ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: fake.url };
    fake.script({ kind: 'text', text: `It stands still in the shallows [[${id}]].` });
    const r = await lva(dir, env, 'ask', 'how', 'does', 'the', 'heron', 'hunt?');
    expect(r.stderr).toMatch(/^\(conversation [0-9A-Z]{26}; rate this reply: lva feedback [0-9A-Z]{26} [0-9A-Z]{26} up\|down\)\n$/);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`It stands still in the shallows [1].\n\n[1] The heron hunts by standing still in shallow water  ${id}\n`);

    fake.script({ kind: 'text', text: `Still water [[${id}]].`, usage: { input_tokens: 100, output_tokens: 7 } });
    const json = await lva(dir, env, 'ask', 'heron', '--json');
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ answer: 'Still water [1].', citations: [{ n: 1, captureId: id }], retrieved: 1, usage: { inputTokens: 100, outputTokens: 7 } });
  });

  it('continues a conversation, takes feedback on a reply, and shows the conversation', async () => {
    const env = { ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: fake.url };
    fake.script({ kind: 'text', text: `By standing still [[${id}]].` });
    const first = JSON.parse((await lva(dir, env, 'ask', 'heron hunting', '--json')).stdout) as { conversationId: string; turnId: string };
    const noted = await lva(dir, env, 'ask', '--capture-only', '--conversation', first.conversationId, 'Herons also hunt frogs at night', '--json');
    expect(noted.status).toBe(0);
    expect(fake.pending()).toBe(0);
    const { captureId } = JSON.parse(noted.stdout) as { captureId: string };
    const found = await lva(dir, {}, 'search', 'frogs at night', '--json');
    expect((JSON.parse(found.stdout) as { hits: { id: string }[] }).hits[0]?.id).toBe(captureId);

    const rated = await lva(dir, {}, 'feedback', first.conversationId, first.turnId, 'down', '--correction', 'Mention the frogs too.');
    expect(rated.status).toBe(0);
    const shown = await lva(dir, {}, 'conversations', first.conversationId);
    expect(shown.stdout).toContain(`agent ${first.turnId}  [-]`);
    expect(shown.stdout).toContain('you (captured)');
    const listed = await lva(dir, {}, 'conversations');
    expect(listed.stdout).toContain(first.conversationId);

    expect((await lva(dir, {}, 'feedback', first.conversationId, first.turnId, 'meh')).status).toBe(2);
    const missing = await lva(dir, {}, 'feedback', first.conversationId, '01JD3ZQ8X4M2N7P5R6S9T0ZZZZ', 'up');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no turn/);
  });

  it('lva stats shows what asking cost this month against the budget', async () => {
    const r = await lva(dir, { LVA_MONTHLY_BUDGET_USD: '5' }, 'stats', '--json');
    expect(r.status).toBe(0);
    const { ai } = JSON.parse(r.stdout) as { ai: { calls: number; inputTokens: number; costUsd: number; budgetUsd: number; remainingUsd: number } };
    expect(ai.calls).toBe(3);
    expect(ai.inputTokens).toBeGreaterThanOrEqual(100);
    expect(ai.costUsd).toBeGreaterThan(0);
    expect(ai.budgetUsd).toBe(5);
    expect(ai.remainingUsd).toBeCloseTo(5 - ai.costUsd, 6);
    const human = await lva(dir, {}, 'stats');
    expect(human.stdout).toMatch(/AI {9}\d{4}-\d{2}: \$\d+\.\d{2} over 3 call\(s\)/);
  });

  it('without a key, exits 1 naming the variable to set', async () => {
    const r = await lva(dir, {}, 'ask', 'heron');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^lva: answering a question needs an API key: set ANTHROPIC_API_KEY/);
  });
});
