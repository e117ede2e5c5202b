import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ROLE, OWNER_ROLE, RLS_HELPER_ROLE } from '../../src/database/database.constants.js';
import {
  countsBy,
  inTransaction,
  runAs,
  seedTenants,
  sqlState,
  STORE_TABLES,
  SYSTEM,
  type Fixtures,
  type Identity,
  type Queryable,
  type StoreTable,
  type Tenant,
} from '../support/rls-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const SCHEMAS = ['auth', 'tenancy', 'inventory', 'media', 'billing', 'payments', 'referrals', 'feedback', 'admin'];

/** What `tenant` must see of a store table: its own store's rows only (plus the global catalogue). */
function expectedView(tenant: Tenant, table: StoreTable, fixtures: Fixtures): Record<string, number> {
  const own = { [tenant.storeId]: tenant.counts[table] };
  return table === 'inventory.products' ? { ...own, null: fixtures.globalProducts } : own;
}

describe('row-level security, connected as the application role', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let fx: Fixtures;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.appUrl, max: 4 });
    // An idle connection the server closes (e.g. at shutdown) must not crash the test run.
    pool.on('error', () => undefined);
    fx = await seedTenants(pool);
  });

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  const as = <T>(identity: Identity, work: (client: Queryable) => Promise<T>, rollback = false) =>
    runAs(pool, identity, work, { rollback });

  it('connects as miinventario_app, and SYSTEM sees every seeded row of both stores', async () => {
    const { rows } = await pool.query<{ usr: string; sess: string }>(
      'SELECT current_user AS usr, session_user AS sess',
    );
    expect(rows[0]).toEqual({ usr: APP_ROLE, sess: APP_ROLE });
    await as(SYSTEM, async (client) => {
      for (const table of STORE_TABLES) {
        const expected = { ...expectedView(fx.a, table, fx), ...expectedView(fx.b, table, fx) };
        expect({ table, counts: await countsBy(client, table) }).toEqual({ table, counts: expected });
      }
      expect(await countsBy(client, 'tenancy.store_users')).toEqual({ [fx.a.storeId]: 2, [fx.b.storeId]: 1 });
    });
  });

  describe.each(['a', 'b'] as const)('owner %s', (key) => {
    it('sees exactly its own store rows in every store table', async () => {
      const tenant = fx[key];
      await as(tenant.user, async (client) => {
        for (const table of STORE_TABLES) {
          expect({ table, counts: await countsBy(client, table) }).toEqual({
            table,
            counts: expectedView(tenant, table, fx),
          });
        }
        const stores = await client.query<{ id: string }>('SELECT id FROM tenancy.stores');
        expect(stores.rows.map((row) => row.id)).toEqual([tenant.storeId]);
        // Store A has its OWNER and an OPERATOR; store B only its OWNER.
        expect(await countsBy(client, 'tenancy.store_users')).toEqual({ [tenant.storeId]: key === 'a' ? 2 : 1 });
        const sessions = await client.query<{ id: string }>('SELECT id FROM inventory.inventory_sessions ORDER BY id');
        expect(sessions.rows.map((row) => row.id)).toEqual([...tenant.sessionIds].sort());
      });
    });

    it('sees only its own personal rows (wallet, ledger, notifications) and its co-members', async () => {
      const tenant = fx[key];
      const me = tenant.user.userId;
      await as(tenant.user, async (client) => {
        expect(await countsBy(client, 'billing.credit_wallets', 'user_id')).toEqual({ [me]: 1 });
        expect(await countsBy(client, 'billing.credit_transactions', 'user_id')).toEqual({ [me]: tenant.ledgerRows });
        // The operator's notification names store A; A must still not see it (personal table).
        expect(await countsBy(client, 'auth.notifications', 'user_id')).toEqual({ [me]: tenant.notifications });
        const users = await client.query<{ id: string }>('SELECT id FROM auth.users');
        const expectedUsers = key === 'a' ? [me, fx.operatorOfA.userId] : [me];
        expect(users.rows.map((row) => row.id).sort()).toEqual(expectedUsers.sort());
      });
    });
  });

  it("refuses A's inserts into B's store with 42501 and writes nothing", async () => {
    const { a, b } = fx;
    const attempts: Array<[string, string, unknown[]]> = [
      [
        'inventory.inventory_sessions',
        'INSERT INTO inventory.inventory_sessions (store_id, created_by) VALUES ($1, $2)',
        [b.storeId, a.user.userId],
      ],
      [
        'inventory.inventory_items',
        'INSERT INTO inventory.inventory_items (store_id, session_id, quantity, confidence) VALUES ($1, $2, 1, 0.5)',
        [b.storeId, b.sessionIds[0]],
      ],
      [
        'media.videos',
        'INSERT INTO media.videos (store_id, session_id, created_by) VALUES ($1, $2, $3)',
        [b.storeId, b.sessionIds[2], a.user.userId],
      ],
      [
        'media.frames',
        'INSERT INTO media.frames (store_id, video_id, frame_index, timestamp_ms) VALUES ($1, $2, 99, 0)',
        [b.storeId, b.videoIds[0]],
      ],
      [
        'inventory.products',
        `INSERT INTO inventory.products (store_id, name, normalized_name, source) VALUES ($1, 'x', 'x', 'STORE')`,
        [b.storeId],
      ],
      [
        'tenancy.invitations',
        `INSERT INTO tenancy.invitations (store_id, identifier, channel, role, expires_at)
         VALUES ($1, 'intruso@example.com', 'EMAIL', 'OWNER', now() + interval '1 day')`,
        [b.storeId],
      ],
      [
        'tenancy.store_users',
        `INSERT INTO tenancy.store_users (store_id, user_id, role) VALUES ($1, $2, 'OWNER')`,
        [b.storeId, a.user.userId],
      ],
      [
        'feedback.corrections',
        `INSERT INTO feedback.corrections (store_id, session_id, kind) VALUES ($1, $2, 'MARK_WRONG')`,
        [b.storeId, b.sessionIds[0]],
      ],
    ];
    for (const [table, sql, params] of attempts) {
      expect({ table, state: await sqlState(as(a.user, (client) => client.query(sql, params))) }).toEqual({
        table,
        state: '42501',
      });
    }
    // Control: the same kind of insert into A's own store is allowed (rolled back).
    await as(
      a.user,
      async (client) => {
        const own = await client.query(
          'INSERT INTO inventory.inventory_sessions (store_id, created_by) VALUES ($1, $2)',
          [a.storeId, a.user.userId],
        );
        expect(own.rowCount).toBe(1);
      },
      true,
    );
    await as(SYSTEM, async (client) => {
      for (const table of STORE_TABLES) {
        expect({ table, counts: await countsBy(client, table) }).toEqual({
          table,
          counts: { ...expectedView(a, table, fx), ...expectedView(b, table, fx) },
        });
      }
      expect(await countsBy(client, 'tenancy.store_users')).toEqual({ [a.storeId]: 2, [b.storeId]: 1 });
    });
  });

  it("updates and deletes of B's rows as A affect 0 rows, even committed", async () => {
    const { a, b } = fx;
    const before = await as(SYSTEM, (client) =>
      client.query<{ id: string; updated_at: Date }>(
        'SELECT id, updated_at FROM inventory.inventory_sessions WHERE store_id = $1 ORDER BY id',
        [b.storeId],
      ),
    );
    await as(a.user, async (client) => {
      for (const table of [...STORE_TABLES, 'tenancy.store_users']) {
        const updated = await client.query(
          `UPDATE ${table} SET updated_at = now() - interval '1 day' WHERE store_id = $1`,
          [b.storeId],
        );
        const deleted = await client.query(`DELETE FROM ${table} WHERE store_id = $1`, [b.storeId]);
        expect({ table, updated: updated.rowCount, deleted: deleted.rowCount }).toEqual({
          table,
          updated: 0,
          deleted: 0,
        });
      }
      const store = await client.query(`UPDATE tenancy.stores SET name = 'robada' WHERE id = $1`, [b.storeId]);
      expect(store.rowCount).toBe(0);
      expect((await client.query('DELETE FROM tenancy.stores WHERE id = $1', [b.storeId])).rowCount).toBe(0);
      const wallet = await client.query('UPDATE billing.credit_wallets SET balance = 0 WHERE user_id = $1', [
        b.user.userId,
      ]);
      expect(wallet.rowCount).toBe(0);
      const notes = await client.query('DELETE FROM auth.notifications WHERE user_id = $1', [b.user.userId]);
      expect(notes.rowCount).toBe(0);
    });
    // Controls: A can update its own rows, but cannot move one into B's store (WITH CHECK).
    await as(
      a.user,
      async (client) => {
        const own = await client.query(`UPDATE inventory.inventory_sessions SET progress = 10 WHERE store_id = $1`, [
          a.storeId,
        ]);
        expect(own.rowCount).toBe(a.sessionIds.length);
      },
      true,
    );
    const moved = as(a.user, (client) =>
      client.query('UPDATE inventory.products SET store_id = $1 WHERE store_id = $2', [b.storeId, a.storeId]),
    );
    expect(await sqlState(moved)).toBe('42501');

    await as(SYSTEM, async (client) => {
      const after = await client.query<{ id: string; updated_at: Date }>(
        'SELECT id, updated_at FROM inventory.inventory_sessions WHERE store_id = $1 ORDER BY id',
        [b.storeId],
      );
      expect(after.rows).toEqual(before.rows);
      for (const table of STORE_TABLES) {
        expect({ table, n: (await countsBy(client, table))[b.storeId] }).toEqual({ table, n: b.counts[table] });
      }
      const store = await client.query<{ name: string }>('SELECT name FROM tenancy.stores WHERE id = $1', [b.storeId]);
      expect(store.rows).toEqual([{ name: 'Abarrotes' }]);
      const wallet = await client.query<{ balance: number }>(
        'SELECT balance FROM billing.credit_wallets WHERE user_id = $1',
        [b.user.userId],
      );
      expect(wallet.rows).toEqual([{ balance: b.ledgerRows * 5 }]);
      expect((await countsBy(client, 'auth.notifications', 'user_id'))[b.user.userId]).toBe(b.notifications);
    });
  });

  it('lets an OPERATOR of store A read its sessions but not add members, invite or edit the store', async () => {
    const { a, operatorOfA, outsider } = fx;
    const addMember = (client: Queryable) =>
      client.query(
        `INSERT INTO tenancy.store_users (store_id, user_id, role, added_by) VALUES ($1, $2, 'OPERATOR', $3)`,
        [a.storeId, outsider.userId, operatorOfA.userId],
      );
    await as(operatorOfA, async (client) => {
      const sessions = await client.query<{ id: string }>('SELECT id FROM inventory.inventory_sessions ORDER BY id');
      expect(sessions.rows.map((row) => row.id)).toEqual([...a.sessionIds].sort());
      expect(await countsBy(client, 'inventory.inventory_items')).toEqual({
        [a.storeId]: a.counts['inventory.inventory_items'],
      });
      expect((await client.query(`UPDATE tenancy.stores SET name = 'mía' WHERE id = $1`, [a.storeId])).rowCount).toBe(
        0,
      );
      const promote = await client.query(`UPDATE tenancy.store_users SET role = 'OWNER' WHERE user_id = $1`, [
        operatorOfA.userId,
      ]);
      expect(promote.rowCount).toBe(0);
    });
    // The membership role decides, not the request's app.role: claiming OWNER changes nothing.
    for (const role of ['OPERATOR', 'OWNER'] as const) {
      const identity = { userId: operatorOfA.userId, role };
      expect(await sqlState(as(identity, addMember))).toBe('42501');
      const invite = as(identity, (client) =>
        client.query(
          `INSERT INTO tenancy.invitations (store_id, identifier, channel, role, expires_at)
           VALUES ($1, 'amigo@example.com', 'EMAIL', 'OPERATOR', now() + interval '1 day')`,
          [a.storeId],
        ),
      );
      expect(await sqlState(invite)).toBe('42501');
    }
    // Control: the OWNER can add the same member (rolled back).
    await as(a.user, async (client) => expect((await addMember(client)).rowCount).toBe(1), true);
    await as(SYSTEM, async (client) => {
      expect(await countsBy(client, 'tenancy.store_users', 'role')).toEqual({ OPERATOR: 1, OWNER: 2 });
    });
  });

  describe('without an identity', () => {
    let tables: Array<{ name: string; rows: number }>;

    beforeAll(async () => {
      const { rows } = await pool.query<{ name: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY ($1) AND c.relkind IN ('r', 'p') ORDER BY 1`,
        [SCHEMAS],
      );
      tables = await as(SYSTEM, async (client) => {
        const out: Array<{ name: string; rows: number }> = [];
        for (const { name } of rows) {
          const count = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}`);
          out.push({ name, rows: count.rows[0]!.n });
        }
        return out;
      });
    });

    it('raises 28000 on every table of the nine schemas, with rows or empty, instead of returning zero rows', async () => {
      const withRows = tables.filter((table) => table.rows > 0).map((table) => table.name);
      const empty = tables.filter((table) => table.rows === 0).map((table) => table.name);
      expect(withRows).toEqual(expect.arrayContaining(['inventory.inventory_sessions', 'media.frames', 'auth.users']));
      expect(empty).toEqual(expect.arrayContaining(['payments.payment_orders', 'auth.api_keys', 'auth.push_devices']));
      expect(tables.length).toBeGreaterThanOrEqual(30);
      const states: Record<string, string> = {};
      for (const { name } of tables) {
        // A plain query on a pooled connection, outside any transaction.
        states[name] = await sqlState(pool.query(`SELECT * FROM ${name}`));
      }
      expect(states).toEqual(Object.fromEntries(tables.map(({ name }) => [name, '28000'])));
    });

    it('raises 28000 inside a transaction with no, partial or invalid identity, and for writes', async () => {
      const client = await pool.connect();
      const attempt = async (settings: string, sql: string, params: unknown[] = []) => {
        await client.query('BEGIN');
        try {
          if (settings) await client.query(settings);
          return await sqlState(client.query(sql, params));
        } finally {
          await client.query('ROLLBACK');
        }
      };
      const select = 'SELECT count(*) FROM inventory.inventory_sessions';
      try {
        expect(await attempt('', select)).toBe('28000');
        expect(await attempt('', 'SELECT count(*) FROM auth.api_keys')).toBe('28000');
        expect(await attempt(`SELECT set_config('app.user_id', '${fx.a.user.userId}', true)`, select)).toBe('28000');
        expect(await attempt(`SELECT set_config('app.role', 'SYSTEM', true)`, select)).toBe('28000');
        const badRole = `SELECT set_config('app.user_id', '${fx.a.user.userId}', true), set_config('app.role', 'ROOT', true)`;
        expect(await attempt(badRole, select)).toBe('28000');
        const badUser = `SELECT set_config('app.user_id', 'not-a-uuid', true), set_config('app.role', 'SYSTEM', true)`;
        expect(await attempt(badUser, select)).toBe('28000');
        expect(await attempt('', 'DELETE FROM inventory.inventory_sessions')).toBe('28000');
        expect(await attempt('', `UPDATE inventory.inventory_items SET quantity = 0`)).toBe('28000');
        expect(
          await attempt('', 'INSERT INTO inventory.inventory_sessions (store_id, created_by) VALUES ($1, $2)', [
            fx.a.storeId,
            fx.a.user.userId,
          ]),
        ).toBe('28000');
        // Control: with a valid identity the empty table answers zero rows without error.
        const valid = `SELECT set_config('app.user_id', '${fx.a.user.userId}', true), set_config('app.role', 'USER', true)`;
        expect(await attempt(valid, 'SELECT count(*) FROM auth.api_keys')).toBe('resolved');
      } finally {
        client.release();
      }
      await as(SYSTEM, async (c) => {
        expect(await countsBy(c, 'inventory.inventory_sessions')).toEqual({
          [fx.a.storeId]: fx.a.counts['inventory.inventory_sessions'],
          [fx.b.storeId]: fx.b.counts['inventory.inventory_sessions'],
        });
      });
    });
  });

  describe('catalogue', () => {
    it('has RLS enabled and forced on every table of the nine schemas, including every store_id and user_id table', async () => {
      const { rows } = await pool.query<{
        name: string;
        rls: boolean;
        forced: boolean;
        store_id: boolean;
        user_id: boolean;
        has_select_policy: boolean;
      }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'store_id' AND NOT a.attisdropped) AS store_id,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped) AS user_id,
                EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polcmd IN ('r', '*')) AS has_select_policy
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY ($1) AND c.relkind IN ('r', 'p')
         ORDER BY 1`,
        [SCHEMAS],
      );
      const storeTables = rows.filter((row) => row.store_id).map((row) => row.name);
      const userTables = rows.filter((row) => row.user_id).map((row) => row.name);
      expect(storeTables).toEqual(
        expect.arrayContaining([...STORE_TABLES, 'tenancy.store_users', 'auth.notifications', 'admin.audit_logs']),
      );
      expect(userTables).toEqual(
        expect.arrayContaining([
          'auth.sessions',
          'auth.notifications',
          'auth.push_devices',
          'billing.credit_wallets',
          'billing.credit_transactions',
          'payments.payment_orders',
          'payments.payment_methods',
          'referrals.referral_codes',
          'referrals.referral_rewards',
          'tenancy.store_users',
        ]),
      );
      const notForced = (names: string[]) =>
        rows.filter((row) => names.includes(row.name) && !(row.rls && row.forced)).map((row) => row.name);
      expect(notForced(storeTables)).toEqual([]);
      expect(notForced(userTables)).toEqual([]);
      expect(notForced(rows.map((row) => row.name))).toEqual([]);
      // Without a SELECT policy a query without identity would quietly return zero rows.
      expect(rows.filter((row) => !row.has_select_policy).map((row) => row.name)).toEqual([]);
    });

    it('starts every policy with auth.has_identity()', async () => {
      const { rows } = await pool.query<{ name: string; expr: string }>(
        `SELECT format('%I.%I.%I', schemaname, tablename, policyname) AS name, concat_ws(' | ', qual, with_check) AS expr
         FROM pg_policies WHERE schemaname = ANY ($1)`,
        [SCHEMAS],
      );
      expect(rows.length).toBeGreaterThanOrEqual(100);
      const unguarded = rows.filter((row) => !/^\(?auth\.has_identity\(\) AND /.test(row.expr)).map((row) => row.name);
      expect(unguarded).toEqual([]);
    });

    it('gives the app role no superuser, no BYPASSRLS, no ownership and no membership in the owner roles', async () => {
      const roles = await pool.query<{
        rolname: string;
        rolsuper: boolean;
        rolbypassrls: boolean;
        rolcreaterole: boolean;
      }>(`SELECT rolname, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = $1`, [APP_ROLE]);
      expect(roles.rows).toEqual([{ rolname: APP_ROLE, rolsuper: false, rolbypassrls: false, rolcreaterole: false }]);
      const owned = await pool.query<{ owner: string; n: number }>(
        `SELECT r.rolname AS owner, count(*)::int AS n FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = c.relowner
         WHERE n.nspname = ANY ($1) GROUP BY r.rolname`,
        [SCHEMAS],
      );
      // Tables, indexes and sequences all belong to the owner role; none to the app or BYPASSRLS role.
      expect(owned.rows.map((row) => row.owner)).toEqual([OWNER_ROLE]);
      const functions = await pool.query<{ fn: string; owner: string }>(
        `SELECT p.oid::regprocedure::text AS fn, r.rolname AS owner FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
         WHERE n.nspname = ANY ($1) AND r.rolname <> $2 ORDER BY 1`,
        [SCHEMAS, OWNER_ROLE],
      );
      expect(functions.rows).toEqual([
        { fn: 'auth.can_claim_store(uuid)', owner: RLS_HELPER_ROLE },
        { fn: 'auth.member_store_ids()', owner: RLS_HELPER_ROLE },
        { fn: 'auth.owned_store_ids()', owner: RLS_HELPER_ROLE },
      ]);
      const membership = await pool.query<{ owner: boolean; helper: boolean }>(
        `SELECT pg_has_role($1, $2, 'MEMBER') AS owner, pg_has_role($1, $3, 'MEMBER') AS helper`,
        [APP_ROLE, OWNER_ROLE, RLS_HELPER_ROLE],
      );
      expect(membership.rows).toEqual([{ owner: false, helper: false }]);
    });
  });

  describe('credit ledger', () => {
    const ledgerInsert = `INSERT INTO billing.credit_transactions
        (wallet_id, user_id, type, amount, balance_after, held_after, idempotency_key)
      VALUES ($1, $2, 'ADMIN_ADJUSTMENT', 1, 1, 0, $3)`;

    it('refuses UPDATE, DELETE and TRUNCATE on billing.credit_transactions with 42501, even as SYSTEM', async () => {
      const attempts = [
        'UPDATE billing.credit_transactions SET amount = amount + 1',
        'DELETE FROM billing.credit_transactions',
        'TRUNCATE billing.credit_transactions',
      ];
      for (const identity of [SYSTEM, fx.a.user]) {
        for (const sql of attempts) {
          expect({ sql, state: await sqlState(as(identity, (client) => client.query(sql))) }).toEqual({
            sql,
            state: '42501',
          });
        }
      }
      await as(SYSTEM, async (client) => {
        expect(await countsBy(client, 'billing.credit_transactions', 'user_id')).toEqual({
          [fx.a.user.userId]: fx.a.ledgerRows,
          [fx.b.user.userId]: fx.b.ledgerRows,
        });
      });
    });

    it('refuses ledger rows and wallet changes from a person, even for their own wallet; SYSTEM may write (rolled back)', async () => {
      const { a, b } = fx;
      const foreign = as(a.user, (client) => client.query(ledgerInsert, [b.walletId, b.user.userId, 'intruso-1']));
      expect(await sqlState(foreign)).toBe('42501');
      const own = as(a.user, (client) => client.query(ledgerInsert, [a.walletId, a.user.userId, 'own-1']));
      expect(await sqlState(own)).toBe('42501');
      await as(a.user, async (client) => {
        const raise = await client.query(
          'UPDATE billing.credit_wallets SET balance = balance + 100 WHERE user_id = $1',
          [a.user.userId],
        );
        expect(raise.rowCount).toBe(0);
        const drop = await client.query('DELETE FROM billing.credit_wallets WHERE user_id = $1', [a.user.userId]);
        expect(drop.rowCount).toBe(0);
        // Reading stays allowed.
        expect(
          (await client.query('SELECT 1 FROM billing.credit_wallets WHERE user_id = $1', [a.user.userId])).rowCount,
        ).toBe(1);
      });
      await as(
        SYSTEM,
        async (client) =>
          expect((await client.query(ledgerInsert, [a.walletId, a.user.userId, 'system-1'])).rowCount).toBe(1),
        true,
      );
    });

    it('refuses a negative available balance with 23514 (CHECK)', async () => {
      const { a, outsider } = fx;
      const hold = as(SYSTEM, (client) =>
        client.query('UPDATE billing.credit_wallets SET held = balance + 1 WHERE user_id = $1', [a.user.userId]),
      );
      const error = await hold.then(
        () => undefined,
        (caught: { code?: string; constraint?: string }) => caught,
      );
      expect(error).toMatchObject({ code: '23514', constraint: 'credit_wallets_available_check' });
      const overdrawn = as(SYSTEM, (client) =>
        client.query('INSERT INTO billing.credit_wallets (user_id, balance, held) VALUES ($1, 2, 3)', [
          outsider.userId,
        ]),
      );
      expect(await sqlState(overdrawn)).toBe('23514');
      // Control: holding exactly the whole balance is allowed (rolled back).
      await as(
        SYSTEM,
        async (client) => {
          const full = await client.query('UPDATE billing.credit_wallets SET held = balance WHERE user_id = $1', [
            a.user.userId,
          ]);
          expect(full.rowCount).toBe(1);
        },
        true,
      );
      await as(SYSTEM, async (client) => {
        const wallets = await client.query<{ user_id: string; balance: number; held: number }>(
          'SELECT user_id, balance, held FROM billing.credit_wallets',
        );
        expect(Object.fromEntries(wallets.rows.map(({ user_id, ...rest }) => [user_id, rest]))).toEqual({
          [fx.a.user.userId]: { balance: fx.a.ledgerRows * 5, held: 0 },
          [fx.b.user.userId]: { balance: fx.b.ledgerRows * 5, held: 0 },
        });
      });
    });

    it('refuses the same idempotency key twice with 23505', async () => {
      const { a } = fx;
      // Both inserts in one transaction (rolled back): sqlState catches the second one's error.
      const states = await as(
        SYSTEM,
        async (client) => {
          const first = await sqlState(client.query(ledgerInsert, [a.walletId, a.user.userId, 'purchase:order-1']));
          const second = await sqlState(client.query(ledgerInsert, [a.walletId, a.user.userId, 'purchase:order-1']));
          return [first, second];
        },
        true,
      );
      expect(states).toEqual(['resolved', '23505']);
      // Across transactions too: a key already committed (a seed row) cannot be reused.
      const replay = as(SYSTEM, (client) =>
        client.query(ledgerInsert, [a.walletId, a.user.userId, `seed:${a.user.userId}:0`]),
      );
      expect(await sqlState(replay)).toBe('23505');
      await as(SYSTEM, async (client) => {
        expect((await countsBy(client, 'billing.credit_transactions', 'user_id'))[a.user.userId]).toBe(a.ledgerRows);
      });
    });
  });

  describe('pooled connections', () => {
    it('never leak the transaction-local identity: 200 alternating A/B transactions on a pool of 2', async () => {
      const small = new pg.Pool({ connectionString: database.appUrl, max: 2 });
      small.on('error', () => undefined);
      const servedBy = new Map<number, Set<string>>();
      try {
        const one = async (i: number) => {
          const tenant = i % 2 === 0 ? fx.a : fx.b;
          const client = await small.connect();
          try {
            const seen = await inTransaction(
              client,
              tenant.user,
              async (c) => {
                const pid = await c.query<{ pid: number; me: string }>(
                  `SELECT pg_backend_pid() AS pid, current_setting('app.user_id') AS me`,
                );
                const sessions = await countsBy(c, 'inventory.inventory_sessions');
                const items = await countsBy(c, 'inventory.inventory_items');
                return { ...pid.rows[0]!, sessions, items };
              },
              { rollback: i % 4 === 3 },
            );
            // After COMMIT/ROLLBACK, the same connection has no identity any more.
            const after = await sqlState(client.query('SELECT count(*) FROM inventory.inventory_sessions'));
            const ids = servedBy.get(seen.pid) ?? new Set<string>();
            servedBy.set(seen.pid, ids.add(tenant.user.userId));
            return {
              got: { me: seen.me, sessions: seen.sessions, items: seen.items, after },
              want: {
                me: tenant.user.userId,
                sessions: { [tenant.storeId]: tenant.counts['inventory.inventory_sessions'] },
                items: { [tenant.storeId]: tenant.counts['inventory.inventory_items'] },
                after: '28000',
              },
            };
          } finally {
            client.release();
          }
        };
        const results: Array<Awaited<ReturnType<typeof one>>> = [];
        for (let batch = 0; batch < 20; batch += 1) {
          results.push(...(await Promise.all(Array.from({ length: 10 }, (_, k) => one(batch * 10 + k)))));
        }
        expect(results).toHaveLength(200);
        expect(results.map((result) => result.got)).toEqual(results.map((result) => result.want));
        // Both pooled connections served both identities, so reuse across identities happened.
        expect(servedBy.size).toBe(2);
        for (const identities of servedBy.values()) expect(identities.size).toBe(2);
      } finally {
        await small.end();
      }
    });
  });
});
