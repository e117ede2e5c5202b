import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ROLE, OWNER_ROLE, RLS_HELPER_ROLE } from '../../src/database/database.constants.js';
import { revertAllMigrations, runMigrations } from '../../src/database/data-sources.js';
import { migrations } from '../../src/database/migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const SCHEMAS = ['admin', 'auth', 'billing', 'feedback', 'inventory', 'media', 'payments', 'referrals', 'tenancy'];

/** The tables issue 2 requires the first migration to create. */
const KEY_TABLES = [
  'auth.users',
  'auth.sessions',
  'auth.otp_codes',
  'auth.api_keys',
  'auth.notifications',
  'tenancy.stores',
  'tenancy.store_users',
  'tenancy.invitations',
  'inventory.products',
  'inventory.inventory_sessions',
  'inventory.inventory_items',
  'media.videos',
  'media.video_artifacts',
  'media.frames',
  'billing.credit_wallets',
  'billing.credit_transactions',
  'billing.credit_packages',
  'billing.cogs_records',
  'payments.payment_orders',
  'payments.payment_methods',
  'payments.webhook_events',
  'referrals.referral_codes',
  'referrals.referral_tree',
  'referrals.referral_rewards',
  'feedback.corrections',
  'feedback.ground_truth',
  'admin.settings',
  'admin.audit_logs',
];

const ALL_MIGRATION_NAMES = migrations.map((migration) => new migration().name ?? migration.name);

/** Runs `sql` once on the admin (superuser) connection of `database`. */
async function adminQuery<R extends pg.QueryResultRow>(database: TestDatabase, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: database.adminUrl });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const presentSchemas = async (database: TestDatabase) =>
  (
    await adminQuery<{ nspname: string }>(
      database,
      'SELECT nspname FROM pg_namespace WHERE nspname = ANY ($1) ORDER BY nspname',
      [SCHEMAS],
    )
  ).map((row) => row.nspname);

const appliedMigrations = async (database: TestDatabase) =>
  (await adminQuery<{ name: string }>(database, 'SELECT name FROM schema_migrations ORDER BY id')).map(
    (row) => row.name,
  );

/**
 * Everything the migrations put in the catalogue that `down` must remove and `up` must
 * recreate identically: relations with owner and RLS flags, columns, constraints, policies,
 * functions with owner and volatility, triggers and the app role's table privileges.
 */
async function catalogueSnapshot(database: TestDatabase) {
  const [relations, columns, constraints, policies, functions, triggers, grants, seeds] = await Promise.all([
    adminQuery(
      database,
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind, pg_get_userbyid(c.relowner) AS owner,
              c.relrowsecurity, c.relforcerowsecurity
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY ($1) ORDER BY 1`,
      [SCHEMAS],
    ),
    adminQuery(
      database,
      `SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = ANY ($1) ORDER BY 1, 2, ordinal_position`,
      [SCHEMAS],
    ),
    adminQuery(
      database,
      `SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE connamespace::regnamespace::text = ANY ($1) ORDER BY 1, 2`,
      [SCHEMAS],
    ),
    adminQuery(
      database,
      `SELECT schemaname, tablename, policyname, cmd, permissive, roles, qual, with_check
       FROM pg_policies WHERE schemaname = ANY ($1) ORDER BY 1, 2, 3`,
      [SCHEMAS],
    ),
    adminQuery(
      database,
      `SELECT p.oid::regprocedure::text AS fn, pg_get_userbyid(p.proowner) AS owner, p.provolatile, p.prosecdef
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY ($1) ORDER BY 1`,
      [SCHEMAS],
    ),
    adminQuery(
      database,
      `SELECT tgrelid::regclass::text AS rel, tgname FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ANY ($1) AND NOT t.tgisinternal ORDER BY 1, 2`,
      [SCHEMAS],
    ),
    adminQuery(
      database,
      `SELECT table_schema, table_name, privilege_type FROM information_schema.role_table_grants
       WHERE grantee = $2 AND table_schema = ANY ($1) ORDER BY 1, 2, 3`,
      [SCHEMAS, APP_ROLE],
    ),
    adminQuery(
      database,
      `SELECT (SELECT array_agg(code ORDER BY code) FROM billing.credit_packages) AS packages,
              (SELECT array_agg(key ORDER BY key) FROM admin.settings) AS settings`,
    ),
  ]);
  return { relations, columns, constraints, policies, functions, triggers, grants, seeds };
}

describe('migrations: up on an empty database, down to zero, up again', () => {
  let database: TestDatabase;
  let firstUp: Awaited<ReturnType<typeof catalogueSnapshot>>;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('starts from a database without any of the nine schemas', async () => {
    expect(await presentSchemas(database)).toEqual([]);
  });

  it('applies every migration on an empty database', async () => {
    expect(ALL_MIGRATION_NAMES).toContain('InitialSchema1764400000000');
    expect(await database.migrate()).toEqual(ALL_MIGRATION_NAMES);
    expect(await appliedMigrations(database)).toEqual(ALL_MIGRATION_NAMES);
    expect(await presentSchemas(database)).toEqual(SCHEMAS);
    const tables = await adminQuery<{ name: string; missing: boolean }>(
      database,
      'SELECT name, to_regclass(name) IS NULL AS missing FROM unnest($1::text[]) AS name',
      [KEY_TABLES],
    );
    expect(tables.filter((table) => table.missing).map((table) => table.name)).toEqual([]);
    firstUp = await catalogueSnapshot(database);
    expect(firstUp.seeds).toEqual([
      { packages: ['CREDITS_1', 'CREDITS_20', 'CREDITS_5'], settings: ['vision_provider', 'welcome_credits'] },
    ]);
    // Every object belongs to the owner role, except the membership helpers (BYPASSRLS role).
    const owners = new Set(firstUp.relations.map((relation) => relation.owner));
    expect([...owners]).toEqual([OWNER_ROLE]);
    expect(firstUp.functions.filter((fn) => fn.owner !== OWNER_ROLE).map((fn) => [fn.fn, fn.owner])).toEqual([
      ['auth.can_claim_store(uuid)', RLS_HELPER_ROLE],
      ['auth.member_store_ids()', RLS_HELPER_ROLE],
      ['auth.owned_store_ids()', RLS_HELPER_ROLE],
    ]);
  });

  it('reverts every migration: the nine schemas are gone and schema_migrations is empty', async () => {
    await adminQuery(database, `INSERT INTO auth.users (phone) VALUES ('+525500000001')`);
    expect(await revertAllMigrations(database.adminUrl)).toBe(ALL_MIGRATION_NAMES.length);
    expect(await presentSchemas(database)).toEqual([]);
    expect(await appliedMigrations(database)).toEqual([]);
    const leftovers = await adminQuery<{ name: string }>(
      database,
      `SELECT p.oid::regprocedure::text AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'public'
       UNION ALL
       SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> 'schema_migrations'`,
    );
    expect(leftovers).toEqual([]);
    // The cluster-wide roles are not the migration's to drop.
    const roles = await adminQuery<{ rolname: string }>(
      database,
      'SELECT rolname FROM pg_roles WHERE rolname = ANY ($1) ORDER BY 1',
      [[APP_ROLE, OWNER_ROLE, RLS_HELPER_ROLE]],
    );
    expect(roles.map((role) => role.rolname)).toEqual([APP_ROLE, OWNER_ROLE, RLS_HELPER_ROLE]);
  });

  it('applies them again, recreating exactly the same catalogue', async () => {
    expect(await runMigrations(database.adminUrl)).toEqual(ALL_MIGRATION_NAMES);
    expect(await appliedMigrations(database)).toEqual(ALL_MIGRATION_NAMES);
    const secondUp = await catalogueSnapshot(database);
    expect(secondUp).toEqual(firstUp);
    // Data written before `down` did not survive it.
    expect(await adminQuery(database, 'SELECT count(*)::int AS n FROM auth.users')).toEqual([{ n: 0 }]);
  });

  it('applies nothing on a second run over existing data (a second start)', async () => {
    await adminQuery(database, `INSERT INTO auth.users (phone) VALUES ('+525500000002')`);
    expect(await runMigrations(database.adminUrl)).toEqual([]);
    expect(await appliedMigrations(database)).toEqual(ALL_MIGRATION_NAMES);
    expect(await adminQuery(database, 'SELECT phone FROM auth.users')).toEqual([{ phone: '+525500000002' }]);
  });
});

describe('migrations: concurrent starts', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('apply each migration exactly once when two processes migrate at the same time (advisory lock)', async () => {
    // allSettled: a failing caller must not leave the other one running while the database is dropped.
    const settled = await Promise.allSettled([runMigrations(database.adminUrl), runMigrations(database.adminUrl)]);
    expect(settled.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : 'fulfilled'))).toEqual([
      'fulfilled',
      'fulfilled',
    ]);
    const results = settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : []));
    expect(results.flat()).toEqual(ALL_MIGRATION_NAMES);
    expect(results.map((names) => names.length).sort()).toEqual([0, ALL_MIGRATION_NAMES.length]);
    expect(await appliedMigrations(database)).toEqual(ALL_MIGRATION_NAMES);
    expect(await presentSchemas(database)).toEqual(SCHEMAS);
  });
});
