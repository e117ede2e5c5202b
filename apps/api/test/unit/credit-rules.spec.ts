import { describe, expect, it } from 'vitest';
import {
  parseUsdMxnRate,
  revenuePerCreditCentavos,
  usdMicrosToMxnCentavos,
} from '../../src/modules/credits/credit-rules.js';

describe('credit rules', () => {
  it('parses a USD→MXN rate exactly into millionths', () => {
    expect(parseUsdMxnRate('17.0')).toBe(17_000_000n);
    expect(parseUsdMxnRate('17')).toBe(17_000_000n);
    expect(parseUsdMxnRate('18.254321')).toBe(18_254_321n);
    expect(parseUsdMxnRate('0.5')).toBe(500_000n);
    for (const bad of ['', '0', '0.000000', '-17', '17.1234567', '1e3', '17,5']) {
      expect(() => parseUsdMxnRate(bad), bad).toThrow();
    }
  });

  it('converts USD micro-dollars to MXN centavos, rounding half up, in integers', () => {
    const rate = parseUsdMxnRate('17.0');
    expect(usdMicrosToMxnCentavos(1_000_000, rate)).toBe(1700); // 1 USD = 17.00 MXN
    expect(usdMicrosToMxnCentavos(1_234_567, rate)).toBe(2099); // 2,098.7639 centavos
    expect(usdMicrosToMxnCentavos(5_000, rate)).toBe(9); // 8.5 → 9 (half up)
    expect(usdMicrosToMxnCentavos(4_999, rate)).toBe(8); // 8.4983 → 8
    expect(usdMicrosToMxnCentavos(0, rate)).toBe(0);
    expect(usdMicrosToMxnCentavos(9_007_199_254_740_991, rate)).toBe(15_312_238_733_060); // 15,312,238,733,059.68: exact, no float error
    expect(usdMicrosToMxnCentavos(1_000_000, parseUsdMxnRate('18.254321'))).toBe(1825); // 1,825.4321
    expect(() => usdMicrosToMxnCentavos(-1, rate)).toThrow(RangeError);
    expect(() => usdMicrosToMxnCentavos(1.5, rate)).toThrow(RangeError);
  });

  it('takes the cheapest price per credit of the packages, rounded down', () => {
    const seeded = [
      { credits: 1, priceCentavos: 2900 },
      { credits: 5, priceCentavos: 12900 },
      { credits: 20, priceCentavos: 44900 },
    ];
    expect(revenuePerCreditCentavos(seeded)).toBe(2245);
    expect(revenuePerCreditCentavos([{ credits: 3, priceCentavos: 10000 }])).toBe(3333);
    expect(revenuePerCreditCentavos([])).toBeNull();
  });
});
