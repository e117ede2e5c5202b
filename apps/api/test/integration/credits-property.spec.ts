import { randomInt, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import { TransactionService } from '../../src/database/transaction.service.js';
import { CreditsService, type LedgerEntry } from '../../src/modules/credits/credits.service.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * Model-based property test of the ledger (issue 4): random batches of grants, referral
 * rewards over two wallets, holds, commits, voids and admin adjustments, with idempotency keys
 * and sessions drawn from small pools so replays are frequent. The operations of a batch run
 * concurrently, each in its own transaction, so their order is PostgreSQL's to choose; the
 * ledger's `seq` tells which order it chose. After every batch the new rows are replayed on an
 * in-memory model in that order (each must be legal there and carry the model's balance and
 * held), and every operation's answer must fit: a new row, the first answer of its key, or an
 * error that some point of that order justifies. After each run, for every wallet, balance and
 * held equal the model's and Σ amount / Σ held_delta of its rows; nothing is ever negative.
 */

const WALLETS = 4;
const SESSIONS = 40;
const GRANT_KEYS = 30;
const REWARD_KEYS = 8;
const ADJUST_KEYS = 12;
const RUNS = 40;
const MIN_OPERATIONS = 10_000;

type Op =
  | { kind: 'grant'; key: number }
  | { kind: 'reward'; key: number }
  | { kind: 'hold'; session: number }
  | { kind: 'commit'; session: number }
  | { kind: 'void'; session: number }
  | { kind: 'adjust'; key: number };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('grant' as const), key: fc.nat(GRANT_KEYS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reward' as const), key: fc.nat(REWARD_KEYS - 1) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('hold' as const), session: fc.nat(SESSIONS - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('commit' as const), session: fc.nat(SESSIONS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('void' as const), session: fc.nat(SESSIONS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('adjust' as const), key: fc.nat(ADJUST_KEYS - 1) }) },
);

/** 32–40 batches of 8–16 concurrent operations: at least 256 operations per run. */
const runArbitrary = fc.array(fc.array(opArbitrary, { minLength: 8, maxLength: 16 }), {
  minLength: 32,
  maxLength: 40,
});

const grantCredits = (key: number) => (key % 5) + 1;
const adjustCredits = (key: number) => [-2, -1, 1, 2][key % 4]!;

interface ModelWallet {
  balance: number;
  held: number;
}

type SessionState = 'HELD' | 'COMMITTED' | 'VOIDED';

interface LedgerRowState {
  id: string;
  seq: string;
  wallet_id: string;
  type: string;
  amount: number;
  held_delta: number;
  balance_after: number;
  held_after: number;
  reference_id: string | null;
}

/** What one operation answered: its entries, or a domain error code. */
type Answer = { entries: LedgerEntry[] } | { error: string };

describe('credits ledger: property test against an in-memory model', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let credits: CreditsService;
  let tx: TransactionService;
  let admin: pg.Client;
  let operations = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { env: { DATABASE_POOL_SIZE: '8' } });
    credits = testApp.app.get(CreditsService);
    tx = testApp.app.get(TransactionService);
    admin = new pg.Client({ connectionString: database.adminUrl });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await testApp?.close();
    await database?.drop();
  });

  /** One fresh set of wallets, sessions and keys, and the model that follows it. */
  async function newRun() {
    const run = randomUUID().slice(0, 8);
    const users = Array.from({ length: WALLETS }, () => randomUUID());
    for (const userId of users) {
      await admin.query(`INSERT INTO auth.users (id, phone) VALUES ($1, $2)`, [userId, `+52558${randomInt(1e8)}`]);
    }
    const wallets = await tx.runAsSystem(async () => {
      const ids: string[] = [];
      for (const userId of users) ids.push(await credits.openWallet(userId));
      return ids;
    });
    return {
      run,
      users,
      wallets,
      walletIndex: new Map(wallets.map((id, index) => [id, index])),
      sessions: Array.from({ length: SESSIONS }, (): string => randomUUID()),
      model: wallets.map((): ModelWallet => ({ balance: 0, held: 0 })),
      sessionState: new Map<string, SessionState>(),
      /** First answer per operation identity (key or session + kind). */
      first: new Map<string, LedgerEntry>(),
      lastSeq: '0',
    };
  }
  type Run = Awaited<ReturnType<typeof newRun>>;

  /** Identity of the writes an operation makes (what makes a repeat a replay). */
  function identities(op: Op): string[] {
    switch (op.kind) {
      case 'grant':
        return [`grant:${op.key}`];
      case 'reward':
        return [`reward:${op.key}:a`, `reward:${op.key}:b`];
      case 'adjust':
        return [`adjust:${op.key}`];
      default:
        return [`${op.kind}:${op.session}`];
    }
  }

  function execute(state: Run, op: Op): Promise<LedgerEntry[]> {
    const { run, wallets, users, sessions } = state;
    return tx.runAsSystem(async () => {
      switch (op.kind) {
        case 'grant':
          return [
            await credits.grant({
              walletId: wallets[op.key % WALLETS]!,
              type: 'PURCHASE',
              credits: grantCredits(op.key),
              referenceId: `order-${run}-${op.key}`,
              idempotencyKey: `purchase:${run}:${op.key}`,
            }),
          ];
        case 'reward': {
          // Two wallets per reward, in opposite orders for odd keys: the lock order must not matter.
          const pair = [wallets[op.key % WALLETS]!, wallets[(op.key + 1) % WALLETS]!];
          const ordered = op.key % 2 === 0 ? pair : [...pair].reverse();
          const entries = await credits.grantMany(
            ordered.map((walletId) => ({
              walletId,
              type: 'REFERRAL_REWARD' as const,
              credits: 1,
              referenceId: `reward-${run}-${op.key}`,
              idempotencyKey: `reward:${run}:${op.key}:${walletId}`,
            })),
          );
          return op.key % 2 === 0 ? entries : [...entries].reverse();
        }
        case 'hold':
          return [await credits.hold(wallets[op.session % WALLETS]!, sessions[op.session]!)];
        case 'commit':
          return [await credits.commit(sessions[op.session]!)];
        case 'void':
          return [await credits.void(sessions[op.session]!)];
        case 'adjust':
          return [
            await credits.adjust({
              userId: users[op.key % WALLETS]!,
              credits: adjustCredits(op.key),
              reason: 'prueba de propiedades',
              idempotencyKey: `${run}-adjust-${op.key}`,
            }),
          ];
      }
    });
  }

  /** The wallet (index) an operation writes to, when it has one. */
  function walletOf(op: Op): number {
    return op.kind === 'hold' || op.kind === 'commit' || op.kind === 'void' ? op.session % WALLETS : op.key % WALLETS;
  }

  async function runBatch(state: Run, batch: Op[]): Promise<void> {
    const { model, sessionState, sessions } = state;
    const heldAtStart = new Set(sessionState.keys());
    const answers: Answer[] = await Promise.all(
      batch.map((op) =>
        execute(state, op).then(
          (entries): Answer => ({ entries }),
          (error: unknown): Answer => {
            if (error instanceof DomainException) return { error: error.code };
            throw error;
          },
        ),
      ),
    );
    operations += batch.length;

    // Replay the batch's new rows on the model in PostgreSQL's order (seq), wallet by wallet.
    const { rows } = await admin.query<LedgerRowState>(
      `SELECT t.id, t.seq::text AS seq, t.wallet_id, t.type, t.amount, t.held_delta, t.balance_after, t.held_after,
              t.reference_id
         FROM billing.credit_transactions t
        WHERE t.wallet_id = ANY ($1::uuid[]) AND t.seq > $2::bigint
        ORDER BY t.seq`,
      [state.wallets, state.lastSeq],
    );
    const minAvailable = model.map((wallet) => wallet.balance - wallet.held);
    for (const row of rows) {
      const index = state.walletIndex.get(row.wallet_id)!;
      const wallet = model[index]!;
      const session = row.reference_id;
      switch (row.type) {
        case 'HOLD':
          expect(sessionState.has(session!), `second hold for ${session}`).toBe(false);
          expect(wallet.balance - wallet.held, 'hold without an available credit').toBeGreaterThanOrEqual(1);
          sessionState.set(session!, 'HELD');
          break;
        case 'HOLD_COMMIT':
        case 'HOLD_VOID':
          expect(sessionState.get(session!), `final row of a hold that is not open (${row.type})`).toBe('HELD');
          sessionState.set(session!, row.type === 'HOLD_COMMIT' ? 'COMMITTED' : 'VOIDED');
          break;
        case 'ADMIN_ADJUSTMENT':
        case 'PURCHASE':
        case 'REFERRAL_REWARD':
          break;
        default:
          throw new Error(`unexpected row type ${row.type}`);
      }
      wallet.balance += row.amount;
      wallet.held += row.held_delta;
      expect(wallet.balance - wallet.held).toBeGreaterThanOrEqual(0);
      expect(wallet.held).toBeGreaterThanOrEqual(0);
      expect({ balance: row.balance_after, held: row.held_after }).toEqual(wallet);
      minAvailable[index] = Math.min(minAvailable[index]!, wallet.balance - wallet.held);
    }
    if (rows.length > 0) state.lastSeq = rows[rows.length - 1]!.seq;

    // Every answer fits that order; every new row was answered to someone.
    const newIds = new Set(rows.map((row) => row.id));
    const answered = new Set<string>();
    batch.forEach((op, i) => {
      const answer = answers[i]!;
      if ('entries' in answer) {
        identities(op).forEach((identity, k) => {
          const entry = answer.entries[k]!;
          answered.add(entry.id);
          const first = state.first.get(identity);
          if (first) expect(entry, `replay of ${identity}`).toEqual(first);
          else {
            expect(newIds.has(entry.id), `${identity} answered a row it did not write`).toBe(true);
            state.first.set(identity, entry);
          }
        });
        return;
      }
      const session = 'session' in op ? sessions[op.session]! : '';
      const legal: Record<string, () => boolean> = {
        INSUFFICIENT_CREDITS: () =>
          (op.kind === 'hold' && minAvailable[walletOf(op)]! < 1) ||
          (op.kind === 'adjust' && minAvailable[walletOf(op)]! < -adjustCredits(op.key)),
        NOT_FOUND: () => (op.kind === 'commit' || op.kind === 'void') && !heldAtStart.has(session),
        HOLD_ALREADY_VOIDED: () => op.kind === 'commit' && sessionState.get(session) === 'VOIDED',
        HOLD_ALREADY_COMMITTED: () => op.kind === 'void' && sessionState.get(session) === 'COMMITTED',
      };
      expect(legal[answer.error]?.() ?? false, `${JSON.stringify(op)} answered ${answer.error}`).toBe(true);
    });
    for (const id of newIds) expect(answered.has(id), `row ${id} was written but answered to nobody`).toBe(true);
  }

  /** Wallets as stored, with Σ of their rows, for the final check. */
  async function checkWallets(state: Run): Promise<void> {
    const { rows } = await admin.query<{
      id: string;
      balance: number;
      held: number;
      sum_amount: number;
      sum_held: number;
      negative_rows: number;
    }>(
      `SELECT w.id, w.balance, w.held,
              coalesce(sum(t.amount), 0)::int AS sum_amount, coalesce(sum(t.held_delta), 0)::int AS sum_held,
              count(t.id) FILTER (WHERE t.balance_after < 0 OR t.held_after < 0 OR t.balance_after < t.held_after)::int
                AS negative_rows
         FROM billing.credit_wallets w LEFT JOIN billing.credit_transactions t ON t.wallet_id = w.id
        WHERE w.id = ANY ($1::uuid[]) GROUP BY w.id`,
      [state.wallets],
    );
    for (const row of rows) {
      const model = state.model[state.walletIndex.get(row.id)!]!;
      const openHolds = [...state.sessionState].filter(
        ([session, value]) =>
          value === 'HELD' && state.sessions.indexOf(session) % WALLETS === state.walletIndex.get(row.id),
      ).length;
      expect(row).toEqual({
        id: row.id,
        balance: model.balance,
        held: model.held,
        sum_amount: model.balance,
        sum_held: model.held,
        negative_rows: 0,
      });
      expect(model.held).toBe(openHolds);
    }
    expect(rows).toHaveLength(WALLETS);
  }

  it(`keeps balance = Σ amounts, held = Σ held deltas and the model's values over ≥ ${MIN_OPERATIONS} operations`, async () => {
    await fc.assert(
      fc.asyncProperty(runArbitrary, async (batches) => {
        const state = await newRun();
        for (const batch of batches) await runBatch(state, batch);
        await checkWallets(state);
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: 170_000, markInterruptAsFailure: true },
    );
    expect(operations).toBeGreaterThanOrEqual(MIN_OPERATIONS);
  }, 180_000);
});
