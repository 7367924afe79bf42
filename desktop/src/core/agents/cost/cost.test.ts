import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BudgetGuard, monthlyBudgetFromEnv } from './Budget.ts';
import { costOf, DEFAULT_PRICES, formatUsd, pricesFromEnv, type PriceTable } from './pricing.ts';
import { UsageLedger } from './UsageLedger.ts';

const NOV_LAST = Date.parse('2026-11-30T23:59:59Z');
const DEC_FIRST = Date.parse('2026-12-01T00:00:00Z');

const dirs: string[] = [];
const ledgers: UsageLedger[] = [];

afterEach(() => {
  for (const l of ledgers.splice(0)) {
    try {
      l.close();
    } catch {
      // closed by the test
    }
  }
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function setup(clock = { now: NOV_LAST }, prices?: PriceTable): { ledger: UsageLedger; file: string; clock: { now: number }; reopen: () => UsageLedger } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-usage-'));
  dirs.push(dir);
  const file = path.join(dir, 'usage.sqlite');
  const open = (): UsageLedger => {
    const l = new UsageLedger(file, { now: () => clock.now, ...(prices ? { prices } : {}) });
    ledgers.push(l);
    return l;
  };
  return { ledger: open(), file, clock, reopen: open };
}

describe('pricing', () => {
  it('computes exact integer micro-dollars from the table', () => {
    // Sonnet: $3 in, $15 out per million tokens, i.e. 3 and 15 micro-dollars per token.
    expect(costOf('claude-sonnet-5-5', { inputTokens: 1234, outputTokens: 567 })).toEqual({ microUsd: 1234 * 3 + 567 * 15, estimated: false });
    expect(costOf('claude-haiku-5-5', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toEqual({ microUsd: 6_000_000, estimated: false });
    // Whisper: $0.006 a minute is 100 micro-dollars a second, billed per started second.
    expect(costOf('whisper-1', { audioSeconds: 60 })).toEqual({ microUsd: 6000, estimated: false });
    expect(costOf('whisper-1', { audioSeconds: 12.2 })).toEqual({ microUsd: 1300, estimated: false });
    // Sub-micro-dollar costs round up so the ledger never reports less than the bill.
    expect(costOf('x', { inputTokens: 1, outputTokens: 0 }, { x: { inputUsdPerMTok: 0.25, outputUsdPerMTok: 1 } }).microUsd).toBe(1);
    // Exact past 2^53 in the intermediate product.
    expect(costOf('x', { inputTokens: 1_000_000_000, outputTokens: 0 }, { x: { inputUsdPerMTok: 10_000, outputUsdPerMTok: 0 } }).microUsd).toBe(10_000_000_000_000);
    expect(() => costOf('claude-sonnet-5-5', { inputTokens: 1.5, outputTokens: 0 })).toThrow(/whole numbers/);
  });

  it('matches dated snapshots of a known model', () => {
    expect(costOf('claude-haiku-5-5-20261001', { inputTokens: 10, outputTokens: 10 })).toEqual({ microUsd: 60, estimated: false });
  });

  it('charges an unknown model the most expensive known price and flags it estimated', () => {
    expect(costOf('gpt-unknown', { inputTokens: 1000, outputTokens: 1000 })).toEqual({ microUsd: 1000 * 3 + 1000 * 15, estimated: true });
    expect(costOf('local-whisper-large', { audioSeconds: 60 })).toEqual({ microUsd: 6000, estimated: true });
    // A known model used for the other kind of usage is not a match either.
    expect(costOf('claude-haiku-5-5', { audioSeconds: 1 }).estimated).toBe(true);
  });

  it('merges LVA_PRICES_JSON over the defaults', () => {
    const table = pricesFromEnv({ LVA_PRICES_JSON: JSON.stringify({ 'claude-haiku-5-5': { inputUsdPerMTok: 0.8, outputUsdPerMTok: 4 }, 'my-model': { inputUsdPerMTok: 20, outputUsdPerMTok: 80 } }) });
    expect(costOf('claude-haiku-5-5', { inputTokens: 1000, outputTokens: 1000 }, table)).toEqual({ microUsd: 800 + 4000, estimated: false });
    expect(table['claude-sonnet-5-5']).toEqual(DEFAULT_PRICES['claude-sonnet-5-5']);
    // The fallback follows the most expensive price, overrides included.
    expect(costOf('unknown', { inputTokens: 1, outputTokens: 1 }, table)).toEqual({ microUsd: 100, estimated: true });
    expect(pricesFromEnv({})).toBe(DEFAULT_PRICES);
    expect(pricesFromEnv({ LVA_PRICES_JSON: '  ' })).toBe(DEFAULT_PRICES);
  });

  it('rejects a bad LVA_PRICES_JSON with a message naming the variable and the problem', () => {
    expect(() => pricesFromEnv({ LVA_PRICES_JSON: '{not json' })).toThrow(/LVA_PRICES_JSON is not valid JSON/);
    expect(() => pricesFromEnv({ LVA_PRICES_JSON: '{"m": {"inputUsdPerMTok": -1, "outputUsdPerMTok": 2}}' })).toThrow(/LVA_PRICES_JSON is not valid at m.*expected/);
    expect(() => pricesFromEnv({ LVA_PRICES_JSON: '{"m": {"input": 1}}' })).toThrow(/LVA_PRICES_JSON is not valid at m/);
    expect(() => pricesFromEnv({ LVA_PRICES_JSON: '[1]' })).toThrow(/LVA_PRICES_JSON is not valid/);
  });

  it('formats whole cents', () => {
    expect(formatUsd(5_000_000)).toBe('$5.00');
    expect(formatUsd(5_123_456)).toBe('$5.12');
    expect(formatUsd(0)).toBe('$0.00');
  });
});

describe('UsageLedger', () => {
  it('totals per UTC month, with the boundary second in the month it belongs to', () => {
    const { ledger } = setup();
    ledger.record({ at: NOV_LAST, role: 'analysis', model: 'claude-haiku-5-5', captureId: 'c1', inputTokens: 1000, outputTokens: 200 });
    ledger.record({ at: DEC_FIRST, role: 'chat', model: 'claude-sonnet-5-5', captureId: 'c1', inputTokens: 100, outputTokens: 10 });
    ledger.record({ at: DEC_FIRST + 1, role: 'transcription', model: 'whisper-1', captureId: 'c2', audioSeconds: 30 });
    ledger.record({ at: Date.parse('2026-10-15T12:00:00Z'), role: 'vision', model: 'claude-sonnet-5-5', inputTokens: 10, outputTokens: 10 });

    const nov = ledger.monthTotal('2026-11');
    expect(nov).toMatchObject({ month: '2026-11', costMicroUsd: 2000, costUsd: 0.002, inputTokens: 1000, outputTokens: 200, calls: 1, estimatedCalls: 0 });
    expect(nov.byRole.analysis.calls).toBe(1);
    expect(nov.byRole.chat.calls).toBe(0);

    const dec = ledger.monthTotal('2026-12');
    expect(dec).toMatchObject({ costMicroUsd: 450 + 3000, inputTokens: 100, outputTokens: 10, audioSeconds: 30, calls: 2 });
    expect(dec.byRole.chat.costMicroUsd).toBe(450);
    expect(dec.byRole.transcription).toMatchObject({ costMicroUsd: 3000, audioSeconds: 30, calls: 1 });

    expect(ledger.monthTotal('2026-09')).toMatchObject({ costMicroUsd: 0, calls: 0 });
    expect(() => ledger.monthTotal('2026-13')).toThrow(/YYYY-MM/);
  });

  it('totals per capture across months and roles', () => {
    const { ledger } = setup();
    ledger.record({ at: NOV_LAST, role: 'analysis', model: 'claude-haiku-5-5', captureId: 'c1', inputTokens: 1000, outputTokens: 200 });
    ledger.record({ at: DEC_FIRST, role: 'vision', model: 'claude-sonnet-5-5', captureId: 'c1', inputTokens: 100, outputTokens: 10 });
    ledger.record({ at: DEC_FIRST, role: 'vision', model: 'claude-sonnet-5-5', captureId: 'c2', inputTokens: 100, outputTokens: 10 });
    const c1 = ledger.forCapture('c1');
    expect(c1).toMatchObject({ costMicroUsd: 2450, calls: 2, inputTokens: 1100, outputTokens: 210 });
    expect(c1.byRole.vision.costMicroUsd).toBe(450);
    expect(ledger.forCapture('none')).toMatchObject({ costMicroUsd: 0, calls: 0 });
  });

  it('lists recent calendar months newest first, gaps included', () => {
    const clock = { now: Date.parse('2027-01-10T00:00:00Z') };
    const { ledger } = setup(clock);
    ledger.record({ at: NOV_LAST, role: 'chat', model: 'claude-sonnet-5-5', inputTokens: 1, outputTokens: 1 });
    ledger.record({ role: 'chat', model: 'claude-sonnet-5-5', inputTokens: 2, outputTokens: 0 });
    const months = ledger.recentMonths(3);
    expect(months.map((m) => [m.month, m.costMicroUsd])).toEqual([
      ['2027-01', 6],
      ['2026-12', 0],
      ['2026-11', 18],
    ]);
    expect(ledger.recentMonths(0)).toEqual([]);
  });

  it('records an unknown model as estimated', () => {
    const { ledger } = setup();
    const result = ledger.record({ role: 'chat', model: 'claude-future-9', inputTokens: 1000, outputTokens: 0 });
    expect(result).toEqual({ recorded: true, costMicroUsd: 3000, estimated: true });
    expect(ledger.monthTotal('2026-11').estimatedCalls).toBe(1);
  });

  it('counts a retried record with the same callId once', () => {
    const { ledger } = setup();
    const entry = { callId: 'req_1', role: 'synthesis', model: 'claude-sonnet-5-5', inputTokens: 100, outputTokens: 100 } as const;
    expect(ledger.record(entry)).toEqual({ recorded: true, costMicroUsd: 1800, estimated: false });
    expect(ledger.record(entry)).toEqual({ recorded: false, costMicroUsd: 1800, estimated: false });
    ledger.record({ role: 'synthesis', model: 'claude-sonnet-5-5', inputTokens: 100, outputTokens: 100 });
    ledger.record({ role: 'synthesis', model: 'claude-sonnet-5-5', inputTokens: 100, outputTokens: 100 });
    expect(ledger.monthTotal('2026-11')).toMatchObject({ calls: 3, costMicroUsd: 5400 });
  });

  it('keeps its records across a reopen', () => {
    const { ledger, reopen } = setup();
    ledger.record({ callId: 'a', role: 'analysis', model: 'claude-haiku-5-5', captureId: 'c1', inputTokens: 10, outputTokens: 10 });
    ledger.close();
    const again = reopen();
    expect(again.monthTotal('2026-11')).toMatchObject({ calls: 1, costMicroUsd: 60 });
    expect(again.forCapture('c1').calls).toBe(1);
    expect(again.record({ callId: 'a', role: 'analysis', model: 'claude-haiku-5-5', inputTokens: 10, outputTokens: 10 }).recorded).toBe(false);
  });

  it('uses the price table it was given', () => {
    const { ledger } = setup(undefined, { 'claude-sonnet-5-5': { inputUsdPerMTok: 1, outputUsdPerMTok: 1 } });
    expect(ledger.record({ role: 'chat', model: 'claude-sonnet-5-5', inputTokens: 5, outputTokens: 5 }).costMicroUsd).toBe(10);
  });

  it('rejects entries that cannot be priced', () => {
    const { ledger } = setup();
    expect(() => ledger.record({ role: 'chat', model: 'claude-sonnet-5-5', inputTokens: -1, outputTokens: 0 })).toThrow(/inputTokens/);
    expect(() => ledger.record({ role: 'transcription', model: 'whisper-1', audioSeconds: 90_000 })).toThrow(/audioSeconds/);
    expect(() => ledger.record({ role: 'chat', model: '', inputTokens: 1, outputTokens: 0 })).toThrow(/model/);
    expect(() => ledger.record({ role: 'nope' as 'chat', model: 'm', inputTokens: 1, outputTokens: 0 })).toThrow(/role/);
    expect(ledger.monthTotal('2026-11').calls).toBe(0);
  });
});

describe('BudgetGuard', () => {
  const OPTIONAL = ['chat', 'analysis', 'vision', 'synthesis'] as const;

  /** Spends exactly `microUsd` in November 2026: Sonnet input is 3 micro-dollars a token, Haiku input 1. */
  function spend(ledger: UsageLedger, microUsd: number): void {
    ledger.record({ at: NOV_LAST - 1000, role: 'chat', model: 'claude-sonnet-5-5', inputTokens: Math.floor(microUsd / 3), outputTokens: 0 });
    ledger.record({ at: NOV_LAST - 1000, role: 'analysis', model: 'claude-haiku-5-5', inputTokens: microUsd % 3, outputTokens: 0 });
  }

  it('allows every role while the month is under budget', () => {
    const { ledger, clock } = setup();
    spend(ledger, 4_999_998);
    const guard = new BudgetGuard(ledger, { monthlyBudgetUsd: 5, now: () => clock.now });
    for (const role of [...OPTIONAL, 'transcription'] as const) expect(guard.check(role)).toEqual({ allowed: true });
    expect(guard.remaining()).toEqual({ month: '2026-11', spentMicroUsd: 4_999_998, spentUsd: 4.999998, budgetUsd: 5, remainingUsd: 0.000002, resetsOn: '2026-12-01' });
  });

  it('pauses the optional agents at the budget, saying how much and until when', () => {
    const { ledger, clock } = setup();
    spend(ledger, 5_000_001);
    const guard = new BudgetGuard(ledger, { monthlyBudgetUsd: 5, now: () => clock.now });
    for (const role of OPTIONAL) {
      const decision = guard.check(role);
      expect(decision).toMatchObject({ allowed: false, code: 'budget', fallback: 'pause', budgetUsd: 5, resumesOn: '2026-12-01' });
    }
    const decision = guard.check('analysis');
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.reason).toBe('the monthly AI budget of $5.00 is spent ($5.00 this month); agents resume on 2026-12-01 or when the budget is raised (LVA_MONTHLY_BUDGET_USD)');
    expect(guard.remaining().remainingUsd).toBe(0);
  });

  it('pauses over the budget and resumes with the new UTC month', () => {
    const { ledger, clock } = setup();
    spend(ledger, 5_123_456);
    const guard = new BudgetGuard(ledger, { monthlyBudgetUsd: 5, now: () => clock.now });
    const decision = guard.check('synthesis');
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) {
      expect(decision.reason).toContain('$5.00 is spent ($5.12 this month)');
      expect(decision.reason).toContain('2026-12-01');
      expect(decision.spentUsd).toBe(5.123456);
    }
    clock.now = DEC_FIRST;
    expect(guard.check('synthesis')).toEqual({ allowed: true });
  });

  it('denies cloud transcription over budget with a local fallback, so captures carry on', () => {
    const { ledger, clock } = setup();
    spend(ledger, 6_000_000);
    const guard = new BudgetGuard(ledger, { monthlyBudgetUsd: 5, now: () => clock.now });
    const decision = guard.check('transcription');
    expect(decision).toMatchObject({ allowed: false, code: 'budget', fallback: 'local', resumesOn: '2026-12-01' });
    if (!decision.allowed) expect(decision.reason).toMatch(/cloud transcription resumes on 2026-12-01.*transcribed locally/);
  });

  it('rolls the reset date over the year end', () => {
    const { ledger } = setup();
    ledger.record({ at: Date.parse('2026-12-31T23:59:59Z'), role: 'chat', model: 'claude-sonnet-5-5', inputTokens: 1, outputTokens: 0 });
    const guard = new BudgetGuard(ledger, { monthlyBudgetUsd: 0.000001, now: () => Date.parse('2026-12-31T23:59:59Z') });
    expect(guard.check('chat')).toMatchObject({ allowed: false, resumesOn: '2027-01-01' });
  });

  it('turns every optional agent off at a budget of 0, before anything is spent', () => {
    const { ledger, clock } = setup();
    const guard = new BudgetGuard(ledger, { monthlyBudgetUsd: monthlyBudgetFromEnv({ LVA_MONTHLY_BUDGET_USD: '0' }), now: () => clock.now });
    for (const role of OPTIONAL) {
      const decision = guard.check(role);
      expect(decision).toMatchObject({ allowed: false, code: 'budget', fallback: 'pause' });
      if (!decision.allowed) expect(decision.reason).toMatch(/budget is \$0 .*agents are off/);
    }
    expect(guard.check('transcription')).toMatchObject({ allowed: false, fallback: 'local' });
  });

  it('always allows when no budget is set', () => {
    const { ledger, clock } = setup();
    spend(ledger, 900_000_000);
    const guard = new BudgetGuard(ledger, { monthlyBudgetUsd: monthlyBudgetFromEnv({}), now: () => clock.now });
    for (const role of [...OPTIONAL, 'transcription'] as const) expect(guard.check(role)).toEqual({ allowed: true });
    expect(guard.remaining()).toMatchObject({ budgetUsd: null, remainingUsd: null, spentUsd: 900 });
  });

  it('reads LVA_MONTHLY_BUDGET_USD strictly', () => {
    expect(monthlyBudgetFromEnv({ LVA_MONTHLY_BUDGET_USD: '12.50' })).toBe(12.5);
    expect(monthlyBudgetFromEnv({ LVA_MONTHLY_BUDGET_USD: ' 5 ' })).toBe(5);
    expect(monthlyBudgetFromEnv({ LVA_MONTHLY_BUDGET_USD: '' })).toBeUndefined();
    for (const bad of ['$5', '-1', '5e2', 'five', '2000000']) {
      expect(() => monthlyBudgetFromEnv({ LVA_MONTHLY_BUDGET_USD: bad })).toThrow(/LVA_MONTHLY_BUDGET_USD=.* is not valid/);
    }
    const { ledger } = setup();
    expect(() => new BudgetGuard(ledger, { monthlyBudgetUsd: Number.NaN })).toThrow(/monthly budget/);
  });
});
