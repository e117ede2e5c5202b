import { z } from 'zod';
import { LEDGER_TYPES } from './credit-rules.js';
import type {
  CreditPackage,
  CreditTotals,
  LedgerEntry,
  LedgerPage,
  SessionCost,
  StaleHold,
  Wallet,
} from './credits.service.js';

/** A uuid path parameter. */
export { UuidParamSchema } from '../../common/http/params.js';

const ledgerType = z.enum(LEDGER_TYPES);

/** `GET /credits/wallet`: my wallet, in credits. */
export const WalletViewSchema = z
  .object({
    id: z.uuid(),
    balance: z.number().int().describe('credits owned, held ones included'),
    held: z.number().int().describe('credits reserved by inventories in progress'),
    available: z.number().int().describe('balance − held: credits that can start an inventory'),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'CreditWallet' });

/** One ledger row as its owner sees it. */
export const LedgerEntryViewSchema = z
  .object({
    id: z.uuid(),
    type: ledgerType,
    amount: z.number().int().describe('change of the balance, credits (HOLD and HOLD_VOID: 0)'),
    heldDelta: z.number().int().describe('change of the held credits (HOLD +1, HOLD_COMMIT and HOLD_VOID −1)'),
    balanceAfter: z.number().int(),
    heldAfter: z.number().int(),
    availableAfter: z.number().int(),
    referenceType: z
      .string()
      .nullable()
      .describe('INVENTORY_SESSION, PAYMENT_ORDER, REFERRAL_REWARD, ADMIN_USER or USER'),
    referenceId: z.string().nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'CreditTransaction' });

/** A ledger row with what only admins see: key, actor and metadata (e.g. an adjustment's reason). */
export const AdminLedgerEntryViewSchema = LedgerEntryViewSchema.extend({
  walletId: z.uuid(),
  userId: z.uuid(),
  idempotencyKey: z.string(),
  createdBy: z.uuid().nullable().describe('the actor: a user id, or the SYSTEM id 00000000-…'),
  metadata: z.record(z.string(), z.unknown()),
}).meta({ id: 'AdminCreditTransaction' });

/** `GET /credits/transactions`: a page, newest first. */
export const LedgerPageSchema = z
  .object({
    items: z.array(LedgerEntryViewSchema),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next (older) page; null at the end'),
  })
  .meta({ id: 'CreditTransactionPage' });

export const AdminLedgerPageSchema = z
  .object({ items: z.array(AdminLedgerEntryViewSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'AdminCreditTransactionPage' });

/** Query of the transaction lists. */
export const TransactionsQuerySchema = z
  .strictObject({
    limit: z.coerce.number().int().min(1).max(100).default(20).describe('rows per page, 1–100'),
    cursor: z
      .string()
      .regex(/^\d{1,18}$/, 'a nextCursor value')
      .optional()
      .describe('nextCursor of the previous page'),
    type: ledgerType.optional().describe('only rows of this type'),
  })
  .meta({ id: 'CreditTransactionsQuery' });
export type TransactionsQueryDto = z.infer<typeof TransactionsQuerySchema>;

/** OpenAPI descriptions of {@link TransactionsQuerySchema} (query schemas are not documented by themselves). */
export const TRANSACTIONS_QUERY_DOCS = {
  limit: {
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    description: 'rows per page',
  },
  cursor: {
    name: 'cursor',
    required: false,
    schema: { type: 'string', pattern: '^\\d{1,18}$' },
    description: 'nextCursor of the previous page',
  },
  type: {
    name: 'type',
    required: false,
    enum: [...LEDGER_TYPES],
    description: 'only rows of this type',
  },
} as const;

/** A credit package: price in MXN centavos (formatting for es-MX is the client's). */
export const PackageViewSchema = z
  .object({
    id: z.uuid(),
    code: z.string(),
    name: z.string(),
    credits: z.number().int(),
    priceCentavos: z.number().int().describe('MXN centavos: 2900 = $29.00'),
    currency: z.string(),
    active: z.boolean(),
    sortOrder: z.number().int(),
  })
  .meta({ id: 'CreditPackage' });

export const PackageListSchema = z.object({ items: z.array(PackageViewSchema) }).meta({ id: 'CreditPackageList' });

/** `POST /admin/credits/packages` body. */
export const CreatePackageSchema = z
  .strictObject({
    code: z
      .string()
      .trim()
      .regex(/^[A-Z0-9_]{2,40}$/, '2–40 capital letters, digits or _')
      .describe('stable identifier, e.g. CREDITS_50'),
    name: z.string().trim().min(1).max(80),
    credits: z.number().int().min(1).max(10_000),
    priceCentavos: z.number().int().min(1).max(100_000_000).describe('MXN centavos'),
    active: z.boolean().default(true),
    sortOrder: z.number().int().min(0).max(1_000_000).default(0),
  })
  .meta({ id: 'CreateCreditPackage' });
export type CreatePackageDto = z.infer<typeof CreatePackageSchema>;

/** `PATCH /admin/credits/packages/{id}` body: at least one field. */
export const UpdatePackageSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(80).optional(),
    credits: z.number().int().min(1).max(10_000).optional(),
    priceCentavos: z.number().int().min(1).max(100_000_000).optional(),
    active: z.boolean().optional(),
    sortOrder: z.number().int().min(0).max(1_000_000).optional(),
  })
  .refine((value) => Object.keys(value).length > 0, { message: 'nothing to change' })
  .meta({ id: 'UpdateCreditPackage' });
export type UpdatePackageDto = z.infer<typeof UpdatePackageSchema>;

/** `POST /admin/credits/wallets/{userId}/adjustments` body. */
export const AdjustSchema = z
  .strictObject({
    credits: z
      .number()
      .int()
      .min(-10_000)
      .max(10_000)
      .refine((value) => value !== 0, 'must not be 0')
      .describe('credits to add (> 0) or remove (< 0); held credits cannot be removed'),
    reason: z.string().trim().min(3).max(500).describe('why; kept in the ledger and the audit log'),
    idempotencyKey: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{8,100}$/, '8–100 letters, digits or _ . : -')
      .optional()
      .describe('sending the same key again returns the first adjustment and changes nothing'),
  })
  .meta({ id: 'CreditAdjustment' });
export type AdjustDto = z.infer<typeof AdjustSchema>;

/** `GET /admin/credits/wallets/{userId}`: a wallet with a page of its rows. */
export const AdminWalletSchema = z
  .object({ userId: z.uuid(), wallet: WalletViewSchema, transactions: AdminLedgerPageSchema })
  .meta({ id: 'AdminCreditWallet' });

/** `GET /admin/credits/totals`. */
export const TotalsSchema = z
  .object({
    wallets: z.number().int(),
    balance: z.number().int().describe('credits in all wallets'),
    held: z.number().int(),
    available: z.number().int(),
    granted: z.number().int().describe('credits ever added (welcome, purchases, referrals, positive adjustments)'),
    spent: z.number().int().describe('credits consumed by committed inventories'),
    removed: z.number().int().describe('credits removed by admin adjustments'),
    byType: z.array(
      z.object({
        type: ledgerType,
        transactions: z.number().int(),
        amount: z.number().int().describe('Σ change of balance'),
        heldDelta: z.number().int().describe('Σ change of held'),
      }),
    ),
  })
  .meta({ id: 'CreditTotals' });

/** `GET /admin/credits/holds/stale` query. */
export const StaleHoldsQuerySchema = z
  .strictObject({
    olderThanMinutes: z.coerce
      .number()
      .int()
      .min(0)
      .max(60 * 24 * 365)
      .optional()
      .describe('default: CREDIT_HOLD_STALE_MINUTES'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .meta({ id: 'StaleHoldsQuery' });
export type StaleHoldsQueryDto = z.infer<typeof StaleHoldsQuerySchema>;

/** OpenAPI descriptions of {@link StaleHoldsQuerySchema}. */
export const STALE_HOLDS_QUERY_DOCS = {
  olderThanMinutes: {
    name: 'olderThanMinutes',
    required: false,
    schema: { type: 'integer', minimum: 0 },
    description: 'default: CREDIT_HOLD_STALE_MINUTES',
  },
  limit: { name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
} as const;

export const StaleHoldListSchema = z
  .object({
    olderThanMinutes: z.number().int(),
    total: z.number().int().describe('all stale holds (items is at most `limit` of them, oldest first)'),
    items: z.array(
      z.object({
        transactionId: z.uuid(),
        walletId: z.uuid(),
        userId: z.uuid(),
        sessionId: z.string(),
        createdAt: z.iso.datetime(),
        createdBy: z.uuid().nullable(),
        ageMinutes: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'StaleHoldList' });

/** `GET /admin/credits/sessions/{sessionId}/cost`. */
export const SessionCostSchema = z
  .object({
    sessionId: z.uuid(),
    calls: z.number().int(),
    units: z.number().int(),
    costUsdMicros: z.number().int().describe('USD × 1,000,000'),
    costMxnCentavos: z.number().int(),
    holdState: z.enum(['NONE', 'HELD', 'COMMITTED', 'VOIDED']),
    revenuePerCreditCentavos: z
      .number()
      .int()
      .nullable()
      .describe('cheapest active package price per credit, rounded down; null without packages'),
    revenueCentavos: z.number().int().describe('one credit when the hold was committed, else 0'),
    marginCentavos: z.number().int().nullable(),
  })
  .meta({ id: 'SessionCost' });

// ---------------------------------------------------------------- views

export function toWalletView(wallet: Wallet): z.infer<typeof WalletViewSchema> {
  return {
    id: wallet.id,
    balance: wallet.balance,
    held: wallet.held,
    available: wallet.available,
    updatedAt: wallet.updatedAt.toISOString(),
  };
}

export function toLedgerEntryView(entry: LedgerEntry): z.infer<typeof LedgerEntryViewSchema> {
  return {
    id: entry.id,
    type: entry.type,
    amount: entry.amount,
    heldDelta: entry.heldDelta,
    balanceAfter: entry.balanceAfter,
    heldAfter: entry.heldAfter,
    availableAfter: entry.balanceAfter - entry.heldAfter,
    referenceType: entry.referenceType,
    referenceId: entry.referenceId,
    createdAt: entry.createdAt.toISOString(),
  };
}

export function toAdminLedgerEntryView(entry: LedgerEntry): z.infer<typeof AdminLedgerEntryViewSchema> {
  return {
    ...toLedgerEntryView(entry),
    walletId: entry.walletId,
    userId: entry.userId,
    idempotencyKey: entry.idempotencyKey,
    createdBy: entry.createdBy,
    metadata: entry.metadata,
  };
}

export function toLedgerPageView(page: LedgerPage): z.infer<typeof LedgerPageSchema> {
  return { items: page.items.map(toLedgerEntryView), nextCursor: page.nextCursor };
}

export function toAdminLedgerPageView(page: LedgerPage): z.infer<typeof AdminLedgerPageSchema> {
  return { items: page.items.map(toAdminLedgerEntryView), nextCursor: page.nextCursor };
}

export function toPackageView(pkg: CreditPackage): z.infer<typeof PackageViewSchema> {
  return {
    id: pkg.id,
    code: pkg.code,
    name: pkg.name,
    credits: pkg.credits,
    priceCentavos: pkg.priceCentavos,
    currency: pkg.currency,
    active: pkg.active,
    sortOrder: pkg.sortOrder,
  };
}

export function toTotalsView(totals: CreditTotals): z.infer<typeof TotalsSchema> {
  return totals;
}

export function toStaleHoldListView(list: {
  olderThanMinutes: number;
  total: number;
  items: StaleHold[];
}): z.infer<typeof StaleHoldListSchema> {
  return {
    olderThanMinutes: list.olderThanMinutes,
    total: list.total,
    items: list.items.map((hold) => ({ ...hold, createdAt: hold.createdAt.toISOString() })),
  };
}

export function toSessionCostView(cost: SessionCost): z.infer<typeof SessionCostSchema> {
  return cost;
}
