import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { currentContext } from '../../common/http/request-context.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { SYSTEM_USER_ID } from '../../database/database.constants.js';
import { TransactionService } from '../../database/transaction.service.js';
import { AuditService } from '../audit/audit.service.js';
import {
  CREDITS_PER_INVENTORY,
  GRANT_TYPES,
  parseUsdMxnRate,
  revenuePerCreditCentavos,
  usdMicrosToMxnCentavos,
  type GrantType,
  type LedgerType,
} from './credit-rules.js';
import {
  CreditsRepository,
  type CogsRow,
  type LedgerRow,
  type LedgerWrite,
  type PackageRow,
  type ReplayMatch,
  type WalletRow,
} from './credits.repository.js';

/** One row of the ledger. Credits are integers; see the migration `CreditsLedger1764400100000` for signs. */
export interface LedgerEntry {
  id: string;
  /** Order in which rows were applied (bigint as text); also the pagination cursor. */
  seq: string;
  walletId: string;
  /** Owner of the wallet. */
  userId: string;
  type: LedgerType;
  /** Change of the balance, credits (HOLD, HOLD_VOID: 0; HOLD_COMMIT: −1). */
  amount: number;
  /** Change of the held amount, credits (HOLD: +1; HOLD_COMMIT, HOLD_VOID: −1; others 0). */
  heldDelta: number;
  balanceAfter: number;
  heldAfter: number;
  /** INVENTORY_SESSION, PAYMENT_ORDER, REFERRAL_REWARD, ADMIN_USER or USER (welcome). */
  referenceType: string | null;
  referenceId: string | null;
  idempotencyKey: string;
  metadata: Record<string, unknown>;
  /** The actor: the user whose request wrote it, or the SYSTEM id for workers and sign-up. */
  createdBy: string | null;
  createdAt: Date;
}

/** A wallet in credits; available = balance − held (never negative). */
export interface Wallet {
  id: string;
  userId: string;
  balance: number;
  held: number;
  available: number;
  updatedAt: Date;
}

/** A page of ledger rows, newest first; pass `nextCursor` as `cursor` for the next page. */
export interface LedgerPage {
  items: LedgerEntry[];
  nextCursor: string | null;
}

/** A credit package; price in MXN centavos. */
export interface CreditPackage {
  id: string;
  code: string;
  name: string;
  credits: number;
  priceCentavos: number;
  currency: string;
  active: boolean;
  sortOrder: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Input of {@link CreditsService.grant}. */
export interface GrantInput {
  walletId: string;
  /** PURCHASE (payments) or REFERRAL_REWARD (referrals). */
  type: GrantType;
  /** Credits added, a positive integer. */
  credits: number;
  /** The payment order (PURCHASE) or referral reward (REFERRAL_REWARD) id. */
  referenceId: string;
  /** Unique per grant, namespaced by the caller (e.g. `purchase:<orderId>`). */
  idempotencyKey: string;
  metadata?: Record<string, unknown>;
}

/** Input of {@link CreditsService.adjust}. */
export interface AdjustInput {
  userId: string;
  /** Credits added (> 0) or removed (< 0); never 0. */
  credits: number;
  /** Why (required, kept in the ledger row and the audit log). */
  reason: string;
  /** Client key: the same admin sending the same key again gets the first result. */
  idempotencyKey?: string;
}

/** Input of {@link CreditsService.recordCogs}: one provider call (or one session's total). */
export interface CogsInput {
  sessionId?: string | null;
  storeId: string | null;
  provider: string;
  model?: string | null;
  /** Images / frames sent. */
  units: number;
  /** Cost in USD micro-dollars (1 USD = 1,000,000), an integer ≥ 0. */
  costUsdMicros: number;
  operation?: string;
  inputTokens?: number | null;
  outputTokens?: number | null;
  attempt?: number | null;
  success?: boolean;
  errorCode?: string | null;
  latencyMs?: number | null;
  /** Makes a retried record a no-op (e.g. `<sessionId>:<attempt>:<batch>`). */
  idempotencyKey?: string | null;
  metadata?: Record<string, unknown>;
}

/** A stored COGS record. */
export interface CogsRecord {
  id: string;
  sessionId: string | null;
  storeId: string | null;
  provider: string;
  model: string | null;
  units: number;
  costUsdMicros: number;
  /** The MXN per USD rate used, as stored (numeric text). */
  usdMxnRate: string | null;
  costMxnCentavos: number;
  createdAt: Date;
}

/** State of a session's credit: no hold, held, committed (READY) or voided (FAILED). */
export type HoldState = 'NONE' | 'HELD' | 'COMMITTED' | 'VOIDED';

/** Cost and margin of one inventory session, in integers. */
export interface SessionCost {
  sessionId: string;
  /** COGS rows (provider calls). */
  calls: number;
  units: number;
  costUsdMicros: number;
  costMxnCentavos: number;
  holdState: HoldState;
  /** See {@link revenuePerCreditCentavos}; null when no package is active. */
  revenuePerCreditCentavos: number | null;
  /** Revenue of the session: one credit's revenue when its hold was committed, else 0. */
  revenueCentavos: number;
  /** revenueCentavos − costMxnCentavos; null when the revenue per credit is unknown. */
  marginCentavos: number | null;
}

/** A hold older than the stale threshold without commit or void. */
export interface StaleHold {
  transactionId: string;
  walletId: string;
  userId: string;
  sessionId: string;
  createdAt: Date;
  createdBy: string | null;
  ageMinutes: number;
}

/** Ledger totals for the admin panel (credits). */
export interface CreditTotals {
  wallets: number;
  balance: number;
  held: number;
  available: number;
  /** Credits added by every positive row (welcome, purchases, referrals, positive adjustments). */
  granted: number;
  /** Credits consumed by committed holds. */
  spent: number;
  /** Credits removed by negative admin adjustments. */
  removed: number;
  byType: Array<{ type: LedgerType; transactions: number; amount: number; heldDelta: number }>;
}

const MAX_CREDITS_PER_WRITE = 1_000_000;

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    id: row.id,
    seq: row.seq,
    walletId: row.wallet_id,
    userId: row.user_id,
    type: row.type,
    amount: row.amount,
    heldDelta: row.held_delta,
    balanceAfter: row.balance_after,
    heldAfter: row.held_after,
    referenceType: row.reference_type,
    referenceId: row.reference_id,
    idempotencyKey: row.idempotency_key,
    metadata: row.metadata,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function toWallet(row: WalletRow): Wallet {
  return {
    id: row.id,
    userId: row.user_id,
    balance: row.balance,
    held: row.held,
    available: row.balance - row.held,
    updatedAt: row.updated_at,
  };
}

function toPackage(row: PackageRow): CreditPackage {
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    credits: row.credits,
    priceCentavos: row.price_centavos,
    currency: row.currency,
    active: row.active,
    sortOrder: row.sort_order,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toCogs(row: CogsRow): CogsRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    storeId: row.store_id,
    provider: row.provider,
    model: row.model,
    units: row.units,
    costUsdMicros: Number(row.cost_usd_micros),
    usdMxnRate: row.usd_mxn_rate,
    costMxnCentavos: row.cost_mxn_centavos,
    createdAt: row.created_at,
  };
}

function assertCredits(credits: number, what: string, allowNegative = false): void {
  const valid =
    Number.isSafeInteger(credits) &&
    credits !== 0 &&
    Math.abs(credits) <= MAX_CREDITS_PER_WRITE &&
    (allowNegative || credits > 0);
  if (!valid) {
    throw new DomainException(
      'VALIDATION_FAILED',
      `${what} must be ${allowNegative ? 'a non-zero' : 'a positive'} integer.`,
      [
        {
          field: 'credits',
          message: `must be ${allowNegative ? 'a non-zero' : 'a positive'} integer up to ${MAX_CREDITS_PER_WRITE}`,
        },
      ],
    );
  }
}

/**
 * The credits ledger (DESIGN.md "Data", issue 4): one wallet per user, an append-only
 * ledger, holds for inventory sessions, packages, welcome credits and COGS records.
 *
 * **Units and signs.** Credits are integers. A wallet has `balance` and `held`; available =
 * balance − held, never negative (CHECKs on the table, checked here first so an overdraft is
 * INSUFFICIENT_CREDITS, not a 500). Every ledger row stores `amount` (change of balance),
 * `heldDelta` (change of held) and the wallet's balance and held after it, so for every wallet
 * balance = Σ amount and held = Σ heldDelta:
 * WELCOME/PURCHASE/REFERRAL_REWARD +n / 0, ADMIN_ADJUSTMENT ±n / 0, HOLD 0 / +1,
 * HOLD_COMMIT −1 / −1, HOLD_VOID 0 / −1.
 *
 * **Idempotency.** Every write carries an idempotency key (UNIQUE in the table). The same key
 * again writes nothing and returns the first row — also when the two calls race: writes lock
 * the wallet row first, so the second one waits and then sees the first one's row. A key
 * reused for a different operation is IDEMPOTENCY_KEY_REUSED (409).
 *
 * **Holds.** `hold` reserves one credit for an inventory session (at most one hold per
 * session); `commit` (report READY) spends it, `void` (FAILED) releases it; each happens at
 * most once and they exclude each other (HOLD_ALREADY_VOIDED / HOLD_ALREADY_COMMITTED).
 * Holds left open longer than CREDIT_HOLD_STALE_MINUTES are reported by {@link staleHolds}.
 *
 * **Identity.** Ledger writes run as SYSTEM inside the caller's transaction
 * (`TransactionService.elevate`): an OPERATOR spends the store owner's credits, which row-level
 * security hides from them. Callers check access first (the store's membership, the admin
 * role); `createdBy` records the caller. Outside any transaction a SYSTEM one is opened.
 *
 * **Locks.** One wallet per operation, locked with `SELECT … FOR UPDATE`; operations on
 * several wallets ({@link grantMany}) lock them in ascending id order, so no two transactions
 * can deadlock on wallets.
 */
@Injectable()
export class CreditsService {
  private readonly rateMillionths: bigint;

  constructor(
    private readonly ledger: CreditsRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.rateMillionths = parseUsdMxnRate(config.USD_MXN_RATE);
  }

  // ---------------------------------------------------------------- wallets

  /** Opens the wallet of a new user (idempotent); returns the wallet id. Runs in the caller's transaction. */
  openWallet(userId: string): Promise<string> {
    return this.ledger.openWallet(userId);
  }

  /**
   * Grants the welcome credits once per user: the `welcome_credits` setting (admin.settings,
   * an integer; 1 when absent or not a non-negative integer), key `welcome:<userId>`. Opens the
   * wallet if needed. Returns the WELCOME row (the first one on a replay), or null when the
   * setting is 0.
   */
  async grantWelcome(userId: string): Promise<LedgerEntry | null> {
    return this.asSystem(async (actor) => {
      const setting = await this.ledger.readSetting('welcome_credits');
      const credits =
        typeof setting === 'number' && Number.isSafeInteger(setting) && setting >= 0 && setting <= 1000 ? setting : 1;
      if (credits === 0) return null;
      const walletId = await this.ledger.openWallet(userId);
      const { entry } = await this.writeOne(
        {
          walletId,
          type: 'WELCOME',
          amount: credits,
          heldDelta: 0,
          referenceType: 'USER',
          referenceId: userId,
          idempotencyKey: `welcome:${userId}`,
          metadata: {},
          createdBy: actor,
        },
        'key',
        { compareAmount: false },
      );
      return entry;
    });
  }

  /**
   * The wallet of `userId` as the caller may see it (row-level security: one's own; ADMIN: any).
   *
   * @throws NotFoundDomainException NOT_FOUND when there is none (or it is not visible).
   */
  async getWallet(userId: string): Promise<Wallet> {
    const row = await this.ledger.findWalletByUser(userId);
    if (!row) throw new NotFoundDomainException('Wallet');
    return toWallet(row);
  }

  /**
   * Ledger rows of `userId`'s wallet, newest first, optionally of one type; `cursor` is the
   * `nextCursor` of the previous page; `limit` 1–100.
   *
   * @throws NotFoundDomainException NOT_FOUND when the wallet is not visible to the caller.
   */
  async listTransactions(
    userId: string,
    query: { type?: LedgerType; cursor?: string; limit: number },
  ): Promise<LedgerPage> {
    const wallet = await this.ledger.findWalletByUser(userId);
    if (!wallet) throw new NotFoundDomainException('Wallet');
    const limit = Math.min(Math.max(Math.trunc(query.limit), 1), 100);
    const rows = await this.ledger.listTransactions({
      walletId: wallet.id,
      type: query.type,
      beforeSeq: query.cursor,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      items: page.map(toEntry),
      nextCursor: rows.length > limit ? page[page.length - 1]!.seq : null,
    };
  }

  /**
   * A user's wallet with a page of its rows (ADMIN: row-level security shows every wallet).
   *
   * @throws NotFoundDomainException NOT_FOUND when the user has no wallet.
   */
  async walletWithTransactions(
    userId: string,
    query: { type?: LedgerType; cursor?: string; limit: number },
  ): Promise<{ wallet: Wallet; transactions: LedgerPage }> {
    const wallet = await this.getWallet(userId);
    return { wallet, transactions: await this.listTransactions(userId, query) };
  }

  /**
   * The wallet id of `userId` (e.g. a store's paying owner, from StoreAccessService), read as
   * SYSTEM: an OPERATOR spends the owner's credits but may not read the owner's wallet.
   *
   * @throws NotFoundDomainException NOT_FOUND when the account has no wallet.
   */
  async walletForUser(userId: string): Promise<string> {
    const wallet = await this.asSystem(() => this.ledger.findWalletByUser(userId));
    if (!wallet) throw new NotFoundDomainException('Wallet');
    return wallet.id;
  }

  // ---------------------------------------------------------------- grants and adjustments

  /**
   * Adds credits for a purchase (payments) or a referral reward (referrals), once per
   * idempotency key. Returns the ledger row (the first one on a replay).
   *
   * @throws DomainException VALIDATION_FAILED (credits not a positive integer, wrong type),
   *   NOT_FOUND (wallet), IDEMPOTENCY_KEY_REUSED (key used for another wallet, type, amount or reference).
   */
  async grant(input: GrantInput): Promise<LedgerEntry> {
    const [entry] = await this.grantMany([input]);
    return entry!;
  }

  /**
   * Several grants in one transaction (e.g. a referral rewarding both people): every wallet is
   * locked first, in ascending id order, so concurrent batches over overlapping wallets queue
   * instead of deadlocking. All or nothing. Returns the rows in the order given.
   *
   * @throws DomainException as {@link grant}.
   */
  async grantMany(inputs: GrantInput[]): Promise<LedgerEntry[]> {
    for (const input of inputs) {
      if (!GRANT_TYPES.includes(input.type)) {
        throw new DomainException('VALIDATION_FAILED', `Grant type must be one of ${GRANT_TYPES.join(', ')}.`);
      }
      assertCredits(input.credits, 'A grant');
    }
    return this.asSystem(async (actor) => {
      const walletIds = [...new Set(inputs.map((input) => input.walletId))];
      // One wallet: the write itself locks it. Several: all of them first, in id order.
      if (walletIds.length > 1) {
        const locked = await this.ledger.lockWallets(walletIds);
        if (locked.length !== walletIds.length) throw new NotFoundDomainException('Wallet');
      }
      const entries: LedgerEntry[] = [];
      for (const input of inputs) {
        const { entry } = await this.writeOne(
          {
            walletId: input.walletId,
            type: input.type,
            amount: input.credits,
            heldDelta: 0,
            referenceType: input.type === 'PURCHASE' ? 'PAYMENT_ORDER' : 'REFERRAL_REWARD',
            referenceId: input.referenceId,
            idempotencyKey: input.idempotencyKey,
            metadata: input.metadata ?? {},
            createdBy: actor,
          },
          'key',
          { compareAmount: true },
        );
        entries.push(entry);
      }
      return entries;
    });
  }

  /**
   * Admin adjustment of a user's wallet (ADMIN_ADJUSTMENT, reference ADMIN_USER = the caller),
   * with a required reason; audited (`credits.adjusted`) when written. Removing credits can
   * never touch held ones. The admin's `idempotencyKey` is namespaced by the admin's id; without
   * one, every call is a new adjustment.
   *
   * @throws DomainException VALIDATION_FAILED (credits 0 or not an integer, empty reason),
   *   INSUFFICIENT_CREDITS (402: would leave available < 0), IDEMPOTENCY_KEY_REUSED (key used
   *   for another adjustment).
   */
  async adjust(input: AdjustInput): Promise<LedgerEntry> {
    assertCredits(input.credits, 'An adjustment', true);
    const reason = input.reason.trim();
    if (reason.length === 0) {
      throw new DomainException('VALIDATION_FAILED', 'A reason is required.', [
        { field: 'reason', message: 'required' },
      ]);
    }
    const admin = currentContext()?.identity?.userId ?? SYSTEM_USER_ID;
    const key = input.idempotencyKey ? `admin-adjust:${admin}:${input.idempotencyKey}` : `admin-adjust:${randomUUID()}`;
    const { entry, created } = await this.asSystem(async (actor) => {
      let walletId: string;
      try {
        walletId = await this.ledger.openWallet(input.userId);
      } catch (error) {
        // 23503 foreign_key_violation: no such account (the wallet's user_id references it).
        if (
          (error as { code?: string; driverError?: { code?: string } }).code === '23503' ||
          (error as { driverError?: { code?: string } }).driverError?.code === '23503'
        ) {
          throw new NotFoundDomainException('Account');
        }
        throw error;
      }
      return this.writeOne(
        {
          walletId,
          type: 'ADMIN_ADJUSTMENT',
          amount: input.credits,
          heldDelta: 0,
          referenceType: 'ADMIN_USER',
          referenceId: actor,
          idempotencyKey: key,
          metadata: { reason },
          createdBy: actor,
        },
        'key',
        { compareAmount: true },
      );
    });
    if (created) {
      await this.audit.record({
        action: 'credits.adjusted',
        targetType: 'user',
        targetId: input.userId,
        metadata: {
          walletId: entry.walletId,
          transactionId: entry.id,
          credits: input.credits,
          reason,
          balanceAfter: entry.balanceAfter,
        },
      });
    }
    return entry;
  }

  // ---------------------------------------------------------------- holds

  /**
   * Reserves one credit of `walletId` for inventory session `sessionId` (HOLD, held +1). At
   * most one hold per session: a replay (same key, or any hold already recorded for the session
   * on this wallet) returns the first row and writes nothing.
   *
   * @param idempotencyKey default `hold:<sessionId>`.
   * @throws DomainException INSUFFICIENT_CREDITS (402) when available < 1; NOT_FOUND (wallet);
   *   CONFLICT when the session already holds a credit of another wallet; IDEMPOTENCY_KEY_REUSED.
   */
  async hold(walletId: string, sessionId: string, idempotencyKey?: string): Promise<LedgerEntry> {
    return this.asSystem(async (actor) => {
      const { entry } = await this.writeOne(
        {
          walletId,
          type: 'HOLD',
          amount: 0,
          heldDelta: CREDITS_PER_INVENTORY,
          referenceType: 'INVENTORY_SESSION',
          referenceId: sessionId,
          idempotencyKey: idempotencyKey ?? `hold:${sessionId}`,
          metadata: {},
          createdBy: actor,
        },
        'hold',
        { compareAmount: true },
      );
      return entry;
    });
  }

  /**
   * Spends the session's held credit (HOLD_COMMIT: balance −1, held −1), when its report is
   * READY. Once per hold: a replay returns the first HOLD_COMMIT.
   *
   * @throws DomainException NOT_FOUND (the session has no hold), HOLD_ALREADY_VOIDED (409).
   */
  commit(sessionId: string): Promise<LedgerEntry> {
    return this.finish(sessionId, 'HOLD_COMMIT');
  }

  /**
   * Releases the session's held credit (HOLD_VOID: held −1), when it FAILED. Once per hold: a
   * replay returns the first HOLD_VOID.
   *
   * @param reason the failure code, kept in the row's metadata.
   * @throws DomainException NOT_FOUND (the session has no hold), HOLD_ALREADY_COMMITTED (409).
   */
  void(sessionId: string, reason?: string): Promise<LedgerEntry> {
    return this.finish(sessionId, 'HOLD_VOID', reason);
  }

  /**
   * Holds created more than `olderThanMinutes` ago (default CREDIT_HOLD_STALE_MINUTES) with
   * neither commit nor void, oldest first: for admins to investigate (never voided here).
   */
  async staleHolds(options: { olderThanMinutes?: number; limit: number }): Promise<{
    olderThanMinutes: number;
    total: number;
    items: StaleHold[];
  }> {
    const minutes = options.olderThanMinutes ?? this.config.CREDIT_HOLD_STALE_MINUTES;
    const now = this.clock.now();
    const cutoff = new Date(now.getTime() - minutes * 60_000);
    const { rows, total } = await this.asSystem(() => this.ledger.staleHolds(cutoff, options.limit));
    return {
      olderThanMinutes: minutes,
      total,
      items: rows.map((row) => ({
        transactionId: row.id,
        walletId: row.wallet_id,
        userId: row.user_id,
        sessionId: row.reference_id!,
        createdAt: row.created_at,
        createdBy: row.created_by,
        ageMinutes: Math.floor((now.getTime() - row.created_at.getTime()) / 60_000),
      })),
    };
  }

  // ---------------------------------------------------------------- packages

  /** Credit packages, by sort order; `activeOnly` for the public price list. Any identity may read them. */
  async listPackages(activeOnly: boolean): Promise<CreditPackage[]> {
    return (await this.ledger.listPackages(activeOnly)).map(toPackage);
  }

  /**
   * Creates a package (ADMIN; audited). Price in MXN centavos.
   *
   * @throws DomainException CONFLICT when the code exists.
   */
  async createPackage(input: {
    code: string;
    name: string;
    credits: number;
    priceCentavos: number;
    active: boolean;
    sortOrder: number;
  }): Promise<CreditPackage> {
    const created = toPackage(await this.ledger.insertPackage(input));
    await this.audit.record({
      action: 'credits.package_created',
      targetType: 'credit_package',
      targetId: created.id,
      metadata: { ...input },
    });
    return created;
  }

  /**
   * Changes a package's name, size, price (centavos), state or order (ADMIN; audited).
   *
   * @throws NotFoundDomainException NOT_FOUND.
   */
  async updatePackage(
    id: string,
    changes: Partial<{ name: string; credits: number; priceCentavos: number; active: boolean; sortOrder: number }>,
  ): Promise<CreditPackage> {
    const row = await this.ledger.updatePackage(id, changes);
    if (!row) throw new NotFoundDomainException('Package');
    await this.audit.record({
      action: 'credits.package_updated',
      targetType: 'credit_package',
      targetId: id,
      metadata: { ...changes },
    });
    return toPackage(row);
  }

  /**
   * Deletes a package no payment order refers to (ADMIN; audited).
   *
   * @throws DomainException NOT_FOUND, CONFLICT (referenced: deactivate it instead).
   */
  async deletePackage(id: string): Promise<void> {
    const row = await this.ledger.deletePackage(id);
    if (!row) throw new NotFoundDomainException('Package');
    await this.audit.record({
      action: 'credits.package_deleted',
      targetType: 'credit_package',
      targetId: id,
      metadata: { code: row.code, credits: row.credits, priceCentavos: row.price_centavos },
    });
  }

  // ---------------------------------------------------------------- reports

  /** Totals of the whole ledger (ADMIN): wallets, balances, and per type rows and credits. */
  async totals(): Promise<CreditTotals> {
    const [byType, wallets] = await this.asSystem(
      async () => [await this.ledger.totalsByType(), await this.ledger.walletTotals()] as const,
    );
    const sum = (select: (row: (typeof byType)[number]) => number) => byType.reduce((acc, row) => acc + select(row), 0);
    const balance = Number(wallets.balance);
    const held = Number(wallets.held);
    return {
      wallets: wallets.wallets,
      balance,
      held,
      available: balance - held,
      granted: sum((row) => Number(row.added)),
      spent: sum((row) => (row.type === 'HOLD_COMMIT' ? Number(row.removed) : 0)),
      removed: sum((row) => (row.type === 'ADMIN_ADJUSTMENT' ? Number(row.removed) : 0)),
      byType: byType.map((row) => ({
        type: row.type,
        transactions: row.transactions,
        amount: Number(row.amount),
        heldDelta: Number(row.held_delta),
      })),
    };
  }

  // ---------------------------------------------------------------- COGS

  /**
   * Records the cost of a provider call (or of a session) in `billing.cogs_records`, as SYSTEM.
   * USD micro-dollars are converted to MXN centavos at USD_MXN_RATE, rounded half up (see
   * {@link usdMicrosToMxnCentavos}); the rate used is stored with the row. With an idempotency
   * key already used, returns the first record and writes nothing.
   *
   * @throws DomainException VALIDATION_FAILED (negative or non-integer units or cost).
   */
  async recordCogs(input: CogsInput): Promise<CogsRecord> {
    if (!Number.isSafeInteger(input.units) || input.units < 0) {
      throw new DomainException('VALIDATION_FAILED', 'units must be a non-negative integer.');
    }
    if (!Number.isSafeInteger(input.costUsdMicros) || input.costUsdMicros < 0) {
      throw new DomainException('VALIDATION_FAILED', 'costUsdMicros must be a non-negative integer.');
    }
    const costMxnCentavos = usdMicrosToMxnCentavos(input.costUsdMicros, this.rateMillionths);
    const { row } = await this.asSystem(() =>
      this.ledger.insertCogs({
        storeId: input.storeId,
        sessionId: input.sessionId ?? null,
        operation: input.operation ?? 'VISION',
        provider: input.provider,
        model: input.model ?? null,
        units: input.units,
        inputTokens: input.inputTokens ?? null,
        outputTokens: input.outputTokens ?? null,
        costUsdMicros: input.costUsdMicros,
        usdMxnRate: this.config.USD_MXN_RATE,
        costMxnCentavos,
        attempt: input.attempt ?? null,
        success: input.success ?? true,
        errorCode: input.errorCode ?? null,
        latencyMs: input.latencyMs ?? null,
        idempotencyKey: input.idempotencyKey ?? null,
        metadata: input.metadata ?? {},
      }),
    );
    return toCogs(row);
  }

  /**
   * Cost and margin of inventory sessions (one result per id given, in that order), as SYSTEM:
   * Σ of their COGS rows, the state of their credit, and margin = revenue − cost in centavos,
   * where revenue is one credit at the cheapest active package's price per credit when the
   * hold was committed, else 0 (rule and reasons: {@link revenuePerCreditCentavos}).
   */
  async sessionCosts(sessionIds: string[]): Promise<SessionCost[]> {
    const ids = [...new Set(sessionIds)];
    const [costs, holds, packages] = await this.asSystem(
      async () =>
        [
          await this.ledger.cogsBySession(ids),
          await this.ledger.holdRowsOfSessions(ids),
          await this.ledger.listPackages(true),
        ] as const,
    );
    const revenuePerCredit = revenuePerCreditCentavos(
      packages.map((pkg) => ({ credits: pkg.credits, priceCentavos: pkg.price_centavos })),
    );
    const states = new Map<string, { state: HoldState; credits: number }>();
    for (const row of holds) {
      const id = row.reference_id!;
      const current = states.get(id);
      if (row.type === 'HOLD') {
        if (!current) states.set(id, { state: 'HELD', credits: row.held_delta });
      } else {
        states.set(id, {
          state: row.type === 'HOLD_COMMIT' ? 'COMMITTED' : 'VOIDED',
          credits: -row.held_delta,
        });
      }
    }
    const byId = new Map(costs.map((cost) => [cost.session_id, cost]));
    return sessionIds.map((sessionId) => {
      const cost = byId.get(sessionId);
      const hold = states.get(sessionId) ?? { state: 'NONE' as const, credits: 0 };
      const costMxnCentavos = Number(cost?.mxn_centavos ?? 0);
      const revenueCentavos =
        hold.state === 'COMMITTED' && revenuePerCredit !== null ? revenuePerCredit * hold.credits : 0;
      return {
        sessionId,
        calls: cost?.calls ?? 0,
        units: Number(cost?.units ?? 0),
        costUsdMicros: Number(cost?.usd_micros ?? 0),
        costMxnCentavos,
        holdState: hold.state,
        revenuePerCreditCentavos: revenuePerCredit,
        revenueCentavos,
        marginCentavos: revenuePerCredit === null ? null : revenueCentavos - costMxnCentavos,
      };
    });
  }

  // ---------------------------------------------------------------- internals

  /** Runs `work` as SYSTEM in the current transaction (or a new one), passing the caller's id as actor. */
  private async asSystem<T>(work: (actor: string) => Promise<T>): Promise<T> {
    const context = currentContext();
    const actor = context?.identity?.userId ?? SYSTEM_USER_ID;
    if (context?.manager && context.identity?.role === 'SYSTEM') return work(actor);
    return this.transactions.elevate(() => work(actor));
  }

  /**
   * Commit or void of a session's hold, once: a replay returns the session's final row of the
   * same type; a final row of the other type is HOLD_ALREADY_COMMITTED / HOLD_ALREADY_VOIDED.
   */
  private async finish(sessionId: string, type: 'HOLD_COMMIT' | 'HOLD_VOID', reason?: string): Promise<LedgerEntry> {
    const result = await this.asSystem((actor) =>
      this.ledger.finishHold({
        sessionId,
        type,
        idempotencyKey: `${type === 'HOLD_COMMIT' ? 'hold-commit' : 'hold-void'}:${sessionId}`,
        metadata: reason ? { reason } : {},
        createdBy: actor,
      }),
    );
    if (!('row' in result)) {
      if (result.outcome === 'insufficient') {
        // Cannot happen while held ≤ balance (CHECK); kept loud rather than silent.
        throw new Error(`ledger inconsistency: ${type} of session ${sessionId} would overdraw its wallet`);
      }
      throw new NotFoundDomainException('Credit hold of this session');
    }
    if (result.outcome === 'existing' && result.row.type !== type) {
      throw result.row.type === 'HOLD_VOID'
        ? new DomainException(
            'HOLD_ALREADY_VOIDED',
            'The credit hold of this session was voided; it cannot be committed.',
          )
        : new DomainException(
            'HOLD_ALREADY_COMMITTED',
            'The credit hold of this session was committed; it cannot be voided.',
          );
    }
    return toEntry(result.row);
  }

  /** Applies one write (locking its wallet) and turns the outcome into an entry or a domain error. */
  private async writeOne(
    write: LedgerWrite,
    match: ReplayMatch,
    options: { compareAmount: boolean },
  ): Promise<{ entry: LedgerEntry; created: boolean }> {
    const result = await this.ledger.applyWrite(write, match);
    switch (result.outcome) {
      case 'no_wallet':
      case 'no_hold':
        throw new NotFoundDomainException('Wallet');
      case 'insufficient':
        throw new DomainException(
          'INSUFFICIENT_CREDITS',
          `Not enough credits for this operation (available: ${result.available}); buy a package to continue.`,
        );
      case 'existing':
        this.assertReplay(result.row, write, match, options);
        return { entry: toEntry(result.row), created: false };
      case 'inserted':
        return { entry: toEntry(result.row), created: true };
    }
  }

  /** Checks that an earlier row found for a grant, adjustment or hold is the same operation (a replay), else throws. */
  private assertReplay(
    existing: LedgerRow,
    write: LedgerWrite,
    match: ReplayMatch,
    options: { compareAmount: boolean },
  ): void {
    const sameReference =
      existing.reference_type === write.referenceType && existing.reference_id === write.referenceId;
    if (match === 'hold' && sameReference && existing.type === 'HOLD' && existing.wallet_id !== write.walletId) {
      throw new DomainException('CONFLICT', 'This inventory session already holds a credit of another wallet.');
    }
    const same =
      sameReference &&
      existing.type === write.type &&
      existing.wallet_id === write.walletId &&
      (!options.compareAmount || (existing.amount === write.amount && existing.held_delta === write.heldDelta));
    if (!same) {
      throw new DomainException(
        'IDEMPOTENCY_KEY_REUSED',
        'This idempotency key was already used for a different credit operation.',
      );
    }
  }
}
