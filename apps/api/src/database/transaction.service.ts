import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DomainException } from '../common/errors/domain.exception.js';
import { currentContext, requestContext, type RequestIdentity } from '../common/http/request-context.js';
import { APP_DATA_SOURCE, SYSTEM_USER_ID } from './database.constants.js';

/**
 * Opens the RLS-bound transactions every repository works in (DESIGN.md "Data").
 *
 * A transaction first sets `app.user_id` and `app.role` with
 * `set_config(…, true)` (transaction-local, safe with a pool); PostgreSQL's
 * policies read them. Without them any query on a tenant table raises SQLSTATE 28000.
 */
@Injectable()
export class TransactionService {
  constructor(@Inject(APP_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /**
   * Runs `work` in one transaction acting for `identity`; commits when it resolves,
   * rolls back when it throws. Inside, {@link manager} returns this transaction.
   */
  async runAs<T>(identity: RequestIdentity, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT set_config('app.user_id', $1, true), set_config('app.role', $2, true)`, [
        identity.userId,
        identity.role,
      ]);
      const parent = currentContext();
      return requestContext.run({ ...parent, requestId: parent?.requestId ?? randomUUID(), identity, manager }, () =>
        work(manager),
      );
    });
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
    await manager.query(`SELECT set_config('app.user_id', $1, true), set_config('app.role', $2, true)`, [
      system.userId,
      system.role,
    ]);
    try {
      return await requestContext.run({ ...context, identity: system }, () => work(manager));
    } finally {
      await manager.query(`SELECT set_config('app.user_id', $1, true), set_config('app.role', $2, true)`, [
        identity.userId,
        identity.role,
      ]);
    }
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

  /** `SELECT 1` on a pooled connection (readiness); no tenant data is touched. */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }
}
