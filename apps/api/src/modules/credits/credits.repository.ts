import { Injectable } from '@nestjs/common';
import { DomainException } from '../../common/errors/domain.exception.js';
import { TransactionService } from '../../database/transaction.service.js';
import type { LedgerType } from './credit-rules.js';

/** A row of `billing.credit_wallets` (credits). */
export interface WalletRow {
  id: string;
  user_id: string;
  balance: number;
  held: number;
  updated_at: Date;
}

/** A row of `billing.credit_transactions`; `seq` is a bigint, returned as text. */
export interface LedgerRow {
  id: string;
  seq: string;
  wallet_id: string;
  user_id: string;
  type: LedgerType;
  amount: number;
  held_delta: number;
  balance_after: number;
  held_after: number;
  reference_type: string | null;
  reference_id: string | null;
  idempotency_key: string;
  metadata: Record<string, unknown>;
  created_by: string | null;
  created_at: Date;
}

/** A row of `billing.credit_packages`. */
export interface PackageRow {
  id: string;
  code: string;
  name: string;
  credits: number;
  price_centavos: number;
  currency: string;
  active: boolean;
  sort_order: number;
  created_at: Date;
  updated_at: Date;
}

/** A row of `billing.cogs_records` (the columns this module writes). */
export interface CogsRow {
  id: string;
  store_id: string | null;
  session_id: string | null;
  operation: string;
  provider: string;
  model: string | null;
  units: number;
  cost_usd_micros: string;
  usd_mxn_rate: string | null;
  cost_mxn_centavos: number;
  idempotency_key: string | null;
  created_at: Date;
}

/** One ledger write (credits). */
export interface LedgerWrite {
  walletId: string;
  type: LedgerType;
  /** Change of `balance` (credits). */
  amount: number;
  /** Change of `held` (credits). */
  heldDelta: number;
  referenceType: string | null;
  referenceId: string | null;
  idempotencyKey: string;
  metadata: Record<string, unknown>;
  createdBy: string | null;
}

/**
 * Besides the idempotency key, which earlier row makes this write a replay: the session's
 * HOLD (one per session) or its final HOLD_COMMIT / HOLD_VOID (one per hold).
 */
export type ReplayMatch = 'key' | 'hold' | 'final';

/** What a ledger write did; `available` = the wallet's balance − held after it (null: no wallet). */
export type ApplyOutcome =
  | { outcome: 'inserted' | 'existing'; row: LedgerRow; available: number }
  | { outcome: 'insufficient' | 'no_wallet' | 'no_hold'; available: number | null };

const WALLET_COLUMNS = 'id, user_id, balance, held, updated_at';
/** Columns of a ledger row, optionally qualified by a table alias. */
function ledgerColumns(alias = ''): string {
  const a = alias ? `${alias}.` : '';
  return `${a}id, ${a}seq::text AS seq, ${a}wallet_id, ${a}user_id, ${a}type, ${a}amount, ${a}held_delta,
  ${a}balance_after, ${a}held_after, ${a}reference_type, ${a}reference_id, ${a}idempotency_key, ${a}metadata,
  ${a}created_by, ${a}created_at`;
}
const LEDGER_COLUMNS = ledgerColumns();
const PACKAGE_COLUMNS = 'id, code, name, credits, price_centavos, currency, active, sort_order, created_at, updated_at';
const COGS_COLUMNS = `id, store_id, session_id, operation, provider, model, units, cost_usd_micros::text AS cost_usd_micros,
  usd_mxn_rate::text AS usd_mxn_rate, cost_mxn_centavos, idempotency_key, created_at`;

/** The UNIQUE constraints a ledger insert can hit when two writes race on different wallets. */
const LEDGER_UNIQUE_CONSTRAINTS = new Set([
  'credit_transactions_idempotency_key_key',
  'credit_transactions_one_hold_key',
  'credit_transactions_one_hold_final_key',
]);

function pgError(error: unknown): { code?: string; constraint?: string } {
  const raw = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  return { code: raw.code ?? raw.driverError?.code, constraint: raw.constraint ?? raw.driverError?.constraint };
}

/**
 * SQL of the credits module: `billing.credit_wallets`, the append-only
 * `billing.credit_transactions`, `billing.credit_packages`, `billing.cogs_records`, and the
 * `welcome_credits` setting. Every statement runs in the caller's transaction
 * ({@link TransactionService}); the service decides under which identity.
 *
 * Ledger writes follow one protocol (reviewed, CONVENTIONS #5), written out in the PL/pgSQL
 * functions of migrations CreditsLedger1764400100000 and LedgerThroughput1764400300000 so that a
 * write is one round trip: lock the wallet row with `SELECT … FOR UPDATE`, then, in statements
 * that start after the lock is granted (so their READ COMMITTED snapshots see every write
 * committed by whoever held the lock before), check the balance, append the row unless a UNIQUE
 * key (idempotency key, the session's HOLD or final row) already has one, and move the wallet
 * when it was appended; the earlier row of a replay is looked up only when nothing was written.
 * Writes on several wallets first lock them all in id order ({@link lockWallets}).
 */
@Injectable()
export class CreditsRepository {
  constructor(private readonly transactions: TransactionService) {}

  // ---------------------------------------------------------------- wallets

  /** Creates the user's wallet (balance 0) unless it exists; returns its id. */
  async openWallet(userId: string): Promise<string> {
    const inserted = (await this.transactions.query(
      `INSERT INTO billing.credit_wallets (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING RETURNING id`,
      [userId],
    )) as Array<{ id: string }>;
    if (inserted[0]) return inserted[0].id;
    const existing = (await this.transactions.query(`SELECT id FROM billing.credit_wallets WHERE user_id = $1`, [
      userId,
    ])) as Array<{ id: string }>;
    return existing[0]!.id;
  }

  async findWalletByUser(userId: string): Promise<WalletRow | null> {
    const rows = (await this.transactions.query(
      `SELECT ${WALLET_COLUMNS} FROM billing.credit_wallets WHERE user_id = $1`,
      [userId],
    )) as WalletRow[];
    return rows[0] ?? null;
  }

  /**
   * Locks wallets (`FOR UPDATE`) in ascending id order, whatever the order asked: two
   * transactions locking overlapping sets always queue instead of deadlocking. Returns the
   * rows found (in id order).
   */
  async lockWallets(walletIds: string[]): Promise<WalletRow[]> {
    return (await this.transactions.query(
      `SELECT ${WALLET_COLUMNS} FROM billing.credit_wallets WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE`,
      [[...new Set(walletIds)]],
    )) as WalletRow[];
  }

  /**
   * Applies one write through `billing.apply_credit_write` (migrations CreditsLedger1764400100000,
   * LedgerThroughput1764400300000), one round trip: lock the wallet, refuse an overdraft, append
   * the row and move the wallet; when a UNIQUE key already holds a row, write nothing and return
   * the earlier row (the idempotency key's, or per `match` the session's HOLD or final row) as
   * `existing`, also when that row is on another wallet (the caller decides whether it is a
   * replay) and also when it was committed concurrently, while this call waited.
   *
   * @throws DomainException IDEMPOTENCY_KEY_REUSED (409) when the row conflicts on a UNIQUE
   *   index that `match` does not look in (e.g. a HOLD written with `match` 'key' for a session
   *   that has one); PostgreSQL's 23505 then aborts the transaction, which must roll back.
   */
  async applyWrite(write: LedgerWrite, match: ReplayMatch = 'key'): Promise<ApplyOutcome> {
    return this.callLedgerFunction(
      'billing.apply_credit_write',
      `billing.apply_credit_write($1::uuid, $2::text, $3::int, $4::int, $5::text, $6::text, $7::text, $8::jsonb, $9::uuid, $10::text)`,
      [
        write.walletId,
        write.type,
        write.amount,
        write.heldDelta,
        write.referenceType,
        write.referenceId,
        write.idempotencyKey,
        JSON.stringify(write.metadata),
        write.createdBy,
        match,
      ],
    );
  }

  /**
   * Commits or voids the HOLD of an inventory session through `billing.finish_credit_hold`: the
   * hold's wallet is locked, a replay returns the session's existing final row (whatever its
   * type: the service tells a replay from a conflict), the hold id is added to the metadata.
   */
  async finishHold(input: {
    sessionId: string;
    type: 'HOLD_COMMIT' | 'HOLD_VOID';
    idempotencyKey: string;
    metadata: Record<string, unknown>;
    createdBy: string | null;
  }): Promise<ApplyOutcome> {
    return this.callLedgerFunction(
      'billing.finish_credit_hold',
      `billing.finish_credit_hold('INVENTORY_SESSION', $1::text, $2::text, $3::text, $4::jsonb, $5::uuid)`,
      [input.sessionId, input.type, input.idempotencyKey, JSON.stringify(input.metadata), input.createdBy],
    );
  }

  /**
   * Runs one ledger function as a named prepared statement (`name`, one per function): planning
   * `SELECT … FROM f(…) AS r` on every call cost about as much server time as the function's own
   * work; a prepared statement is planned once per connection (bench/README.md).
   */
  private async callLedgerFunction(name: string, call: string, params: unknown[]): Promise<ApplyOutcome> {
    let rows: Array<
      Omit<LedgerRow, 'id'> & { id: string | null; outcome: ApplyOutcome['outcome']; available: number | null }
    >;
    try {
      // `(r.entry).*`: the row's columns (seq, an int8, arrives as text from node-postgres);
      // measured faster than selecting each field of the composite.
      rows = (await this.transactions.queryPrepared(
        name,
        `SELECT r.outcome, r.available, (r.entry).* FROM ${call} AS r`,
        params,
      )) as typeof rows;
    } catch (error) {
      const { code, constraint } = pgError(error);
      if (code === '23505' && constraint && LEDGER_UNIQUE_CONSTRAINTS.has(constraint)) {
        throw new DomainException(
          'IDEMPOTENCY_KEY_REUSED',
          'Another credit operation with the same idempotency key or session was recorded at the same time.',
        );
      }
      throw error;
    }
    const { outcome, available, ...row } = rows[0]!;
    if (outcome === 'inserted' || outcome === 'existing') {
      return { outcome, row: row as LedgerRow, available: available! };
    }
    return { outcome, available };
  }

  /** A wallet's rows, newest first; `beforeSeq` is the cursor (exclusive). */
  async listTransactions(filter: {
    walletId: string;
    type?: LedgerType;
    beforeSeq?: string;
    limit: number;
  }): Promise<LedgerRow[]> {
    const params: unknown[] = [filter.walletId];
    const where = ['t.wallet_id = $1'];
    if (filter.type) {
      params.push(filter.type);
      where.push(`t.type = $${params.length}`);
    }
    if (filter.beforeSeq) {
      params.push(filter.beforeSeq);
      where.push(`t.seq < $${params.length}::bigint`);
    }
    params.push(filter.limit);
    // `t.seq`, qualified: a bare `seq` would sort by the text alias of the select list.
    return (await this.transactions.query(
      `SELECT ${ledgerColumns('t')} FROM billing.credit_transactions t
        WHERE ${where.join(' AND ')}
        ORDER BY t.seq DESC
        LIMIT $${params.length}`,
      params,
    )) as LedgerRow[];
  }

  /** The value of an `admin.settings` row (JSON), or undefined when absent. ADMIN/SYSTEM only (RLS). */
  async readSetting(key: string): Promise<unknown> {
    const rows = (await this.transactions.query(`SELECT value FROM admin.settings WHERE key = $1`, [key])) as Array<{
      value: unknown;
    }>;
    return rows[0]?.value;
  }

  // ---------------------------------------------------------------- admin reports

  /** Per type: rows, Σ amount, Σ held_delta, credits added (Σ amount > 0) and removed (−Σ amount < 0). */
  async totalsByType(): Promise<
    Array<{
      type: LedgerType;
      transactions: number;
      amount: string;
      held_delta: string;
      added: string;
      removed: string;
    }>
  > {
    return (await this.transactions.query(
      `SELECT type, count(*)::int AS transactions,
              coalesce(sum(amount), 0)::text AS amount,
              coalesce(sum(held_delta), 0)::text AS held_delta,
              coalesce(sum(amount) FILTER (WHERE amount > 0), 0)::text AS added,
              coalesce(-sum(amount) FILTER (WHERE amount < 0), 0)::text AS removed
         FROM billing.credit_transactions
        GROUP BY type
        ORDER BY type`,
    )) as Array<{
      type: LedgerType;
      transactions: number;
      amount: string;
      held_delta: string;
      added: string;
      removed: string;
    }>;
  }

  async walletTotals(): Promise<{ wallets: number; balance: string; held: string }> {
    const rows = (await this.transactions.query(
      `SELECT count(*)::int AS wallets, coalesce(sum(balance), 0)::text AS balance, coalesce(sum(held), 0)::text AS held
         FROM billing.credit_wallets`,
    )) as Array<{ wallets: number; balance: string; held: string }>;
    return rows[0]!;
  }

  /**
   * HOLD rows created before `cutoff` that have neither HOLD_COMMIT nor HOLD_VOID, oldest
   * first, with the count of all of them. Only wallets with `held > 0` can have one, so the
   * scan is bounded by the wallets with open holds, not by the whole history.
   */
  async staleHolds(cutoff: Date, limit: number): Promise<{ rows: LedgerRow[]; total: number }> {
    const rows = (await this.transactions.query(
      `SELECT ${ledgerColumns('h')}, count(*) OVER ()::int AS total
         FROM billing.credit_wallets w
         JOIN billing.credit_transactions h ON h.wallet_id = w.id AND h.type = 'HOLD'
        WHERE w.held > 0 AND h.created_at < $1
          AND NOT EXISTS (
                SELECT 1 FROM billing.credit_transactions f
                 WHERE f.type IN ('HOLD_COMMIT', 'HOLD_VOID')
                   AND f.reference_type = h.reference_type AND f.reference_id = h.reference_id)
        ORDER BY h.created_at, h.seq
        LIMIT $2`,
      [cutoff, limit],
    )) as Array<LedgerRow & { total: number }>;
    return { rows: rows.map(({ total: _total, ...row }) => row), total: rows[0]?.total ?? 0 };
  }

  // ---------------------------------------------------------------- packages

  async listPackages(activeOnly: boolean): Promise<PackageRow[]> {
    return (await this.transactions.query(
      `SELECT ${PACKAGE_COLUMNS} FROM billing.credit_packages
        ${activeOnly ? 'WHERE active' : ''}
        ORDER BY sort_order, price_centavos, id`,
    )) as PackageRow[];
  }

  async insertPackage(input: {
    code: string;
    name: string;
    credits: number;
    priceCentavos: number;
    active: boolean;
    sortOrder: number;
  }): Promise<PackageRow> {
    try {
      const rows = (await this.transactions.query(
        `INSERT INTO billing.credit_packages (code, name, credits, price_centavos, currency, active, sort_order)
         VALUES ($1, $2, $3, $4, 'MXN', $5, $6)
         RETURNING ${PACKAGE_COLUMNS}`,
        [input.code, input.name, input.credits, input.priceCentavos, input.active, input.sortOrder],
      )) as PackageRow[];
      return rows[0]!;
    } catch (error) {
      if (pgError(error).code === '23505') {
        throw new DomainException('CONFLICT', `A package with code ${input.code} already exists.`);
      }
      throw error;
    }
  }

  /** Updates the given fields; null when the package does not exist. */
  async updatePackage(
    id: string,
    changes: Partial<{ name: string; credits: number; priceCentavos: number; active: boolean; sortOrder: number }>,
  ): Promise<PackageRow | null> {
    const columns: Record<string, unknown> = {
      name: changes.name,
      credits: changes.credits,
      price_centavos: changes.priceCentavos,
      active: changes.active,
      sort_order: changes.sortOrder,
    };
    const params: unknown[] = [id];
    const sets: string[] = [];
    for (const [column, value] of Object.entries(columns)) {
      if (value === undefined) continue;
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    }
    if (sets.length === 0) {
      const rows = (await this.transactions.query(
        `SELECT ${PACKAGE_COLUMNS} FROM billing.credit_packages WHERE id = $1`,
        params,
      )) as PackageRow[];
      return rows[0] ?? null;
    }
    const rows = (await this.transactions.query(
      `UPDATE billing.credit_packages SET ${sets.join(', ')} WHERE id = $1 RETURNING ${PACKAGE_COLUMNS}`,
      params,
    )) as PackageRow[];
    return rows[0] ?? null;
  }

  /**
   * Deletes a package; null when it does not exist.
   *
   * @throws DomainException CONFLICT when a payment order refers to it (deactivate it instead).
   */
  async deletePackage(id: string): Promise<PackageRow | null> {
    try {
      const rows = (await this.transactions.query(
        `DELETE FROM billing.credit_packages WHERE id = $1 RETURNING ${PACKAGE_COLUMNS}`,
        [id],
      )) as PackageRow[];
      return rows[0] ?? null;
    } catch (error) {
      if (pgError(error).code === '23503') {
        throw new DomainException('CONFLICT', 'Payment orders refer to this package; deactivate it instead.');
      }
      throw error;
    }
  }

  // ---------------------------------------------------------------- COGS

  /**
   * Inserts a COGS row; with an idempotency key already used, returns the first row and
   * writes nothing.
   */
  async insertCogs(input: {
    storeId: string | null;
    sessionId: string | null;
    operation: string;
    provider: string;
    model: string | null;
    units: number;
    inputTokens: number | null;
    outputTokens: number | null;
    costUsdMicros: number;
    usdMxnRate: string;
    costMxnCentavos: number;
    attempt: number | null;
    success: boolean;
    errorCode: string | null;
    latencyMs: number | null;
    idempotencyKey: string | null;
    metadata: Record<string, unknown>;
  }): Promise<{ row: CogsRow; created: boolean }> {
    const inserted = (await this.transactions.query(
      `INSERT INTO billing.cogs_records
         (store_id, session_id, operation, provider, model, units, input_tokens, output_tokens, cost_usd_micros,
          usd_mxn_rate, cost_mxn_centavos, attempt, success, error_code, latency_ms, idempotency_key, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::numeric, $11, $12, $13, $14, $15, $16, $17::jsonb)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${COGS_COLUMNS}`,
      [
        input.storeId,
        input.sessionId,
        input.operation,
        input.provider,
        input.model,
        input.units,
        input.inputTokens,
        input.outputTokens,
        input.costUsdMicros,
        input.usdMxnRate,
        input.costMxnCentavos,
        input.attempt,
        input.success,
        input.errorCode,
        input.latencyMs,
        input.idempotencyKey,
        JSON.stringify(input.metadata),
      ],
    )) as CogsRow[];
    if (inserted[0]) return { row: inserted[0], created: true };
    const existing = (await this.transactions.query(
      `SELECT ${COGS_COLUMNS} FROM billing.cogs_records WHERE idempotency_key = $1`,
      [input.idempotencyKey],
    )) as CogsRow[];
    return { row: existing[0]!, created: false };
  }

  /** Σ of the COGS rows of each session (sessions without a row get zeros). */
  async cogsBySession(
    sessionIds: string[],
  ): Promise<Array<{ session_id: string; calls: number; units: string; usd_micros: string; mxn_centavos: string }>> {
    return (await this.transactions.query(
      `SELECT s.session_id::text AS session_id, count(c.id)::int AS calls,
              coalesce(sum(c.units), 0)::text AS units,
              coalesce(sum(c.cost_usd_micros), 0)::text AS usd_micros,
              coalesce(sum(c.cost_mxn_centavos), 0)::text AS mxn_centavos
         FROM unnest($1::uuid[]) AS s(session_id)
         LEFT JOIN billing.cogs_records c ON c.session_id = s.session_id
        GROUP BY s.session_id`,
      [sessionIds],
    )) as Array<{ session_id: string; calls: number; units: string; usd_micros: string; mxn_centavos: string }>;
  }

  /** The HOLD / HOLD_COMMIT / HOLD_VOID rows of these inventory sessions. */
  async holdRowsOfSessions(sessionIds: string[]): Promise<LedgerRow[]> {
    return (await this.transactions.query(
      `SELECT ${LEDGER_COLUMNS} FROM billing.credit_transactions
        WHERE reference_type = 'INVENTORY_SESSION' AND reference_id = ANY ($1::text[])
          AND type IN ('HOLD', 'HOLD_COMMIT', 'HOLD_VOID')`,
      [sessionIds],
    )) as LedgerRow[];
  }
}
