import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import {
  InventorySessionService,
  type TransitionResult,
} from '../../src/modules/inventory/inventory-session.service.js';
import type { SessionState } from '../../src/modules/inventory/session-state.js';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ADMIN_EMAIL = 'inventario-admin@miinventario.mx';
/** Ten racing workers must each hold a connection at once (see "racing workers" below). */
const POOL_SIZE = 12;

type Method = 'GET' | 'POST';

interface Session {
  id: string;
  storeId: string;
  state: SessionState;
  failureCode: string | null;
  createdBy: string;
  createdAt: string;
  attempts: number;
  [key: string]: unknown;
}

/** Code of a DomainException a promise rejects with, 'changed' / 'unchanged' when it resolves. */
async function outcome(promise: Promise<TransitionResult>): Promise<string> {
  try {
    return (await promise).changed ? 'changed' : 'unchanged';
  } catch (error) {
    if (error instanceof DomainException) return `${error.code}/${error.status}`;
    throw error;
  }
}

describe('inventory sessions', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let admin: SignedIn;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, {
      env: { ADMIN_IDENTIFIERS: ADMIN_EMAIL, DATABASE_POOL_SIZE: String(POOL_SIZE) },
    });
    admin = await signIn(testApp, ADMIN_EMAIL);
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  const call = (who: SignedIn, method: Method, url: string, payload?: object) =>
    testApp.app.inject({ method, url, headers: bearer(who), ...(payload === undefined ? {} : { payload }) });
  const service = () => testApp.app.get(InventorySessionService);

  async function createStore(owner: SignedIn, name = 'Abarrotes Lupita'): Promise<string> {
    const response = await call(owner, 'POST', '/api/v1/stores', { name, giro: 'abarrotes' });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  }

  /** A new owner (1 welcome credit, plus `extra` granted by the admin) with a store. */
  async function newOwner(extra = 0): Promise<{ owner: SignedIn; storeId: string }> {
    const owner = await signIn(testApp, uniquePhone());
    if (extra > 0) {
      const adjusted = await call(admin, 'POST', `/api/v1/admin/credits/wallets/${owner.user.id}/adjustments`, {
        credits: extra,
        reason: 'créditos de prueba',
      });
      expect(adjusted.statusCode, adjusted.body).toBe(201);
    }
    return { owner, storeId: await createStore(owner) };
  }

  async function addOperator(owner: SignedIn, storeId: string): Promise<SignedIn> {
    const phone = uniquePhone();
    const invited = await call(owner, 'POST', `/api/v1/stores/${storeId}/invitations`, { identifier: phone });
    expect(invited.statusCode, invited.body).toBe(201);
    const operator = await signIn(testApp, phone);
    const accepted = await call(operator, 'POST', `/api/v1/invitations/${invited.json().id}/accept`);
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json().role).toBe('OPERATOR');
    return operator;
  }

  const start = (who: SignedIn, storeId: string, payload: object | undefined = {}) =>
    call(who, 'POST', `/api/v1/stores/${storeId}/inventory-sessions`, payload);

  async function started(who: SignedIn, storeId: string, payload: object = {}): Promise<Session> {
    const response = await start(who, storeId, payload);
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as Session;
  }

  async function wallet(who: SignedIn): Promise<{ balance: number; held: number; available: number }> {
    const response = await call(who, 'GET', '/api/v1/credits/wallet');
    expect(response.statusCode, response.body).toBe(200);
    const { balance, held, available } = response.json();
    return { balance, held, available };
  }

  const sessionCount = async (storeId: string) =>
    (
      await database.adminQuery<{ n: number }>(
        'SELECT count(*)::int AS n FROM inventory.inventory_sessions WHERE store_id = $1',
        [storeId],
      )
    )[0]!.n;

  /** Ledger rows of one session's credit, by type (read as superuser). */
  async function holdRows(sessionId: string): Promise<Record<string, number>> {
    const rows = await database.adminQuery<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM billing.credit_transactions
        WHERE reference_type = 'INVENTORY_SESSION' AND reference_id = $1 GROUP BY type`,
      [sessionId],
    );
    return Object.fromEntries(rows.map((row) => [row.type, row.n]));
  }

  /** Balance and held of the wallet of `userId`, and Σ of its ledger rows (read as superuser). */
  async function ledger(userId: string) {
    const [row] = await database.adminQuery<{
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
        WHERE w.user_id = $1 GROUP BY w.id`,
      [userId],
    );
    expect(row!.sum_amount).toBe(row!.balance);
    expect(row!.sum_held).toBe(row!.held);
    return row!;
  }

  /** Walks a session through `states` as the workers would. */
  async function walk(sessionId: string, states: SessionState[]): Promise<void> {
    for (const state of states) {
      const result = await service().transition(sessionId, state);
      expect(result.changed).toBe(true);
      expect(result.session.state).toBe(state);
    }
  }

  it('starts a session: 201 CREATED holding the welcome credit; a second start is 402 and writes nothing', async () => {
    const { owner, storeId } = await newOwner();
    expect(await wallet(owner)).toEqual({ balance: 1, held: 0, available: 1 });

    const response = await start(owner, storeId);
    expect(response.statusCode, response.body).toBe(201);
    const session = response.json() as Session;
    expect(session).toMatchObject({
      storeId,
      state: 'CREATED',
      failureCode: null,
      createdBy: owner.user.id,
      progress: 0,
      attempts: 0,
      idempotencyKey: null,
      uploadingAt: null,
      readyAt: null,
      failedAt: null,
    });
    expect(session.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(session.createdAt)).not.toBeNaN();
    expect(await wallet(owner)).toEqual({ balance: 1, held: 1, available: 0 });
    expect(await holdRows(session.id)).toEqual({ HOLD: 1 });

    const refused = await start(owner, storeId);
    expect(refused.statusCode).toBe(402);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({
      status: 402,
      code: 'INSUFFICIENT_CREDITS',
      instance: `/api/v1/stores/${storeId}/inventory-sessions`,
    });
    expect(await sessionCount(storeId)).toBe(1);
    expect(await wallet(owner)).toEqual({ balance: 1, held: 1, available: 0 });
    expect((await ledger(owner.user.id)).rows).toBe(2); // WELCOME + HOLD

    const read = await call(owner, 'GET', `/api/v1/inventory-sessions/${session.id}`);
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toEqual(session);
    // Ids are case-insensitive in paths.
    const upper = await call(owner, 'GET', `/api/v1/stores/${storeId.toUpperCase()}/inventory-sessions`);
    expect(upper.statusCode, upper.body).toBe(200);
    expect(upper.json().items).toEqual([session]);
  });

  it('refuses a bad body or path with 400 and writes nothing; no body at all is a plain start', async () => {
    const { owner, storeId } = await newOwner(1);
    for (const payload of [{ note: 'x' }, { idempotencyKey: 'short' }, { idempotencyKey: 'has spaces in it' }]) {
      const response = await start(owner, storeId, payload);
      expect({ payload, status: response.statusCode }).toEqual({ payload, status: 400 });
      expect(response.json().code).toBe('VALIDATION_FAILED');
    }
    const badPath = await start(owner, 'not-a-uuid');
    expect(badPath.statusCode).toBe(400);
    expect(await sessionCount(storeId)).toBe(0);
    expect(await wallet(owner)).toEqual({ balance: 2, held: 0, available: 2 });

    const noBody = await start(owner, storeId, undefined);
    expect(noBody.statusCode, noBody.body).toBe(201);
    expect(noBody.json().state).toBe('CREATED');
    expect(await wallet(owner)).toEqual({ balance: 2, held: 1, available: 1 });
  });

  it('returns the same session for a retried idempotency key, serially and concurrently, holding once', async () => {
    const { owner, storeId } = await newOwner(2);
    const first = await started(owner, storeId, { idempotencyKey: 'start-0001-aaaa' });
    expect(first.idempotencyKey).toBe('start-0001-aaaa');
    const again = await started(owner, storeId, { idempotencyKey: 'start-0001-aaaa' });
    expect(again).toEqual(first);
    expect(await wallet(owner)).toEqual({ balance: 3, held: 1, available: 2 });

    const racing = await Promise.all(
      Array.from({ length: 8 }, () => start(owner, storeId, { idempotencyKey: 'start-0002-bbbb' })),
    );
    expect(racing.map((response) => response.statusCode)).toEqual(Array(8).fill(201));
    const ids = new Set(racing.map((response) => response.json().id as string));
    expect(ids.size).toBe(1);
    expect(ids.has(first.id)).toBe(false);
    expect(await holdRows([...ids][0]!)).toEqual({ HOLD: 1 });
    expect(await sessionCount(storeId)).toBe(2);
    expect(await wallet(owner)).toEqual({ balance: 3, held: 2, available: 1 });

    // The key belongs to the store: the same key in another store is another session.
    const otherStore = await createStore(owner, 'Papelería Lupita');
    const elsewhere = await started(owner, otherStore, { idempotencyKey: 'start-0001-aaaa' });
    expect(elsewhere.id).not.toBe(first.id);
    expect(await wallet(owner)).toEqual({ balance: 3, held: 3, available: 0 });
    // A replay answers even with no credit left, and holds nothing.
    expect((await start(owner, storeId, { idempotencyKey: 'start-0001-aaaa' })).json().id).toBe(first.id);
    expect((await ledger(owner.user.id)).rows).toBe(5); // WELCOME, ADJUSTMENT, 3 × HOLD
  });

  it("lets an OPERATOR start a session on the owner's store: the OWNER's wallet pays", async () => {
    const { owner, storeId } = await newOwner();
    const operator = await addOperator(owner, storeId);
    expect(await wallet(operator)).toEqual({ balance: 1, held: 0, available: 1 });

    const session = await started(operator, storeId);
    expect(session).toMatchObject({ storeId, state: 'CREATED', createdBy: operator.user.id });
    expect(await wallet(owner)).toEqual({ balance: 1, held: 1, available: 0 });
    expect(await wallet(operator)).toEqual({ balance: 1, held: 0, available: 1 });
    const [hold] = await database.adminQuery<{ user_id: string; created_by: string }>(
      `SELECT user_id, created_by FROM billing.credit_transactions WHERE type = 'HOLD' AND reference_id = $1`,
      [session.id],
    );
    expect(hold).toEqual({ user_id: owner.user.id, created_by: operator.user.id });

    // The owner has no credit left: the operator's own credit does not pay for the owner's store.
    const refused = await start(operator, storeId);
    expect(refused.statusCode).toBe(402);
    expect(refused.json().code).toBe('INSUFFICIENT_CREDITS');
    expect(await wallet(operator)).toEqual({ balance: 1, held: 0, available: 1 });

    // Both members see it.
    for (const who of [owner, operator]) {
      expect((await call(who, 'GET', `/api/v1/inventory-sessions/${session.id}`)).statusCode).toBe(200);
      const list = await call(who, 'GET', `/api/v1/stores/${storeId}/inventory-sessions`);
      expect(list.json().items.map((item: Session) => item.id)).toEqual([session.id]);
    }
  });

  it('answers 404 (not 403) to a user of another store on start, get and list, and writes nothing', async () => {
    const { owner, storeId } = await newOwner(1);
    const session = await started(owner, storeId);
    const { owner: outsider, storeId: outsiderStore } = await newOwner(1);
    await started(outsider, outsiderStore);
    const before = { owner: await wallet(owner), outsider: await wallet(outsider) };

    for (const [method, url] of [
      ['POST', `/api/v1/stores/${storeId}/inventory-sessions`],
      ['GET', `/api/v1/stores/${storeId}/inventory-sessions`],
      ['GET', `/api/v1/inventory-sessions/${session.id}`],
      ['GET', '/api/v1/inventory-sessions/00000000-0000-4000-8000-000000000001'],
    ] as const) {
      const response = await call(outsider, method, url, method === 'POST' ? {} : undefined);
      expect({ method, url, status: response.statusCode }).toEqual({ method, url, status: 404 });
      expect(response.json().code).toBe('NOT_FOUND');
    }
    // Nor does the owner see the outsider's session in their history.
    const list = await call(owner, 'GET', `/api/v1/stores/${storeId}/inventory-sessions`);
    expect(list.json().items.map((item: Session) => item.id)).toEqual([session.id]);
    expect(await sessionCount(storeId)).toBe(1);
    expect({ owner: await wallet(owner), outsider: await wallet(outsider) }).toEqual(before);
  });

  it('pages the history newest first with a cursor and filters by state', async () => {
    const { owner, storeId } = await newOwner(6);
    const created: Session[] = [];
    for (let i = 0; i < 7; i += 1) created.push(await started(owner, storeId));
    await service().transition(created[1]!.id, 'FAILED', { failureCode: 'VIDEO_TOO_SHORT' });
    await service().transition(created[4]!.id, 'FAILED', { failureCode: 'UPLOAD_EXPIRED' });
    const newestFirst = created.map((session) => session.id).reverse();

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await call(owner, 'GET', `/api/v1/stores/${storeId}/inventory-sessions?${query}`);
      expect(response.statusCode, response.body).toBe(200);
      const page = response.json() as { items: Session[]; nextCursor: string | null };
      seen.push(...page.items.map((item) => item.id));
      pageSizes.push(page.items.length);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pageSizes).toEqual([3, 3, 1]);
    expect(seen).toEqual(newestFirst);

    const failed = await call(owner, 'GET', `/api/v1/stores/${storeId}/inventory-sessions?state=FAILED`);
    expect(failed.json()).toEqual({
      items: [
        expect.objectContaining({ id: created[4]!.id, state: 'FAILED', failureCode: 'UPLOAD_EXPIRED' }),
        expect.objectContaining({ id: created[1]!.id, state: 'FAILED', failureCode: 'VIDEO_TOO_SHORT' }),
      ],
      nextCursor: null,
    });
    const open = await call(owner, 'GET', `/api/v1/stores/${storeId}/inventory-sessions?state=CREATED&limit=100`);
    expect(open.json().items.map((item: Session) => item.id)).toEqual(
      newestFirst.filter((id) => id !== created[1]!.id && id !== created[4]!.id),
    );
    // Default page size 20: all seven.
    expect((await call(owner, 'GET', `/api/v1/stores/${storeId}/inventory-sessions`)).json().items).toHaveLength(7);

    for (const query of ['limit=0', 'limit=101', 'state=DONE', 'cursor=abc', 'page=2']) {
      const bad = await call(owner, 'GET', `/api/v1/stores/${storeId}/inventory-sessions?${query}`);
      expect({ query, status: bad.statusCode }).toEqual({ query, status: 400 });
    }
  });

  it('FAILED voids the hold exactly once; replays and later moves change nothing', async () => {
    const { owner, storeId } = await newOwner();
    const session = await started(owner, storeId);
    await walk(session.id, ['UPLOADING', 'UPLOADED', 'QUEUED', 'PROCESSING', 'QUEUED', 'PROCESSING']);
    const failed = await service().transition(session.id, 'FAILED', {
      failureCode: 'PROCESSING_ERROR',
      failureDetail: 'ffmpeg exited with code 1',
    });
    expect(failed.changed).toBe(true);
    expect(failed.session).toMatchObject({ state: 'FAILED', failureCode: 'PROCESSING_ERROR', attempts: 2 });
    expect(await wallet(owner)).toEqual({ balance: 1, held: 0, available: 1 });
    expect(await holdRows(session.id)).toEqual({ HOLD: 1, HOLD_VOID: 1 });

    const rowsBefore = (await ledger(owner.user.id)).rows;
    const replay = await service().transition(session.id, 'FAILED', { failureCode: 'UPLOAD_EXPIRED' });
    expect(replay.changed).toBe(false);
    expect(replay.session.failureCode).toBe('PROCESSING_ERROR');
    for (const to of ['READY', 'QUEUED', 'PROCESSING', 'CREATED'] as const) {
      expect(await outcome(service().transition(session.id, to))).toBe('INVALID_STATE_TRANSITION/409');
    }
    expect(await holdRows(session.id)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
    expect((await ledger(owner.user.id)).rows).toBe(rowsBefore);
    expect(await wallet(owner)).toEqual({ balance: 1, held: 0, available: 1 });

    const read = (await call(owner, 'GET', `/api/v1/inventory-sessions/${session.id}`)).json() as Session;
    expect(read).toMatchObject({ state: 'FAILED', failureCode: 'PROCESSING_ERROR' });
    for (const field of ['uploadingAt', 'uploadedAt', 'queuedAt', 'processingAt', 'failedAt']) {
      expect(Date.parse(read[field] as string), field).not.toBeNaN();
    }
    expect(read.readyAt).toBeNull();
    // The released credit starts the next inventory.
    expect((await start(owner, storeId)).statusCode).toBe(201);
  });

  it('READY commits the hold exactly once; replays and later moves change nothing', async () => {
    const { owner, storeId } = await newOwner();
    const session = await started(owner, storeId);
    await walk(session.id, ['UPLOADING', 'UPLOADED', 'QUEUED', 'PROCESSING', 'READY']);
    expect(await wallet(owner)).toEqual({ balance: 0, held: 0, available: 0 });
    expect(await holdRows(session.id)).toEqual({ HOLD: 1, HOLD_COMMIT: 1 });

    expect(await outcome(service().transition(session.id, 'READY'))).toBe('unchanged');
    expect(await outcome(service().transition(session.id, 'FAILED', { failureCode: 'PROCESSING_ERROR' }))).toBe(
      'INVALID_STATE_TRANSITION/409',
    );
    expect(await holdRows(session.id)).toEqual({ HOLD: 1, HOLD_COMMIT: 1 });
    expect(await wallet(owner)).toEqual({ balance: 0, held: 0, available: 0 });
    const read = (await call(owner, 'GET', `/api/v1/inventory-sessions/${session.id}`)).json() as Session;
    expect(read).toMatchObject({ state: 'READY', progress: 100, attempts: 1, failedAt: null });
    expect(Date.parse(read.readyAt as string)).not.toBeNaN();
    expect((await start(owner, storeId)).statusCode).toBe(402);
  });

  it('refuses an illegal move with 409 INVALID_STATE_TRANSITION and a FAILED without a reason with 400', async () => {
    const { owner, storeId } = await newOwner();
    const session = await started(owner, storeId);
    for (const to of ['UPLOADED', 'QUEUED', 'PROCESSING', 'READY'] as const) {
      expect(await outcome(service().transition(session.id, to))).toBe('INVALID_STATE_TRANSITION/409');
    }
    expect(await outcome(service().transition(session.id, 'FAILED'))).toBe('VALIDATION_FAILED/400');
    expect(await outcome(service().transition(session.id, 'UPLOADING', { failureCode: 'VIDEO_EMPTY' }))).toBe(
      'VALIDATION_FAILED/400',
    );
    expect(await outcome(service().transition('00000000-0000-4000-8000-000000000001', 'UPLOADING'))).toBe(
      'NOT_FOUND/404',
    );
    expect((await call(owner, 'GET', `/api/v1/inventory-sessions/${session.id}`)).json().state).toBe('CREATED');
    expect(await holdRows(session.id)).toEqual({ HOLD: 1 });
  });

  describe('racing workers', () => {
    /**
     * Holds a row lock on the session (as superuser) while `count` transitions start: each
     * reads the old state, then blocks on its UPDATE. Once all of them wait, the lock is
     * released and they race for the same row — deterministically, whatever the scheduling.
     */
    async function race(sessionId: string, moves: Array<() => Promise<TransitionResult>>): Promise<string[]> {
      const blocker = new pg.Client({ connectionString: database.adminUrl });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('SELECT id FROM inventory.inventory_sessions WHERE id = $1 FOR UPDATE', [sessionId]);
        const results = Promise.all(moves.map((move) => outcome(move())));
        const deadline = Date.now() + 20_000;
        for (;;) {
          // On its own connection: inside the blocker's transaction pg_stat_activity would be a frozen snapshot.
          const [row] = await database.adminQuery<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE inventory.%'`,
          );
          if (row!.n >= moves.length) break;
          if (Date.now() > deadline) throw new Error(`only ${row!.n} of ${moves.length} transitions are waiting`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await blocker.query('COMMIT');
        return await results;
      } finally {
        await blocker.end();
      }
    }

    it('lets only one of ten workers move QUEUED → PROCESSING (the UPDATE is guarded by the state)', async () => {
      const { owner, storeId } = await newOwner();
      const session = await started(owner, storeId);
      await walk(session.id, ['UPLOADING', 'UPLOADED', 'QUEUED']);
      const results = await race(
        session.id,
        Array.from({ length: 10 }, () => () => service().transition(session.id, 'PROCESSING')),
      );
      expect(results.filter((result) => result === 'changed')).toHaveLength(1);
      expect(results.filter((result) => result === 'unchanged')).toHaveLength(9);
      const read = (await call(owner, 'GET', `/api/v1/inventory-sessions/${session.id}`)).json() as Session;
      expect(read).toMatchObject({ state: 'PROCESSING', attempts: 1 });
    });

    it('settles READY against FAILED once: one winner, one ledger row, a consistent wallet', async () => {
      const { owner, storeId } = await newOwner();
      const session = await started(owner, storeId);
      await walk(session.id, ['UPLOADING', 'UPLOADED', 'QUEUED', 'PROCESSING']);
      const results = await race(
        session.id,
        Array.from(
          { length: 10 },
          (_, i) => () =>
            i % 2 === 0
              ? service().transition(session.id, 'READY')
              : service().transition(session.id, 'FAILED', { failureCode: 'PROCESSING_ERROR' }),
        ),
      );
      expect(results.filter((result) => result === 'changed')).toHaveLength(1);
      const final = ((await call(owner, 'GET', `/api/v1/inventory-sessions/${session.id}`)).json() as Session).state;
      // The losers that wanted the same final state see a replay; the others an illegal move out of it.
      const winnerIndexes = results.map((result, i) => (i % 2 === 0 ? 'READY' : 'FAILED') === final && result);
      expect(winnerIndexes.filter((result) => result === 'unchanged')).toHaveLength(4);
      expect(results.filter((result) => result === 'INVALID_STATE_TRANSITION/409')).toHaveLength(5);
      if (final === 'READY') {
        expect(await holdRows(session.id)).toEqual({ HOLD: 1, HOLD_COMMIT: 1 });
        expect(await wallet(owner)).toEqual({ balance: 0, held: 0, available: 0 });
      } else {
        expect(final).toBe('FAILED');
        expect(await holdRows(session.id)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
        expect(await wallet(owner)).toEqual({ balance: 1, held: 0, available: 1 });
      }
      await ledger(owner.user.id);
    });
  });
});
