import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SYSTEM_USER_ID } from '../../src/database/database.constants.js';

/** What a transaction acts for: becomes `app.user_id` / `app.role`. */
export interface Identity {
  userId: string;
  role: 'USER' | 'OWNER' | 'OPERATOR' | 'ADMIN' | 'SYSTEM';
}

export const SYSTEM: Identity = { userId: SYSTEM_USER_ID, role: 'SYSTEM' };

/** Anything that can run a query and be given BEGIN/COMMIT: a `pg.Client` or a checked-out `pg.PoolClient`. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Runs `work` in one transaction that sets the identity exactly as the API does
 * (`set_config(…, true)`); commits when it resolves (or rolls back with `rollback: true`),
 * rolls back and rethrows when it throws.
 */
export async function inTransaction<T>(
  client: Queryable,
  identity: Identity,
  work: (client: Queryable) => Promise<T>,
  options: { rollback?: boolean } = {},
): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT set_config('app.user_id', $1, true), set_config('app.role', $2, true)`, [
      identity.userId,
      identity.role,
    ]);
    const result = await work(client);
    await client.query(options.rollback ? 'ROLLBACK' : 'COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

/** Checks out a pool connection, runs {@link inTransaction} on it and releases it. */
export async function runAs<T>(
  pool: pg.Pool,
  identity: Identity,
  work: (client: Queryable) => Promise<T>,
  options: { rollback?: boolean } = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    return await inTransaction(client, identity, work, options);
  } finally {
    client.release();
  }
}

/** The SQLSTATE a promise rejects with, or 'resolved' when it does not reject. */
export async function sqlState(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return (error as { code?: string }).code ?? `no SQLSTATE: ${String(error)}`;
  }
}

/** Rows per store table for one store; every count is distinct between the two stores on purpose. */
export interface StoreCounts {
  'tenancy.invitations': number;
  'inventory.products': number;
  'inventory.inventory_sessions': number;
  'inventory.inventory_items': number;
  'media.videos': number;
  'media.video_artifacts': number;
  'media.frames': number;
  'billing.cogs_records': number;
  'feedback.corrections': number;
  'feedback.ground_truth': number;
}

export type StoreTable = keyof StoreCounts;

export const STORE_A_COUNTS: StoreCounts = {
  'tenancy.invitations': 1,
  'inventory.products': 1,
  'inventory.inventory_sessions': 2,
  'inventory.inventory_items': 3,
  'media.videos': 2,
  'media.video_artifacts': 1,
  'media.frames': 3,
  'billing.cogs_records': 1,
  'feedback.corrections': 1,
  'feedback.ground_truth': 1,
};

export const STORE_B_COUNTS: StoreCounts = {
  'tenancy.invitations': 2,
  'inventory.products': 2,
  'inventory.inventory_sessions': 3,
  'inventory.inventory_items': 1,
  'media.videos': 1,
  'media.video_artifacts': 2,
  'media.frames': 2,
  'billing.cogs_records': 2,
  'feedback.corrections': 2,
  'feedback.ground_truth': 2,
};

export const STORE_TABLES = Object.keys(STORE_A_COUNTS) as StoreTable[];

export interface Tenant {
  user: Identity;
  storeId: string;
  walletId: string;
  sessionIds: string[];
  itemIds: string[];
  videoIds: string[];
  counts: StoreCounts;
  /** Ledger rows and notifications of this user. */
  ledgerRows: number;
  notifications: number;
}

export interface Fixtures {
  a: Tenant;
  b: Tenant;
  /** OPERATOR (not OWNER) of store A. */
  operatorOfA: Identity;
  /** A user with no membership at all. */
  outsider: Identity;
  /** Global catalogue rows (store_id NULL), readable by every identity. */
  globalProducts: number;
}

const user = (): Identity => ({ userId: randomUUID(), role: 'USER' });

/**
 * Seeds two tenants as the SYSTEM identity through the application role: users A and B,
 * each OWNER of their own store, with rows in every store table of {@link StoreCounts}; an
 * OPERATOR of store A; a user without stores; wallets and ledger rows for A and B; personal
 * notifications (one of the operator's names store A, so store membership alone must not
 * reveal it to A).
 */
export async function seedTenants(pool: pg.Pool): Promise<Fixtures> {
  const [userA, userB, operatorOfA, outsider] = [user(), user(), user(), user()];
  const a = emptyTenant(userA, STORE_A_COUNTS, 2, 1);
  const b = emptyTenant(userB, STORE_B_COUNTS, 1, 2);
  await runAs(pool, SYSTEM, async (client) => {
    let phone = 5215500000001;
    for (const person of [userA, userB, operatorOfA, outsider]) {
      await client.query('INSERT INTO auth.users (id, phone, display_name) VALUES ($1, $2, $3)', [
        person.userId,
        `+${phone++}`,
        'Prueba',
      ]);
    }
    await client.query(
      `INSERT INTO inventory.products (store_id, name, normalized_name, source, gtin)
       VALUES (NULL, 'Coca-Cola 600 ml', 'coca-cola 600 ml', 'CATALOG', '07501055300075')`,
    );
    for (const tenant of [a, b]) await seedTenant(client, tenant);
    await client.query(
      `INSERT INTO tenancy.store_users (store_id, user_id, role, added_by) VALUES ($1, $2, 'OPERATOR', $3)`,
      [a.storeId, operatorOfA.userId, userA.userId],
    );
    await client.query(
      `INSERT INTO auth.notifications (user_id, store_id, type, title) VALUES ($1, $2, 'REPORT_READY', 'Reporte listo')`,
      [operatorOfA.userId, a.storeId],
    );
  });
  return { a, b, operatorOfA, outsider, globalProducts: 1 };
}

function emptyTenant(identity: Identity, counts: StoreCounts, ledgerRows: number, notifications: number): Tenant {
  return {
    user: identity,
    storeId: randomUUID(),
    walletId: randomUUID(),
    sessionIds: [],
    itemIds: [],
    videoIds: [],
    counts,
    ledgerRows,
    notifications,
  };
}

async function seedTenant(client: Queryable, tenant: Tenant): Promise<void> {
  const { counts, storeId } = tenant;
  const me = tenant.user.userId;
  await client.query(
    `INSERT INTO tenancy.stores (id, name, giro, created_by) VALUES ($1, 'Abarrotes', 'abarrotes', $2)`,
    [storeId, me],
  );
  await client.query(
    `INSERT INTO tenancy.store_users (store_id, user_id, role, added_by) VALUES ($1, $2, 'OWNER', $2)`,
    [storeId, me],
  );
  for (let i = 0; i < counts['tenancy.invitations']; i += 1) {
    await client.query(
      `INSERT INTO tenancy.invitations (store_id, identifier, channel, role, invited_by, expires_at)
       VALUES ($1, $2, 'SMS', 'OPERATOR', $3, now() + interval '1 day')`,
      [storeId, `invitado${i}.${storeId}@example.com`, me],
    );
  }
  const productIds: string[] = [];
  for (let i = 0; i < counts['inventory.products']; i += 1) {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO inventory.products (store_id, name, normalized_name, source) VALUES ($1, $2, $2, 'STORE') RETURNING id`,
      [storeId, `producto ${i}`],
    );
    productIds.push(rows[0]!.id);
  }

  // Wallet and ledger (personal rows): a WELCOME credit, then purchases.
  await client.query('INSERT INTO billing.credit_wallets (id, user_id, balance) VALUES ($1, $2, $3)', [
    tenant.walletId,
    me,
    tenant.ledgerRows * 5,
  ]);
  for (let i = 0; i < tenant.ledgerRows; i += 1) {
    await client.query(
      `INSERT INTO billing.credit_transactions
         (wallet_id, user_id, type, amount, balance_after, held_after, idempotency_key, created_by)
       VALUES ($1, $2, $3, 5, $4, 0, $5, $6)`,
      [tenant.walletId, me, i === 0 ? 'WELCOME' : 'PURCHASE', (i + 1) * 5, `seed:${me}:${i}`, SYSTEM_USER_ID],
    );
  }
  for (let i = 0; i < tenant.notifications; i += 1) {
    await client.query(
      `INSERT INTO auth.notifications (user_id, store_id, type, title) VALUES ($1, $2, 'REPORT_READY', 'Reporte listo')`,
      [me, storeId],
    );
  }

  for (let i = 0; i < counts['inventory.inventory_sessions']; i += 1) {
    const id = randomUUID();
    await client.query('INSERT INTO inventory.inventory_sessions (id, store_id, created_by) VALUES ($1, $2, $3)', [
      id,
      storeId,
      me,
    ]);
    tenant.sessionIds.push(id);
  }
  // One video per session (session_id is UNIQUE), for the first `videos` sessions.
  for (let i = 0; i < counts['media.videos']; i += 1) {
    const id = randomUUID();
    await client.query('INSERT INTO media.videos (id, store_id, session_id, created_by) VALUES ($1, $2, $3, $4)', [
      id,
      storeId,
      tenant.sessionIds[i],
      me,
    ]);
    tenant.videoIds.push(id);
  }
  const frameIds: string[] = [];
  for (let i = 0; i < counts['media.frames']; i += 1) {
    const { rows } = await client.query<{ id: string }>(
      'INSERT INTO media.frames (store_id, video_id, frame_index, timestamp_ms) VALUES ($1, $2, $3, $4) RETURNING id',
      [storeId, tenant.videoIds[0], i, i * 500],
    );
    frameIds.push(rows[0]!.id);
  }
  for (let i = 0; i < counts['media.video_artifacts']; i += 1) {
    await client.query(
      `INSERT INTO media.video_artifacts (store_id, video_id, kind, storage_key) VALUES ($1, $2, 'THUMBNAIL', $3)`,
      [storeId, tenant.videoIds[0], `thumbs/${storeId}/${i}.jpg`],
    );
  }
  for (let i = 0; i < counts['inventory.inventory_items']; i += 1) {
    const id = randomUUID();
    await client.query(
      `INSERT INTO inventory.inventory_items
         (id, store_id, session_id, product_id, quantity, confidence, evidence_frame_id, sort_index)
       VALUES ($1, $2, $3, $4, $5, 0.9, $6, $7)`,
      [id, storeId, tenant.sessionIds[0], productIds[0], i + 1, frameIds[0], i],
    );
    tenant.itemIds.push(id);
  }
  const correctionIds: string[] = [];
  for (let i = 0; i < counts['feedback.corrections']; i += 1) {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO feedback.corrections (store_id, session_id, item_id, kind, created_by)
       VALUES ($1, $2, $3, 'QUANTITY', $4) RETURNING id`,
      [storeId, tenant.sessionIds[0], tenant.itemIds[0], me],
    );
    correctionIds.push(rows[0]!.id);
  }
  for (let i = 0; i < counts['feedback.ground_truth']; i += 1) {
    await client.query(
      `INSERT INTO feedback.ground_truth (store_id, session_id, correction_id, item_id, frame_id, true_count)
       VALUES ($1, $2, $3, $4, $5, 4)`,
      [storeId, tenant.sessionIds[0], correctionIds[i] ?? null, tenant.itemIds[0], frameIds[0]],
    );
  }
  for (let i = 0; i < counts['billing.cogs_records']; i += 1) {
    await client.query(
      `INSERT INTO billing.cogs_records (store_id, session_id, provider, units) VALUES ($1, $2, 'barcode', 3)`,
      [storeId, tenant.sessionIds[0]],
    );
  }
}

/**
 * `{ <column value>: count }` of `table` as the current transaction's identity sees it
 * (NULL is reported as 'null'). Exact maps make "sees only its own rows, and all of them" one assertion.
 */
export async function countsBy(client: Queryable, table: string, column = 'store_id'): Promise<Record<string, number>> {
  const { rows } = await client.query<{ key: string | null; n: number }>(
    `SELECT ${column}::text AS key, count(*)::int AS n FROM ${table} GROUP BY 1 ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((row) => [row.key ?? 'null', row.n]));
}
