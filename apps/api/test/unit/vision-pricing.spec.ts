import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/env.schema.js';
import {
  BUILT_IN_PRICES,
  findModelPrice,
  loadPriceTable,
  tokenCostUsdMicros,
} from '../../src/modules/vision/pricing.js';

describe('vision pricing (USD per million tokens → USD micro-dollars)', () => {
  it('costs tokens × price per million tokens, in micro-dollars rounded to the nearest integer', () => {
    // 2210 × 0.4 + 180 × 1.6 = 884 + 288
    expect(tokenCostUsdMicros({ input: 0.4, output: 1.6 }, 2210, 180)).toBe(1172);
    // 1 million input tokens at $3 = $3 = 3,000,000 micro-dollars.
    expect(tokenCostUsdMicros({ input: 3, output: 15 }, 1_000_000, 0)).toBe(3_000_000);
    // 7 × 0.15 = 1.05 → 1; 5 × 0.15 = 0.75 → 1
    expect(tokenCostUsdMicros({ input: 0.15, output: 0.6 }, 7, 0)).toBe(1);
    expect(tokenCostUsdMicros({ input: 0.15, output: 0.6 }, 5, 0)).toBe(1);
    expect(tokenCostUsdMicros({ input: 0, output: 0 }, 123_456, 7890)).toBe(0);
    expect(() => tokenCostUsdMicros({ input: 1, output: 1 }, -1, 0)).toThrow(RangeError);
    expect(() => tokenCostUsdMicros({ input: 1, output: 1 }, 1.5, 0)).toThrow(RangeError);
  });

  it('finds a model by its id or by the id of which it is a dated snapshot, never by a mere prefix', () => {
    expect(findModelPrice(BUILT_IN_PRICES, 'gpt-4.1-mini')).toEqual({ input: 0.4, output: 1.6 });
    expect(findModelPrice(BUILT_IN_PRICES, 'gpt-4.1-mini-2025-04-14')).toEqual({ input: 0.4, output: 1.6 });
    expect(findModelPrice(BUILT_IN_PRICES, 'gpt-4.1-2025-04-14')).toEqual({ input: 2, output: 8 });
    expect(findModelPrice(BUILT_IN_PRICES, 'claude-haiku-4-5-20251001')).toEqual({ input: 1, output: 5 });
    expect(findModelPrice(BUILT_IN_PRICES, 'gpt-4.1-nano')).toBeNull();
    expect(findModelPrice(BUILT_IN_PRICES, 'gpt-4.1-mini-high')).toBeNull();
    expect(findModelPrice(BUILT_IN_PRICES, 'qwen2.5vl:7b')).toBeNull();
    expect(findModelPrice(BUILT_IN_PRICES, 'toString')).toBeNull();
  });

  it('merges VISION_PRICES_JSON over the built-in table', () => {
    const table = loadPriceTable(
      JSON.stringify({ 'gpt-4.1-mini': { input: 0.5, output: 2 }, 'qwen2.5vl:7b': { input: 0.01, output: 0.02 } }),
    );
    expect(table['gpt-4.1-mini']).toEqual({ input: 0.5, output: 2 });
    expect(table['qwen2.5vl:7b']).toEqual({ input: 0.01, output: 0.02 });
    expect(table['claude-sonnet-4-5']).toEqual(BUILT_IN_PRICES['claude-sonnet-4-5']);
    expect(loadPriceTable('{}')).toEqual(BUILT_IN_PRICES);
  });

  it.each([
    ['not JSON', '{"gpt-4.1": 2', /VISION_PRICES_JSON: not valid JSON/],
    ['a negative price', '{"gpt-4.1": {"input": -2, "output": 8}}', /VISION_PRICES_JSON\.gpt-4\.1\.input/],
    ['a missing output price', '{"gpt-4.1": {"input": 2}}', /VISION_PRICES_JSON\.gpt-4\.1\.output/],
    ['a price as text', '{"gpt-4.1": {"input": "2", "output": 8}}', /VISION_PRICES_JSON\.gpt-4\.1\.input/],
    ['an unknown field', '{"gpt-4.1": {"input": 2, "output": 8, "cached": 1}}', /VISION_PRICES_JSON\.gpt-4\.1/],
    ['an array', '[]', /VISION_PRICES_JSON/],
  ])('refuses %s with a ConfigError naming VISION_PRICES_JSON', (_case, json, message) => {
    const attempt = () => loadPriceTable(json);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});
