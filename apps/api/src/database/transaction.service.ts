import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { DomainException } from '../common/errors/domain.exception.js';
import { currentContext, requestContext, type RequestIdentity } from '../common/http/request-context.js';
import { APP_DATA_SOURCE, SYSTEM_USER_ID } from './database.constants.js';

/** The same pattern `auth.request_user_id()` accepts (migration InitialSchema): hex digits and hyphens only. */
const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** The five values `auth.request_role()` accepts. */
const ROLES: ReadonlySet<string> = new Set<RequestIdentity['role']>(['USER', 'OWNER', 'OPERATOR', 'ADMIN', 'SYSTEM']);

/**
 * `SET LOCAL` of both identity settings (the same as `set_config(…, true)`: transaction-local, so
 * COMMIT or ROLLBACK clears them), as simple-protocol SQL that can share one round trip with
 * `BEGIN` (the extended protocol, which takes `$1` parameters, allows one statement per message).
 *
 * The values are inlined into the SQL. That is safe only because they are checked first,
 * strictly, against closed alphabets with no quote, backslash, semicolon or space: the user id
 * must be a canonical UUID (36 characters of `[0-9a-fA-F-]`, the pattern `auth.request_user_id()`
 * accepts) and the role one of the five fixed upper-case words `auth.request_role()` accepts.
 * Anything else (a non-string too) is refused here, before any connection is taken or any SQL
 * is sent.
 *
 * @throws DomainException NO_REQUEST_IDENTITY when the user id or role is malformed.
 */
export function identitySql(identity: RequestIdentity): string {
  const { userId, role } = (identity ?? {}) as Partial<Record<keyof RequestIdentity, unknown>>;
  if (typeof userId !== 'string' || !UUID_PATTERN.test(userId)) {
    throw new DomainException('NO_REQUEST_IDENTITY', 'Refused a transaction: the identity user id is not a UUID.');
  }
  if (typeof role !== 'string' || !ROLES.has(role)) {
    throw new DomainException('NO_REQUEST_IDENTITY', 'Refused a transaction: the identity role is not a known role.');
  }
  return `SET LOCAL app.user_id = '${userId}'; SET LOCAL app.role = '${role}'`;
}

/**
 * TypeORM's transaction bookkeeping on a query runner. `isTransactionActive` is public;
 * `transactionDepth` is protected in the typings but a plain property at runtime (TypeORM 1.x
 * `BaseQueryRunner`): `commitTransaction`/`rollbackTransaction` read it to issue COMMIT/ROLLBACK
 * (depth 1) or RELEASE/ROLLBACK TO SAVEPOINT (deeper), and a nested `manager.transaction(…)` or
 * an entity `save` reads it to use a savepoint instead of a second `START TRANSACTION`.
 */
interface TransactionState {
  isTransactionActive: boolean;
  transactionDepth: number;
}

/**
 * Opens the RLS-bound transactions every repository works in (DESIGN.md "Data").
 *
 * A transaction first sets `app.user_id` and `app.role` with `SET LOCAL`
 * (transaction-local, like `set_config(…, true)`: safe with a pool); PostgreSQL's
 * policies read them. Without them any query on a tenant table raises SQLSTATE 28000.
 *
 * One {@link runAs} costs the work's statements plus two round trips: `BEGIN` with the identity
 * ({@link identitySql}), then `COMMIT` (or `ROLLBACK`). `DataSource.transaction` plus a
 * parameterised `set_config` took three (`START TRANSACTION`, `set_config`, `COMMIT`); see
 * bench/README.md for what that is worth.
 * Because the identity is transaction-local, COMMIT or ROLLBACK clears it: a connection goes
 * back to the pool with neither an open transaction nor an identity.
 */
@Injectable()
export class TransactionService {
  constructor(@Inject(APP_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /**
   * Runs `work` in one transaction acting for `identity`; commits when it resolves,
   * rolls back when it throws. Inside, {@link manager} returns this transaction.
   *
   * @throws DomainException NO_REQUEST_IDENTITY, before any SQL, when the identity is malformed.
   */
  async runAs<T>(identity: RequestIdentity, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const begin = `BEGIN; ${identitySql(identity)}`;
    const runner = this.dataSource.createQueryRunner();
    let released = false;
    try {
      await this.begin(runner, begin);
      const parent = currentContext();
      const manager = runner.manager;
      const result = await requestContext.run(
        { ...parent, requestId: parent?.requestId ?? randomUUID(), identity, manager },
        () => work(manager),
      );
      await runner.commitTransaction();
      return result;
    } catch (error) {
      if (runner.isTransactionActive) {
        try {
          await runner.rollbackTransaction();
        } catch (rollbackError) {
          // The connection may still be inside a transaction: hand it back to the pool with an
          // error so pg-pool destroys it instead of reusing it. The caller gets `error`.
          released = true;
          await releaseBroken(runner, rollbackError);
        }
      }
      throw error;
    } finally {
      if (!released) await runner.release();
    }
  }

  /** Runs `work` as the worker's explicit system identity (role SYSTEM). */
  async runAsSystem<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.runAs({ userId: SYSTEM_USER_ID, role: 'SYSTEM' }, work);
  }

  /**
   * Runs `work` as SYSTEM inside the current transaction when one is open (so it
   * commits or rolls back with the request), restoring the caller's identity
   * afterwards; opens a SYSTEM transaction otherwise. For the few reads and writes
   * a person may trigger on rows that row-level security keeps to SYSTEM.
   */
  async elevate<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const context = currentContext();
    const manager = context?.manager;
    const identity = context?.identity;
    if (!manager || !identity) return this.runAsSystem(work);
    const system: RequestIdentity = { userId: SYSTEM_USER_ID, role: 'SYSTEM' };
    const elevated = identitySql(system);
    const restore = identitySql(identity);
    await setIdentity(manager, elevated);
    let result: T;
    try {
      result = await requestContext.run({ ...context, identity: system }, () => work(manager));
    } catch (error) {
      // Restore the caller's identity before the error travels on (a caller may catch it and
      // go on in this transaction). If the restore fails, the transaction is unusable: a failed
      // statement inside a transaction block aborts it (here usually already aborted by the
      // work's own error: 25P02), so every further statement fails until the ROLLBACK, which
      // also clears the SYSTEM identity. The work's error is then the one worth reporting.
      await setIdentity(manager, restore).catch(() => undefined);
      throw error;
    }
    await setIdentity(manager, restore);
    return result;
  }

  /**
   * The current request's (or job's) transaction.
   *
   * @throws DomainException NO_REQUEST_IDENTITY when called outside {@link runAs}.
   */
  manager(): EntityManager {
    const manager = currentContext()?.manager;
    if (!manager) throw new DomainException('NO_REQUEST_IDENTITY', 'No transaction with an identity is open.');
    return manager;
  }

  /**
   * Runs one SQL statement in the current transaction and returns its rows (also for
   * INSERT/UPDATE/DELETE … RETURNING: TypeORM's plain `query` returns `[rows, count]`
   * for those, which this hides).
   *
   * @throws DomainException NO_REQUEST_IDENTITY outside a transaction.
   */
  async query(sql: string, params: unknown[] = []): Promise<unknown[]> {
    const runner = this.manager().queryRunner;
    if (!runner) throw new DomainException('NO_REQUEST_IDENTITY', 'No transaction with an identity is open.');
    const result = await runner.query(sql, params, true);
    return result.records as unknown[];
  }

  /**
   * Like {@link query}, as the named prepared statement `name` of the transaction's connection:
   * PostgreSQL parses, analyses and plans `sql` the first time a connection runs it, then only
   * binds and executes it (node-postgres keeps the names it prepared per connection). For the few
   * hot statements whose planning costs more than their execution (the ledger calls: see
   * bench/README.md). `sql` must be a single statement, always the same for one `name`;
   * parameters need explicit casts (`$1::uuid`).
   *
   * Runs on the node-postgres client directly, not through TypeORM's query runner: no query
   * logging or subscriber events (the app configures neither), and a failed statement rejects with
   * node-postgres' error (`code`, `constraint`, … at the top level, not under `driverError`).
   *
   * Caution: the plan is kept per connection across transactions, so row-level security quals
   * folded while planning (`auth.has_identity()`) are not re-checked: the statement itself should
   * read no table (a function call, as the ledger's, whose own statements are checked as usual).
   * A migration that changes the statement's result columns needs the API restarted (PostgreSQL
   * refuses a prepared statement whose result type changed: 0A000).
   *
   * @throws DomainException NO_REQUEST_IDENTITY outside a transaction.
   */
  async queryPrepared(name: string, sql: string, params: unknown[] = []): Promise<unknown[]> {
    const runner = this.manager().queryRunner;
    if (!runner) throw new DomainException('NO_REQUEST_IDENTITY', 'No transaction with an identity is open.');
    // PostgresQueryRunner.connect() resolves to the pooled node-postgres client it holds.
    const client = (await runner.connect()) as PoolClient;
    const result = await client.query({ name, text: sql, values: params });
    return result.rows;
  }

  /** `SELECT 1` on a pooled connection (readiness); no tenant data is touched. */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  /**
   * `BEGIN` + identity in one round trip on `runner`, then TypeORM's bookkeeping as its own
   * `startTransaction()` leaves it (active, depth 1; subscribers get the same two events), so
   * `commitTransaction`/`rollbackTransaction` and nested `manager.transaction` (savepoints)
   * behave as with `DataSource.transaction`. Marked active before the statement is sent, as
   * TypeORM does, so a failure of the statement itself (say BEGIN ran, a SET LOCAL did not) still
   * ends in ROLLBACK.
   */
  private async begin(runner: QueryRunner, sql: string): Promise<void> {
    const state = runner as unknown as TransactionState;
    if (state.isTransactionActive || state.transactionDepth !== 0) {
      // A fresh runner always starts at depth 0; anything else means TypeORM changed shape.
      throw new Error('TransactionService: unexpected query runner transaction state');
    }
    state.isTransactionActive = true;
    try {
      await runner.broadcaster.broadcast('BeforeTransactionStart');
    } catch (error) {
      state.isTransactionActive = false;
      throw error;
    }
    state.transactionDepth = 1;
    await runner.query(sql);
    await runner.broadcaster.broadcast('AfterTransactionStart');
  }
}

/** Runs the {@link identitySql} `sql` in `manager`'s open transaction (one round trip). */
async function setIdentity(manager: EntityManager, sql: string): Promise<void> {
  await manager.query(sql);
}

/** Releases `runner`'s connection so the pool discards it (PostgresQueryRunner passes the error to pg-pool). */
async function releaseBroken(runner: QueryRunner, error: unknown): Promise<void> {
  const postgres = runner as unknown as { releasePostgresConnection?: (err?: unknown) => Promise<void> };
  if (typeof postgres.releasePostgresConnection === 'function') {
    await postgres.releasePostgresConnection(error instanceof Error ? error : new Error(String(error)));
  } else {
    await runner.release();
  }
}
