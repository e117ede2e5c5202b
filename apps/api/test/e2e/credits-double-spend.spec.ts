import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ADMIN_EMAIL = 'doble-gasto-admin@miinventario.mx';
const CREDITS = 5;
const REQUESTS = 50;

/**
 * Issue 4's acceptance test "double spend": a wallet with exactly 5 available credits and
 * 50 concurrent inventory starts spread over two API instances — two Nest apps, each with its
 * own pool of 5 connections, listening on loopback and called over real HTTP — on one
 * database. Exactly 5 start (201) and 45 get 402 INSUFFICIENT_CREDITS; the wallet ends with
 * available 0, held 5, balance = Σ of its ledger rows, never negative; 5 session rows.
 */
describe('double spend: 50 concurrent starts on 5 credits over two API instances', () => {
  let database: TestDatabase;
  let apps: TestApp[];
  let owner: SignedIn;
  let storeId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = { DATABASE_POOL_SIZE: '5', ADMIN_IDENTIFIERS: ADMIN_EMAIL };
    apps = [await createTestApp(database, { listen: true, env }), await createTestApp(database, { listen: true, env })];
    owner = await signIn(apps[0]!, uniquePhone());
    const admin = await signIn(apps[1]!, ADMIN_EMAIL);
    const store = await apps[0]!.inject({
      method: 'POST',
      url: '/api/v1/stores',
      headers: bearer(owner),
      payload: { name: 'Miscelánea La Esquina', giro: 'miscelanea' },
    });
    expect(store.statusCode, store.body).toBe(201);
    storeId = store.json().id as string;
    // 1 welcome credit + 4 granted by an admin = exactly 5.
    const adjusted = await apps[1]!.inject({
      method: 'POST',
      url: `/api/v1/admin/credits/wallets/${owner.user.id}/adjustments`,
      headers: bearer(admin),
      payload: { credits: CREDITS - 1, reason: 'prueba de doble gasto' },
    });
    expect(adjusted.statusCode, adjusted.body).toBe(201);
  });

  afterAll(async () => {
    for (const app of apps ?? []) await app.close();
    await database?.drop();
  });

  async function wallet(app: TestApp) {
    const response = await fetch(`${app.baseUrl}/api/v1/credits/wallet`, { headers: bearer(owner) });
    expect(response.status).toBe(200);
    const { balance, held, available } = (await response.json()) as Record<string, number>;
    return { balance, held, available };
  }

  it('runs two instances, each with its own pool of 5, on one database', async () => {
    expect(apps.map((app) => app.config.DATABASE_POOL_SIZE)).toEqual([5, 5]);
    expect(apps[0]!.baseUrl).not.toBe(apps[1]!.baseUrl);
    expect(await wallet(apps[0]!)).toEqual({ balance: CREDITS, held: 0, available: CREDITS });
  });

  it('starts exactly 5 sessions; the other 45 get 402 and write nothing', async () => {
    const responses = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const app = apps[i % 2]!;
        const response = await fetch(`${app.baseUrl}/api/v1/stores/${storeId}/inventory-sessions`, {
          method: 'POST',
          headers: { ...bearer(owner), 'content-type': 'application/json' },
          body: '{}',
        });
        return {
          instance: i % 2,
          status: response.status,
          contentType: response.headers.get('content-type') ?? '',
          body: (await response.json()) as { id?: string; state?: string; code?: string },
        };
      }),
    );

    const byStatus = (status: number) => responses.filter((response) => response.status === status);
    const statuses = responses.map((response) => response.status);
    expect(byStatus(201), JSON.stringify(statuses)).toHaveLength(CREDITS);
    expect(byStatus(402), JSON.stringify(statuses)).toHaveLength(REQUESTS - CREDITS);
    for (const refused of byStatus(402)) {
      expect(refused.contentType).toMatch(/^application\/problem\+json/);
      expect(refused.body.code).toBe('INSUFFICIENT_CREDITS');
    }
    // Each instance answered its 25 requests, so both took part in the race.
    expect(responses.filter((response) => response.instance === 0)).toHaveLength(REQUESTS / 2);
    const startedIds = byStatus(201).map((response) => response.body.id!);
    expect(byStatus(201).every((response) => response.body.state === 'CREATED')).toBe(true);
    expect(new Set(startedIds).size).toBe(CREDITS);

    // Through both instances: available 0, held 5, balance 5.
    for (const app of apps) {
      expect(await wallet(app)).toEqual({ balance: CREDITS, held: CREDITS, available: 0 });
    }

    // In the database, read as superuser: exactly the 5 sessions, each with one HOLD.
    const sessions = await database.adminQuery<{ id: string }>(
      'SELECT id FROM inventory.inventory_sessions WHERE store_id = $1',
      [storeId],
    );
    expect(sessions.map((row) => row.id).sort()).toEqual([...startedIds].sort());
    const holds = await database.adminQuery<{ reference_id: string }>(
      `SELECT reference_id FROM billing.credit_transactions WHERE type = 'HOLD' AND user_id = $1`,
      [owner.user.id],
    );
    expect(holds.map((row) => row.reference_id).sort()).toEqual([...startedIds].sort());

    // balance = Σ amount, held = Σ held_delta, and no row ever left the wallet negative.
    const [state] = await database.adminQuery<{
      balance: number;
      held: number;
      sum_amount: number;
      sum_held: number;
      rows: number;
      min_available_after: number;
    }>(
      `SELECT w.balance, w.held, sum(t.amount)::int AS sum_amount, sum(t.held_delta)::int AS sum_held,
              count(*)::int AS rows, min(t.balance_after - t.held_after)::int AS min_available_after
         FROM billing.credit_wallets w JOIN billing.credit_transactions t ON t.wallet_id = w.id
        WHERE w.user_id = $1 GROUP BY w.id`,
      [owner.user.id],
    );
    expect(state).toEqual({
      balance: CREDITS,
      held: CREDITS,
      sum_amount: CREDITS,
      sum_held: CREDITS,
      rows: 2 + CREDITS, // WELCOME, ADMIN_ADJUSTMENT, 5 × HOLD: the 45 refusals wrote nothing
      min_available_after: 0,
    });
  });
});
