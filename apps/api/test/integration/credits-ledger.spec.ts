import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import { TransactionService } from '../../src/database/transaction.service.js';
import { CreditsService, type LedgerEntry } from '../../src/modules/credits/credits.service.js';
import { FakeClock } from '../support/fake-clock.js';
import { inTransaction, sqlState, SYSTEM, type Identity } from '../support/rls-fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { StoreAccessService } from '../../src/modules/stores/store-access.service.js';
import { StoresRepository } from '../../src/modules/stores/stores.repository.js';

/** Code of a DomainException a promise rejects with, 'resolved' otherwise (other errors propagate). */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    if (error instanceof DomainException) return error.code;
    throw error;
  }
}

/** Two API instances (two Nest apps, two connection pools) on one database. */
describe('credits ledger (service, real PostgreSQL, two instances)', () => {
  let database: TestDatabase;
  let first: TestApp;
  let second: TestApp;
  const clock = new FakeClock();

  beforeAll(async () => {
    database = await createTestDatabase();
    first = await createTestApp(database, { clock });
    second = await createTestApp(database, { clock });
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
    await database?.drop();
  });

  const instances = () =>
    [first, second].map((app) => ({
      credits: app.app.get(CreditsService),
      tx: app.app.get(TransactionService),
    }));
  /** Runs `work` in a SYSTEM transaction of instance `i` (0 or 1), as a worker would. */
  const sys = <T>(work: (credits: CreditsService) => Promise<T>, i = 0): Promise<T> => {
    const { credits, tx } = instances()[i]!;
    return tx.runAsSystem(() => work(credits));
  };
  /** One statement as the superuser (outside RLS), on its own connection. */
  const adminQuery = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    const client = new pg.Client({ connectionString: database.adminUrl });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };

  /** A user with a wallet (no welcome credit) and `credits` purchased. */
  async function newWallet(credits = 0): Promise<{ userId: string; walletId: string }> {
    const userId = randomUUID();
    await adminQuery(`INSERT INTO auth.users (id, phone) VALUES ($1, $2)`, [userId, `+52559${randomInt(1e8)}`]);
    const walletId = await sys((c) => c.openWallet(userId));
    if (credits > 0) {
      await sys((c) =>
        c.grant({ walletId, type: 'PURCHASE', credits, referenceId: randomUUID(), idempotencyKey: `seed:${walletId}` }),
      );
    }
    return { userId, walletId };
  }

  /** Balance, held, Σ amount, Σ held_delta and row count of a wallet, read as superuser. */
  async function ledgerState(walletId: string) {
    const [row] = await adminQuery<{
      balance: number;
      held: number;
      sum_amount: number;
      sum_held: number;
      rows: number;
    }>(
      `SELECT w.balance, w.held,
              coalesce(sum(t.amount), 0)::int AS sum_amount, coalesce(sum(t.held_delta), 0)::int AS sum_held,
              count(t.id)::int AS rows
         FROM billing.credit_wallets w LEFT JOIN billing.credit_transactions t ON t.wallet_id = w.id
        WHERE w.id = $1 GROUP BY w.id`,
      [walletId],
    );
    return row!;
  }

  it('refuses UPDATE and DELETE on the ledger to the application role (42501), whatever the identity', async () => {
    const { userId, walletId } = await newWallet(3);
    const pool = new pg.Pool({ connectionString: database.appUrl, max: 1 });
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        const owner: Identity = { userId, role: 'USER' };
        for (const identity of [SYSTEM, owner, { userId: randomUUID(), role: 'ADMIN' } as Identity]) {
          for (const sql of [
            `UPDATE billing.credit_transactions SET amount = amount + 1 WHERE wallet_id = '${walletId}'`,
            `DELETE FROM billing.credit_transactions WHERE wallet_id = '${walletId}'`,
          ]) {
            const state = await sqlState(inTransaction(client, identity, (c) => c.query(sql)));
            expect({ role: identity.role, sql: sql.slice(0, 6), state }).toEqual({
              role: identity.role,
              sql: sql.slice(0, 6),
              state: '42501',
            });
          }
        }
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
    expect(await ledgerState(walletId)).toEqual({ balance: 3, held: 0, sum_amount: 3, sum_held: 0, rows: 1 });
  });

  it('replays one idempotency key 10 times serially and 10 times concurrently: one row, the same result', async () => {
    const { walletId } = await newWallet();
    const grant = (i: number) =>
      sys(
        (c) =>
          c.grant({
            walletId,
            type: 'PURCHASE',
            credits: 5,
            referenceId: 'order-1',
            idempotencyKey: 'purchase:order-1',
          }),
        i % 2,
      );
    const serial: LedgerEntry[] = [];
    for (let i = 0; i < 10; i += 1) serial.push(await grant(i));
    const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => grant(i)));
    for (const result of [...serial, ...concurrent]) expect(result).toEqual(serial[0]);
    expect(serial[0]).toMatchObject({ type: 'PURCHASE', amount: 5, heldDelta: 0, balanceAfter: 5, heldAfter: 0 });
    const rows = await adminQuery(
      `SELECT id FROM billing.credit_transactions WHERE idempotency_key = 'purchase:order-1'`,
    );
    expect(rows).toHaveLength(1);
    expect(await ledgerState(walletId)).toEqual({ balance: 5, held: 0, sum_amount: 5, sum_held: 0, rows: 1 });
  });

  it('races a fresh key: 10 concurrent first calls over two instances write one row and all return it', async () => {
    const { walletId } = await newWallet(2);
    const session = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => sys((c) => c.hold(walletId, session), i % 2)),
    );
    for (const result of results) expect(result).toEqual(results[0]);
    const commits = await Promise.all(Array.from({ length: 10 }, (_, i) => sys((c) => c.commit(session), i % 2)));
    for (const result of commits) expect(result).toEqual(commits[0]);
    expect(commits[0]).toMatchObject({ type: 'HOLD_COMMIT', amount: -1, heldDelta: -1, balanceAfter: 1, heldAfter: 0 });
    expect(await ledgerState(walletId)).toEqual({ balance: 1, held: 0, sum_amount: 1, sum_held: 0, rows: 3 });
  });

  it('refuses a key reused for another operation (409) and writes nothing', async () => {
    const a = await newWallet();
    const b = await newWallet();
    await sys((c) =>
      c.grant({ walletId: a.walletId, type: 'PURCHASE', credits: 1, referenceId: 'o-9', idempotencyKey: 'k-9' }),
    );
    const otherWallet = outcome(
      sys((c) =>
        c.grant({ walletId: b.walletId, type: 'PURCHASE', credits: 1, referenceId: 'o-9', idempotencyKey: 'k-9' }),
      ),
    );
    const otherAmount = outcome(
      sys((c) =>
        c.grant({ walletId: a.walletId, type: 'PURCHASE', credits: 2, referenceId: 'o-9', idempotencyKey: 'k-9' }),
      ),
    );
    expect(await Promise.all([otherWallet, otherAmount])).toEqual(['IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_REUSED']);
    expect((await ledgerState(a.walletId)).balance).toBe(1);
    expect((await ledgerState(b.walletId)).rows).toBe(0);
  });

  it('holds one credit, commits or voids it once, and never both', async () => {
    const { walletId } = await newWallet(2);
    const [s1, s2, unknown] = [randomUUID(), randomUUID(), randomUUID()];
    const hold = await sys((c) => c.hold(walletId, s1));
    expect(hold).toMatchObject({ type: 'HOLD', amount: 0, heldDelta: 1, balanceAfter: 2, heldAfter: 1 });
    expect(hold).toMatchObject({ referenceType: 'INVENTORY_SESSION', referenceId: s1, idempotencyKey: `hold:${s1}` });
    // A second hold for the same session under another key is the same hold.
    expect(await sys((c) => c.hold(walletId, s1, 'other-key'))).toEqual(hold);
    await sys((c) => c.hold(walletId, s2));
    expect(await outcome(sys((c) => c.hold(walletId, randomUUID())))).toBe('INSUFFICIENT_CREDITS');

    const committed = await sys((c) => c.commit(s1));
    expect(await outcome(sys((c) => c.void(s1)))).toBe('HOLD_ALREADY_COMMITTED');
    expect(await sys((c) => c.commit(s1))).toEqual(committed);
    const voided = await sys((c) => c.void(s2, 'VIDEO_TOO_SHORT'));
    expect(voided).toMatchObject({ type: 'HOLD_VOID', amount: 0, heldDelta: -1, balanceAfter: 1, heldAfter: 0 });
    expect(voided.metadata).toMatchObject({ reason: 'VIDEO_TOO_SHORT', holdId: expect.any(String) });
    expect(await outcome(sys((c) => c.commit(s2)))).toBe('HOLD_ALREADY_VOIDED');
    expect(await sys((c) => c.void(s2))).toEqual(voided);
    expect(await outcome(sys((c) => c.commit(unknown)))).toBe('NOT_FOUND');
    expect(await ledgerState(walletId)).toEqual({ balance: 1, held: 0, sum_amount: 1, sum_held: 0, rows: 5 });
  });

  it('lets exactly one of concurrent commits and voids of one hold win', async () => {
    const { walletId } = await newWallet(1);
    const session = randomUUID();
    await sys((c) => c.hold(walletId, session));
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        outcome(sys((c) => (i % 2 === 0 ? c.commit(session) : c.void(session)), Math.floor(i / 2) % 2)),
      ),
    );
    const finals = await adminQuery<{ type: string }>(
      `SELECT type FROM billing.credit_transactions WHERE reference_id = $1 AND type <> 'HOLD'`,
      [session],
    );
    expect(finals).toHaveLength(1);
    const loser = finals[0]!.type === 'HOLD_COMMIT' ? 'HOLD_ALREADY_COMMITTED' : 'HOLD_ALREADY_VOIDED';
    expect(outcomes.filter((o) => o === 'resolved')).toHaveLength(10);
    expect(outcomes.filter((o) => o === loser)).toHaveLength(10);
    const state = await ledgerState(walletId);
    expect(state.held).toBe(0);
    expect(state.balance).toBe(state.sum_amount);
  });

  it('double spend: 5 credits, 50 concurrent holds from two instances: 5 succeed, 45 get 402, available 0', async () => {
    const { walletId } = await newWallet(5);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        sys((c) => c.hold(walletId, randomUUID()), i % 2).then(
          () => 'held',
          (error: unknown) => (error instanceof DomainException ? `${error.code} ${error.status}` : String(error)),
        ),
      ),
    );
    expect(results.filter((r) => r === 'held')).toHaveLength(5);
    expect(results.filter((r) => r === 'INSUFFICIENT_CREDITS 402')).toHaveLength(45);
    expect(await ledgerState(walletId)).toEqual({ balance: 5, held: 5, sum_amount: 5, sum_held: 5, rows: 6 });
    const [wallet] = await adminQuery<{ available: number }>(
      `SELECT balance - held AS available FROM billing.credit_wallets WHERE id = $1`,
      [walletId],
    );
    expect(wallet!.available).toBe(0);
  });

  it('locks several wallets in a fixed order: opposite-order batches never deadlock', async () => {
    const wallets = await Promise.all([newWallet(), newWallet(), newWallet()]);
    const ids = wallets.map((w) => w.walletId);
    const batch = (order: string[], n: number) =>
      sys(
        (c) =>
          c.grantMany(
            order.map((walletId) => ({
              walletId,
              type: 'REFERRAL_REWARD' as const,
              credits: 1,
              referenceId: `reward-${n}`,
              idempotencyKey: `reward:${n}:${walletId}`,
            })),
          ),
        n % 2,
      );
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, n) => outcome(batch(n % 2 === 0 ? ids : [...ids].reverse(), n))),
    );
    expect(results.every((r) => r === 'resolved')).toBe(true);
    for (const id of ids) {
      expect(await ledgerState(id)).toEqual({ balance: 24, held: 0, sum_amount: 24, sum_held: 0, rows: 24 });
    }
  });

  it('adjusts with a reason, never removing held credits; records the actor and the audit entry', async () => {
    const { userId, walletId } = await newWallet(2);
    const adminId = randomUUID();
    await adminQuery(`INSERT INTO auth.users (id, email, role) VALUES ($1, $2, 'ADMIN')`, [
      adminId,
      `admin-${adminId}@example.com`,
    ]);
    const { credits, tx } = instances()[0]!;
    const asAdmin = <T>(work: () => Promise<T>) => tx.runAs({ userId: adminId, role: 'ADMIN' }, work);
    await sys((c) => c.hold(walletId, randomUUID()));
    expect(await outcome(asAdmin(() => credits.adjust({ userId, credits: -2, reason: 'fraude' })))).toBe(
      'INSUFFICIENT_CREDITS',
    );
    expect(await outcome(asAdmin(() => credits.adjust({ userId, credits: 1, reason: '  ' })))).toBe(
      'VALIDATION_FAILED',
    );
    const removed = await asAdmin(() =>
      credits.adjust({ userId, credits: -1, reason: 'cargo duplicado', idempotencyKey: 'ticket-1234' }),
    );
    expect(removed).toMatchObject({
      type: 'ADMIN_ADJUSTMENT',
      amount: -1,
      balanceAfter: 1,
      heldAfter: 1,
      referenceType: 'ADMIN_USER',
      referenceId: adminId,
      createdBy: adminId,
      metadata: { reason: 'cargo duplicado' },
    });
    const again = await asAdmin(() =>
      credits.adjust({ userId, credits: -1, reason: 'cargo duplicado', idempotencyKey: 'ticket-1234' }),
    );
    expect(again).toEqual(removed);
    const audit = await adminQuery<{ actor_user_id: string; actor_role: string; metadata: Record<string, unknown> }>(
      `SELECT actor_user_id, actor_role, metadata FROM admin.audit_logs WHERE action = 'credits.adjusted' AND target_id = $1`,
      [userId],
    );
    expect(audit).toEqual([
      {
        actor_user_id: adminId,
        actor_role: 'ADMIN',
        metadata: expect.objectContaining({ credits: -1, reason: 'cargo duplicado', transactionId: removed.id }),
      },
    ]);
    expect(await ledgerState(walletId)).toMatchObject({ balance: 1, held: 1, sum_amount: 1, sum_held: 1 });
  });

  it('grants the welcome credits of the setting once per user', async () => {
    const { userId, walletId } = await newWallet();
    const first = await sys((c) => c.grantWelcome(userId));
    expect(first).toMatchObject({ type: 'WELCOME', amount: 1, balanceAfter: 1, idempotencyKey: `welcome:${userId}` });
    await adminQuery(`UPDATE admin.settings SET value = '3'::jsonb WHERE key = 'welcome_credits'`);
    try {
      expect(await sys((c) => c.grantWelcome(userId))).toEqual(first);
      const other = await newWallet();
      expect(await sys((c) => c.grantWelcome(other.userId))).toMatchObject({ amount: 3, balanceAfter: 3 });
      await adminQuery(`UPDATE admin.settings SET value = '0'::jsonb WHERE key = 'welcome_credits'`);
      const none = await newWallet();
      expect(await sys((c) => c.grantWelcome(none.userId))).toBeNull();
      expect((await ledgerState(none.walletId)).rows).toBe(0);
    } finally {
      await adminQuery(`UPDATE admin.settings SET value = '1'::jsonb WHERE key = 'welcome_credits'`);
    }
    expect(await ledgerState(walletId)).toEqual({ balance: 1, held: 0, sum_amount: 1, sum_held: 0, rows: 1 });
  });

  describe('stores, sessions and COGS', () => {
    let owner: { userId: string; walletId: string };
    let operator: { userId: string; walletId: string };
    let storeId: string;

    beforeAll(async () => {
      owner = await newWallet(10);
      const coOwner = await newWallet(7);
      operator = await newWallet(0);
      storeId = randomUUID();
      await adminQuery(
        `INSERT INTO tenancy.stores (id, name, giro, created_by) VALUES ($1, 'Abarrotes Lupita', 'abarrotes', $2)`,
        [storeId, owner.userId],
      );
      await adminQuery(
        `INSERT INTO tenancy.store_users (store_id, user_id, role, created_at) VALUES
           ($1, $2, 'OWNER', now() - interval '2 days'), ($1, $3, 'OWNER', now() - interval '1 day'), ($1, $4, 'OPERATOR', now())`,
        [storeId, owner.userId, coOwner.userId, operator.userId],
      );
    });

    async function newSession(): Promise<string> {
      const id = randomUUID();
      await adminQuery(`INSERT INTO inventory.inventory_sessions (id, store_id, created_by) VALUES ($1, $2, $3)`, [
        id,
        storeId,
        operator.userId,
      ]);
      return id;
    }

    it("makes an OPERATOR spend the earliest OWNER's wallet, recording the operator as actor", async () => {
      const { credits, tx } = instances()[0]!;
      const session = await newSession();
      const hold = await tx.runAs({ userId: operator.userId, role: 'OPERATOR' }, async () => {
        const payer = await new StoreAccessService(new StoresRepository(tx)).payingOwnerOf(storeId);
        expect(payer).toBe(owner.userId);
        const walletId = await credits.walletForUser(payer);
        expect(walletId).toBe(owner.walletId);
        return credits.hold(walletId, session);
      });
      expect(hold).toMatchObject({ walletId: owner.walletId, userId: owner.userId, createdBy: operator.userId });
      expect(await outcome(sys((c) => c.walletForUser(randomUUID())))).toBe('NOT_FOUND');
      await sys((c) => c.commit(session));
    });

    it('records COGS in centavos at USD_MXN_RATE (half up), once per key, and reports cost and margin', async () => {
      const [ready, failed, held] = [await newSession(), await newSession(), await newSession()];
      for (const session of [ready, failed, held]) await sys((c) => c.hold(owner.walletId, session));
      await sys((c) => c.commit(ready));
      await sys((c) => c.void(failed, 'PROCESSING_ERROR'));
      const call = {
        sessionId: ready,
        storeId,
        provider: 'openai',
        model: 'gpt-4o-mini',
        units: 12,
        costUsdMicros: 1_234_567,
        idempotencyKey: `${ready}:1:0`,
      };
      const recorded = await sys((c) => c.recordCogs(call));
      // 1.234567 USD × 17.0 = 20.987639 MXN → 2,098.7639 centavos → 2,099.
      expect(recorded).toMatchObject({ costUsdMicros: 1_234_567, costMxnCentavos: 2099, usdMxnRate: '17.000000' });
      expect(await sys((c) => c.recordCogs(call))).toEqual(recorded);
      // 0.005 USD × 17.0 = 8.5 centavos: half up → 9.
      await sys((c) => c.recordCogs({ ...call, idempotencyKey: null, costUsdMicros: 5_000 }));
      await sys((c) => c.recordCogs({ ...call, sessionId: failed, idempotencyKey: null, costUsdMicros: 100_000 }));
      expect(await outcome(sys((c) => c.recordCogs({ ...call, idempotencyKey: null, costUsdMicros: -1 })))).toBe(
        'VALIDATION_FAILED',
      );
      const none = randomUUID();
      const costs = await sys((c) => c.sessionCosts([ready, failed, held, none]));
      // Cheapest active package per credit: 44,900 / 20 = 2,245 centavos.
      expect(costs).toEqual([
        {
          sessionId: ready,
          calls: 2,
          units: 24,
          costUsdMicros: 1_239_567,
          costMxnCentavos: 2108,
          holdState: 'COMMITTED',
          revenuePerCreditCentavos: 2245,
          revenueCentavos: 2245,
          marginCentavos: 137,
        },
        {
          sessionId: failed,
          calls: 1,
          units: 12,
          costUsdMicros: 100_000,
          costMxnCentavos: 170,
          holdState: 'VOIDED',
          revenuePerCreditCentavos: 2245,
          revenueCentavos: 0,
          marginCentavos: -170,
        },
        expect.objectContaining({
          sessionId: held,
          calls: 0,
          holdState: 'HELD',
          revenueCentavos: 0,
          marginCentavos: 0,
        }),
        expect.objectContaining({ sessionId: none, holdState: 'NONE', costMxnCentavos: 0 }),
      ]);
      await sys((c) => c.commit(held));
    });

    it('reports holds older than CREDIT_HOLD_STALE_MINUTES without voiding them', async () => {
      const session = await newSession();
      await sys((c) => c.hold(owner.walletId, session));
      const before = await sys((c) => c.staleHolds({ limit: 100 }));
      expect(before.items.map((item) => item.sessionId)).not.toContain(session);
      clock.advance(1501 * 60);
      const after = await sys((c) => c.staleHolds({ limit: 100 }));
      expect(after.olderThanMinutes).toBe(1500);
      expect(after.items.find((item) => item.sessionId === session)).toMatchObject({
        walletId: owner.walletId,
        userId: owner.userId,
        ageMinutes: expect.any(Number),
      });
      expect(after.items.find((item) => item.sessionId === session)!.ageMinutes).toBeGreaterThanOrEqual(1500);
      expect((await ledgerState(owner.walletId)).held).toBe(1);
      await sys((c) => c.void(session));
      const closed = await sys((c) => c.staleHolds({ limit: 100 }));
      expect(closed.items.map((item) => item.sessionId)).not.toContain(session);
    });
  });
});
