/**
 * Pure rules of the credits ledger: transaction types, reference types and money
 * conversions. No I/O; unit-tested on their own.
 */

/** Ledger row types (`billing.credit_transactions.type`, issue 4). */
export const LEDGER_TYPES = [
  'WELCOME',
  'PURCHASE',
  'HOLD',
  'HOLD_COMMIT',
  'HOLD_VOID',
  'REFERRAL_REWARD',
  'ADMIN_ADJUSTMENT',
] as const;
export type LedgerType = (typeof LEDGER_TYPES)[number];

/** Types other modules may grant with `CreditsService.grant` (payments, referrals). */
export const GRANT_TYPES = ['PURCHASE', 'REFERRAL_REWARD'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/**
 * What a ledger row's `reference_type` names: the inventory session of a hold, the payment
 * order of a purchase, the referral reward, the admin user of an adjustment, the user of a
 * welcome grant.
 */
export const REFERENCE_TYPES = ['INVENTORY_SESSION', 'PAYMENT_ORDER', 'REFERRAL_REWARD', 'ADMIN_USER', 'USER'] as const;
export type ReferenceType = (typeof REFERENCE_TYPES)[number];

/** Credits one hold reserves: one inventory costs one credit (DESIGN.md "Data"). */
export const CREDITS_PER_INVENTORY = 1;

/**
 * Parses a USD→MXN rate written in decimal ("17.0", "17.254321": MXN per USD, at most six
 * decimals) into millionths of a peso per dollar, an exact integer (17.0 → 17_000_000n).
 *
 * @throws Error when the text is not a positive decimal with at most six decimals.
 */
export function parseUsdMxnRate(rate: string): bigint {
  const match = /^(\d{1,6})(?:\.(\d{1,6}))?$/.exec(rate.trim());
  if (!match) throw new Error(`invalid USD→MXN rate "${rate}"`);
  const millionths = BigInt(match[1]!) * 1_000_000n + BigInt((match[2] ?? '').padEnd(6, '0'));
  if (millionths <= 0n) throw new Error(`invalid USD→MXN rate "${rate}": must be positive`);
  return millionths;
}

/**
 * Converts a cost in USD micro-dollars (1 USD = 1,000,000) to MXN centavos (1 MXN = 100) at
 * a rate in millionths of a peso per dollar (see {@link parseUsdMxnRate}), in integers only:
 *
 *     centavos = micros × rate / 10^10, rounded half up to the nearest centavo
 *
 * (micros / 10^6 dollars × rate / 10^6 pesos per dollar × 100 centavos per peso). Half-up
 * is the usual commercial rounding; each COGS row is rounded once, so a session's total is the
 * sum of its rows' rounded costs. Example: 1,234,567 µUSD at 17.0 → 2,098.76… → 2,099 centavos.
 *
 * @throws RangeError when `micros` is negative or not an integer.
 */
export function usdMicrosToMxnCentavos(micros: number | bigint, rateMillionths: bigint): number {
  if (typeof micros === 'number' && !Number.isSafeInteger(micros)) {
    throw new RangeError('costUsdMicros must be an integer');
  }
  const value = BigInt(micros);
  if (value < 0n) throw new RangeError('costUsdMicros must not be negative');
  return Number((value * rateMillionths + 5_000_000_000n) / 10_000_000_000n);
}

/** A package's price and size (integers). */
export interface PackagePrice {
  credits: number;
  priceCentavos: number;
}

/**
 * Revenue credited to one inventory (one committed credit) for margins: the price per
 * credit of the cheapest active package, rounded down to the centavo (20 credits for 44,900
 * centavos → 2,245 centavos per credit); null when no package is active.
 *
 * Why this rule: credits are fungible (a session's credit cannot be traced to one purchase),
 * free credits (welcome, referral) would make a per-wallet average swing with marketing, and the
 * cheapest price anyone can pay today gives a floor: the margin reported is never flattering.
 * It is read at query time, so margins follow the current price list.
 */
export function revenuePerCreditCentavos(packages: readonly PackagePrice[]): number | null {
  let best: number | null = null;
  for (const pkg of packages) {
    if (pkg.credits <= 0) continue;
    const perCredit = Math.floor(pkg.priceCentavos / pkg.credits);
    if (best === null || perCredit < best) best = perCredit;
  }
  return best;
}
