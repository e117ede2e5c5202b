import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource, EntityManager } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import { currentContext, type RequestIdentity } from '../../src/common/http/request-context.js';
import { SYSTEM_USER_ID } from '../../src/database/database.constants.js';
import { createAppDataSource } from '../../src/database/data-sources.js';
import { identitySql, TransactionService } from '../../src/database/transaction.service.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** The SQLSTATE of a (TypeORM-wrapped) PostgreSQL error, or undefined. */
function sqlState(error: unknown): string | undefined {
  const raw = error as { code?: string; driverError?: { code?: string } };
  return raw?.driverError?.code ?? raw?.code;
}

/** What a promise rejected with (the test fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const SYSTEM: RequestIdentity = { userId: SYSTEM_USER_ID, role: 'SYSTEM' };

/**
 * TransactionService over the real application DataSource with a pool of 2 connections, so
 * every test reuses the same two PostgreSQL sessions and would see anything one leaves behind.
 */
describe('TransactionService on PostgreSQL (application role, pool of 2)', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let tx: TransactionService;
  const owner: RequestIdentity = { userId: randomUUID(), role: 'OWNER' };
  const user: RequestIdentity = { userId: randomUUID(), role: 'USER' };

  beforeAll(async () => {
    database = await createTestDatabase();
    for (const [i, identity] of [owner, user].entries()) {
      await database.adminQuery(`INSERT INTO auth.users (id, email) VALUES ($1, $2)`, [
        identity.userId,
        `tx-${i}@example.com`,
      ]);
    }
    dataSource = createAppDataSource(database.appUrl, 2);
    await dataSource.initialize();
    tx = new TransactionService(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Identity settings of the current transaction ('' or null when unset). */
  async function settings(manager: EntityManager): Promise<{ userId: string | null; role: string | null }> {
    const rows = (await manager.query(
      `SELECT current_setting('app.user_id', true) AS "userId", current_setting('app.role', true) AS role`,
    )) as Array<{ userId: string | null; role: string | null }>;
    return rows[0]!;
  }

  const walletsOf = (userId: string) =>
    database.adminQuery<{ id: string }>(`SELECT id FROM billing.credit_wallets WHERE user_id = $1`, [userId]);

  /**
   * Takes BOTH pooled connections at once (so each is checked) and, on each, outside runAs:
   * no identity is set, a tenant table raises 28000, and no transaction is open.
   */
  async function expectPoolClean(): Promise<void> {
    const runners = [dataSource.createQueryRunner(), dataSource.createQueryRunner()];
    try {
      const pids = new Set<number>();
      for (const runner of runners) {
        await runner.connect();
        const [row] = (await runner.query(
          `SELECT pg_backend_pid() AS pid, current_setting('app.user_id', true) AS "userId",
                  current_setting('app.role', true) AS role, now() = statement_timestamp() AS fresh`,
        )) as Array<{ pid: number; userId: string | null; role: string | null; fresh: boolean }>;
        pids.add(row!.pid);
        expect(row!.userId ?? '').toBe('');
        expect(row!.role ?? '').toBe('');
        // now() is the transaction start: equal to the statement's own start only when the
        // statement runs in its own (implicit) transaction, not in one left open.
        expect(row!.fresh).toBe(true);
        const error = await rejection(runner.query(`SELECT count(*) FROM billing.credit_wallets`));
        expect(sqlState(error)).toBe('28000');
      }
      expect(pids.size).toBe(2);
    } finally {
      for (const runner of runners) await runner.release();
    }
    const states = await database.adminQuery<{ state: string }>(
      `SELECT state FROM pg_stat_activity WHERE datname = $1 AND usename = 'miinventario_app'`,
      [database.name],
    );
    expect(states.length).toBeGreaterThan(0);
    for (const { state } of states) expect(state).toBe('idle');
  }

  it('sets the identity inside the transaction, binds manager() to it, and commits', async () => {
    const ids = await tx.runAs(owner, async (manager) => {
      expect(await settings(manager)).toEqual({ userId: owner.userId, role: 'OWNER' });
      expect(tx.manager()).toBe(manager);
      expect(currentContext()?.identity).toEqual(owner);
      const [auth] = (await tx.query(`SELECT auth.request_user_id()::text AS id, auth.request_role() AS role`)) as [
        { id: string; role: string },
      ];
      expect(auth).toEqual({ id: owner.userId, role: 'OWNER' });
      // Every statement runs in the same transaction.
      const first = (await tx.query(`SELECT txid_current()::text AS id`)) as [{ id: string }];
      const second = (await manager.query(`SELECT txid_current()::text AS id`)) as [{ id: string }];
      return [first[0].id, second[0].id];
    });
    expect(ids[0]).toBe(ids[1]);
    await tx.runAsSystem(() =>
      tx.query(`INSERT INTO billing.credit_wallets (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, [owner.userId]),
    );
    expect(await walletsOf(owner.userId)).toHaveLength(1);
    await expectPoolClean();
  });

  it('rolls back when the work throws, and leaves no identity or transaction behind', async () => {
    const boom = new Error('boom');
    const error = await rejection(
      tx.runAsSystem(async () => {
        await tx.query(`INSERT INTO billing.credit_wallets (user_id) VALUES ($1)`, [user.userId]);
        expect(await tx.query(`SELECT id FROM billing.credit_wallets WHERE user_id = $1`, [user.userId])).toHaveLength(
          1,
        );
        throw boom;
      }),
    );
    expect(error).toBe(boom);
    expect(await walletsOf(user.userId)).toHaveLength(0);
    await expectPoolClean();
  });

  it('rolls back a transaction aborted by an SQL error, and the connection is usable afterwards', async () => {
    const error = await rejection(
      tx.runAsSystem(async () => {
        await tx.query(`INSERT INTO billing.credit_wallets (user_id) VALUES ($1)`, [user.userId]);
        await tx.query(`SELECT 1 / 0`);
      }),
    );
    expect(sqlState(error)).toBe('22012');
    expect(await walletsOf(user.userId)).toHaveLength(0);
    await expectPoolClean();
    // Both connections still work in a new transaction.
    await Promise.all([
      tx.runAs(user, async (m) => expect(await settings(m)).toEqual({ userId: user.userId, role: 'USER' })),
      tx.runAs(owner, async (m) => expect(await settings(m)).toEqual({ userId: owner.userId, role: 'OWNER' })),
    ]);
  });

  it('a nested manager.transaction uses a savepoint: its rollback keeps the outer work', async () => {
    const [kept, dropped] = [randomUUID(), randomUUID()];
    for (const id of [kept, dropped]) {
      await database.adminQuery(`INSERT INTO auth.users (id, email) VALUES ($1, $2)`, [id, `tx-${id}@example.com`]);
    }
    await tx.runAsSystem(async (manager) => {
      await manager.query(`INSERT INTO billing.credit_wallets (user_id) VALUES ($1)`, [kept]);
      const inner = await rejection(
        manager.transaction(async (nested) => {
          await nested.query(`INSERT INTO billing.credit_wallets (user_id) VALUES ($1)`, [dropped]);
          throw new Error('inner');
        }),
      );
      expect((inner as Error).message).toBe('inner');
      expect(await settings(manager)).toEqual({ userId: SYSTEM_USER_ID, role: 'SYSTEM' });
    });
    expect(await walletsOf(kept)).toHaveLength(1);
    expect(await walletsOf(dropped)).toHaveLength(0);
    await expectPoolClean();
  });

  it.each([
    ['an SQL injection in the user id', { userId: `x'; SET LOCAL app.role = 'SYSTEM'; --`, role: 'USER' }],
    ['a UUID with a trailing quote', { userId: `${SYSTEM_USER_ID}'`, role: 'USER' }],
    ['a UUID with a newline', { userId: `${SYSTEM_USER_ID}\n`, role: 'USER' }],
    ['a UUID without hyphens', { userId: SYSTEM_USER_ID.replaceAll('-', ''), role: 'USER' }],
    ['an empty user id', { userId: '', role: 'USER' }],
    ['a non-string user id', { userId: 42, role: 'USER' }],
    ['a lower-case role', { userId: SYSTEM_USER_ID, role: 'system' }],
    ['an unknown role', { userId: SYSTEM_USER_ID, role: 'ROOT' }],
    ['a role with SQL', { userId: SYSTEM_USER_ID, role: `USER'; SET LOCAL app.role = 'SYSTEM` }],
    ['a missing role', { userId: SYSTEM_USER_ID }],
  ])('refuses %s before any SQL', async (_label, identity) => {
    const createRunner = vi.spyOn(dataSource, 'createQueryRunner');
    const work = vi.fn(async () => 'ran');
    const error = await rejection(tx.runAs(identity as unknown as RequestIdentity, work));
    expect(error).toBeInstanceOf(DomainException);
    expect((error as DomainException).code).toBe('NO_REQUEST_IDENTITY');
    expect(work).not.toHaveBeenCalled();
    expect(createRunner).not.toHaveBeenCalled();
    expect(() => identitySql(identity as unknown as RequestIdentity)).toThrow(DomainException);
  });

  it('accepts an upper-case UUID (the same pattern auth.request_user_id() accepts)', async () => {
    const upper = { userId: owner.userId.toUpperCase(), role: 'OWNER' as const };
    await tx.runAs(upper, async () => {
      expect(await tx.query(`SELECT auth.request_user_id()::text AS id`)).toEqual([{ id: owner.userId }]);
    });
  });

  it('elevate (nested twice) runs as SYSTEM and restores the caller identity, also after a caught error', async () => {
    await tx.runAs(owner, async (manager) => {
      const seen = await tx.elevate(async (inner) => {
        expect(inner).toBe(manager);
        const outer = await settings(manager);
        const nested = await tx.elevate(async () => {
          expect(currentContext()?.identity).toEqual(SYSTEM);
          return settings(manager);
        });
        return { outer, nested, after: await settings(manager) };
      });
      const system = { userId: SYSTEM_USER_ID, role: 'SYSTEM' };
      expect(seen).toEqual({ outer: system, nested: system, after: system });
      expect(await settings(manager)).toEqual({ userId: owner.userId, role: 'OWNER' });
      expect(currentContext()?.identity).toEqual(owner);

      // A failure that does not abort the transaction: the caller catches it and goes on as itself.
      const failure = await rejection(
        tx.elevate(async () => {
          throw new DomainException('CONFLICT', 'nope');
        }),
      );
      expect((failure as DomainException).code).toBe('CONFLICT');
      expect(await settings(manager)).toEqual({ userId: owner.userId, role: 'OWNER' });
    });
    await expectPoolClean();
  });

  it('elevate reports the work’s own SQL error (not the failed restore) and the request rolls back', async () => {
    const error = await rejection(
      tx.runAs(owner, async () => {
        await tx.elevate(async () => {
          await tx.query(`INSERT INTO billing.credit_wallets (user_id) VALUES ($1)`, [user.userId]);
          await tx.query(`SELECT 1 / 0`);
        });
      }),
    );
    expect(sqlState(error)).toBe('22012');
    expect(await walletsOf(user.userId)).toHaveLength(0);
    await expectPoolClean();
  });

  it('elevate outside a transaction opens its own SYSTEM transaction', async () => {
    const seen = await tx.elevate((manager) => settings(manager));
    expect(seen).toEqual({ userId: SYSTEM_USER_ID, role: 'SYSTEM' });
    expect(() => tx.manager()).toThrow(DomainException);
    await expect(tx.query('SELECT 1')).rejects.toBeInstanceOf(DomainException);
  });

  it('never mixes identities between concurrent transactions on a pool of 2', async () => {
    const identities = [owner, user, SYSTEM];
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const identity = identities[i % identities.length]!;
        return tx.runAs(identity, async (manager) => {
          const seen: Array<{ userId: string | null; role: string | null }> = [];
          for (let step = 0; step < 3; step += 1) {
            seen.push(await settings(manager));
            expect(tx.manager()).toBe(manager);
            expect(currentContext()?.identity).toBe(identity);
            // Yield to the event loop so other transactions interleave on the other connection.
            await sleep(i % 3);
          }
          if (i % 7 === 0) throw new Error(`rollback ${i}`);
          return { identity, seen };
        });
      }).map((promise) => promise.catch((error: Error) => error.message)),
    );
    let checked = 0;
    for (const result of results) {
      if (typeof result === 'string') {
        expect(result).toMatch(/^rollback \d+$/);
        continue;
      }
      for (const seen of result.seen)
        expect(seen).toEqual({ userId: result.identity.userId, role: result.identity.role });
      checked += 1;
    }
    expect(checked).toBe(60 - Math.ceil(60 / 7));
    await expectPoolClean();
  });

  it('ping runs outside any transaction', async () => {
    await tx.ping();
    await expectPoolClean();
  });
});
