import { z } from 'zod';
import { ConfigError } from '../../config/env.schema.js';

/**
 * Token prices of the vision models, for COGS (issue 6: "Cost = tokens × configured price per
 * model, written to `billing.cogs_records`").
 *
 * Units: USD per million tokens in the table; USD micro-dollars (1 USD = 1,000,000) for a cost.
 * Since a price p is USD per 10⁶ tokens, t tokens cost t × p / 10⁶ USD = t × p micro-dollars.
 */

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}

/** Model id → price. */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * Built-in list prices (standard tier, no batch or cache discount) of the default models, USD
 * per million tokens. Sources: https://openai.com/api/pricing (gpt-4.1, gpt-4.1-mini,
 * gpt-4o-mini) and https://docs.claude.com/en/docs/about-claude/pricing (claude-sonnet-4-5,
 * claude-sonnet-4-6, claude-haiku-4-5). A self-hosted `openai-compatible` model costs 0 unless VISION_PRICES_JSON
 * names it. Override or extend with VISION_PRICES_JSON.
 */
export const BUILT_IN_PRICES: PriceTable = Object.freeze({
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'claude-sonnet-4-5': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  // Successor of claude-sonnet-4-5, which the installed @anthropic-ai/sdk marks deprecated (end of life 2026-11-30).
  'claude-sonnet-4-6': { input: 3, output: 15 },
});

const priceSchema = z.strictObject({
  input: z.number().finite().min(0).max(10_000),
  output: z.number().finite().min(0).max(10_000),
});

/** Shape of VISION_PRICES_JSON: `{"model": {"input": 0.4, "output": 1.6}}` (USD per million tokens). */
export const pricesJsonSchema = z.record(z.string().trim().min(1).max(200), priceSchema);

/**
 * Parses VISION_PRICES_JSON and merges it over {@link BUILT_IN_PRICES} (an entry there replaces
 * the built-in price of that model). Called once at boot by the vision provider factory.
 *
 * @throws ConfigError (one line naming VISION_PRICES_JSON) when the text is not JSON or does not
 *   match {@link pricesJsonSchema} (negative or non-numeric price, unknown field, empty model id).
 */
export function loadPriceTable(pricesJson: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(pricesJson);
  } catch (error) {
    throw new ConfigError([`VISION_PRICES_JSON: not valid JSON (${(error as Error).message})`]);
  }
  const parsed = pricesJsonSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (issue) =>
          `VISION_PRICES_JSON${issue.path.length ? '.' + issue.path.join('.') : ''}: ${issue.message} ` +
          '(expected {"<model>": {"input": <USD per million tokens>, "output": <USD per million tokens>}})',
      ),
    );
  }
  return Object.freeze({ ...BUILT_IN_PRICES, ...parsed.data });
}

/** A dated snapshot suffix such as `-2025-04-14` (OpenAI) or `-20250929` (Anthropic). */
const SNAPSHOT_SUFFIX = /^-\d{4}-?\d{2}-?\d{2}$/;

/**
 * The price of `model`: its own entry, else the entry of the model it is a dated snapshot of
 * (`gpt-4.1-mini-2025-04-14` → `gpt-4.1-mini`, `claude-haiku-4-5-20251001` → `claude-haiku-4-5`).
 *
 * @returns the price, or null when the table knows neither.
 */
export function findModelPrice(table: PriceTable, model: string): ModelPrice | null {
  const own = Object.hasOwn(table, model) ? table[model] : undefined;
  if (own) return own;
  let best: string | null = null;
  for (const key of Object.keys(table)) {
    if (model.startsWith(key) && SNAPSHOT_SUFFIX.test(model.slice(key.length)) && key.length > (best?.length ?? 0)) {
      best = key;
    }
  }
  return best ? (table[best] ?? null) : null;
}

/**
 * Cost of `inputTokens` + `outputTokens` at `price`, in USD micro-dollars, rounded to the nearest
 * integer (the unit of `billing.cogs_records.cost_usd_micros`).
 *
 * @throws RangeError for a negative or non-integer token count.
 */
export function tokenCostUsdMicros(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  for (const tokens of [inputTokens, outputTokens]) {
    if (!Number.isSafeInteger(tokens) || tokens < 0) throw new RangeError(`token count ${tokens} is not a count`);
  }
  return Math.round(inputTokens * price.input + outputTokens * price.output);
}
