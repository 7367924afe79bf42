import { z } from 'zod';
import { CoreError } from '../../errors.ts';

export interface TokenPrice {
  readonly inputUsdPerMTok: number;
  readonly outputUsdPerMTok: number;
}

export interface AudioPrice {
  readonly usdPerAudioMinute: number;
}

export type ModelPrice = TokenPrice | AudioPrice;
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** What one call consumed: tokens for the language models, audio for transcription. */
export type Usage = { readonly inputTokens: number; readonly outputTokens: number } | { readonly audioSeconds: number };

export interface Cost {
  /** Integer micro-dollars, so sums over a month are exact. */
  readonly microUsd: number;
  /** The model was not in the table and was charged the most expensive known price. */
  readonly estimated: boolean;
}

/**
 * List prices in USD. Providers change them without notice, so check these against
 * https://www.anthropic.com/pricing and https://openai.com/api/pricing when a model changes, and update
 * this table (or set LVA_PRICES_JSON, which is merged over it, to fix a price without a release).
 * The Claude 5.5 rows carry over the list prices of the Sonnet and Haiku generations before them.
 */
export const DEFAULT_PRICES: PriceTable = {
  'claude-sonnet-5-5': { inputUsdPerMTok: 3, outputUsdPerMTok: 15 },
  'claude-haiku-5-5': { inputUsdPerMTok: 1, outputUsdPerMTok: 5 },
  'whisper-1': { usdPerAudioMinute: 0.006 },
};

// Upper bounds only catch typos such as a price given per token or in cents.
const Usd = z.number().finite().nonnegative().max(10_000);
const PriceOverrides = z.record(
  z.string().min(1),
  z.union([z.strictObject({ inputUsdPerMTok: Usd, outputUsdPerMTok: Usd }), z.strictObject({ usdPerAudioMinute: Usd })]),
);

const SHAPE_HINT = '{"model-id": {"inputUsdPerMTok": 3, "outputUsdPerMTok": 15}} or {"model-id": {"usdPerAudioMinute": 0.006}}';

/** The default table with LVA_PRICES_JSON merged over it. A bad value throws rather than silently mis-charging. */
export function pricesFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): PriceTable {
  const raw = env.LVA_PRICES_JSON;
  if (raw === undefined || raw.trim() === '') return DEFAULT_PRICES;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new CoreError('BAD_INPUT', `LVA_PRICES_JSON is not valid JSON (${(error as Error).message}); expected ${SHAPE_HINT}`);
  }
  const parsed = PriceOverrides.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
    throw new CoreError('BAD_INPUT', `LVA_PRICES_JSON is not valid at ${where}: ${issue?.message ?? 'invalid'}; expected ${SHAPE_HINT}`);
  }
  return { ...DEFAULT_PRICES, ...parsed.data };
}

const isAudioUsage = (usage: Usage): usage is { readonly audioSeconds: number } => 'audioSeconds' in usage;
const isAudioPrice = (price: ModelPrice): price is AudioPrice => 'usdPerAudioMinute' in price;

/**
 * The price for a model, matching exact IDs first and then dated snapshots ("claude-haiku-5-5-20261001"),
 * since responses may name the snapshot rather than the alias that was requested.
 */
function knownPrice(table: PriceTable, model: string, audio: boolean): ModelPrice | undefined {
  const fits = (price: ModelPrice | undefined): price is ModelPrice => price !== undefined && isAudioPrice(price) === audio;
  const exact = table[model];
  if (fits(exact)) return exact;
  let best: string | undefined;
  for (const id of Object.keys(table)) {
    if (model.startsWith(`${id}-`) && fits(table[id]) && (best === undefined || id.length > best.length)) best = id;
  }
  return best === undefined ? undefined : table[best];
}

/**
 * An unknown model is charged the highest known price of its kind, so a budget errs towards pausing
 * early rather than overspending. The defaults are included so an override table cannot lower the floor.
 */
function fallbackPrice(table: PriceTable, audio: boolean): ModelPrice {
  const all = [...Object.values(DEFAULT_PRICES), ...Object.values(table)];
  if (audio) {
    return { usdPerAudioMinute: Math.max(...all.filter(isAudioPrice).map((p) => p.usdPerAudioMinute)) };
  }
  const tokens = all.filter((p): p is TokenPrice => !isAudioPrice(p));
  return {
    inputUsdPerMTok: Math.max(...tokens.map((p) => p.inputUsdPerMTok)),
    outputUsdPerMTok: Math.max(...tokens.map((p) => p.outputUsdPerMTok)),
  };
}

export function priceOf(model: string, usage: Usage, table: PriceTable = DEFAULT_PRICES): { price: ModelPrice; estimated: boolean } {
  const audio = isAudioUsage(usage);
  const known = knownPrice(table, model, audio);
  return known ? { price: known, estimated: false } : { price: fallbackPrice(table, audio), estimated: true };
}

// Prices become integer micro-dollars per million tokens (or per minute) before any multiplication,
// so the arithmetic below is exact.
const micro = (usd: number): number => Math.round(usd * 1_000_000);

/**
 * Cost of one call, rounded up to the next micro-dollar: the ledger should never report less than the
 * provider bills. Audio is billed per started second, as OpenAI bills Whisper by the second.
 */
export function costOf(model: string, usage: Usage, table: PriceTable = DEFAULT_PRICES): Cost {
  const { price, estimated } = priceOf(model, usage, table);
  if (isAudioUsage(usage)) {
    const seconds = Math.ceil(Math.round(usage.audioSeconds * 1000) / 1000);
    const perMinute = micro((price as AudioPrice).usdPerAudioMinute);
    return { microUsd: Math.ceil((seconds * perMinute) / 60), estimated };
  }
  const { inputTokens, outputTokens } = usage;
  if (!Number.isSafeInteger(inputTokens) || !Number.isSafeInteger(outputTokens) || inputTokens < 0 || outputTokens < 0) {
    throw new CoreError('BAD_INPUT', `token counts must be whole numbers from 0, got ${inputTokens} in and ${outputTokens} out`);
  }
  const { inputUsdPerMTok, outputUsdPerMTok } = price as TokenPrice;
  // BigInt because tokens times micro-dollars per million tokens can pass 2^53 for a large call.
  const scaled = BigInt(inputTokens) * BigInt(micro(inputUsdPerMTok)) + BigInt(outputTokens) * BigInt(micro(outputUsdPerMTok));
  return { microUsd: Number((scaled + 999_999n) / 1_000_000n), estimated };
}

/** "$5.12": whole cents, which is what a person reads a budget in. */
export function formatUsd(microUsd: number): string {
  return `$${(Math.round(microUsd / 10_000) / 100).toFixed(2)}`;
}
