import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ADMIN_EMAIL = 'creditos-admin@miinventario.mx';

describe('credits over HTTP', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let owner: SignedIn;
  let admin: SignedIn;
  const clock = new FakeClock();

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { clock, env: { ADMIN_IDENTIFIERS: ADMIN_EMAIL } });
    owner = await signIn(testApp, uniquePhone());
    admin = await signIn(testApp, ADMIN_EMAIL);
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  const get = (url: string, who: SignedIn) => testApp.app.inject({ method: 'GET', url, headers: bearer(who) });
  const send = (method: 'POST' | 'PATCH' | 'DELETE', url: string, who: SignedIn, payload?: object) =>
    testApp.app.inject({ method, url, headers: bearer(who), payload });
  const auditCount = async (action: string) =>
    (
      await database.adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM admin.audit_logs WHERE action = $1`, [
        action,
      ])
    )[0]!.n;

  it('gives a new user 1 welcome credit, visible in the wallet and as one WELCOME transaction', async () => {
    const wallet = await get('/api/v1/credits/wallet', owner);
    expect(wallet.statusCode, wallet.body).toBe(200);
    expect(wallet.json()).toMatchObject({ balance: 1, held: 0, available: 1 });
    const transactions = await get('/api/v1/credits/transactions', owner);
    expect(transactions.statusCode).toBe(200);
    expect(transactions.json()).toEqual({
      items: [
        expect.objectContaining({
          type: 'WELCOME',
          amount: 1,
          heldDelta: 0,
          balanceAfter: 1,
          heldAfter: 0,
          availableAfter: 1,
          referenceType: 'USER',
          referenceId: owner.user.id,
        }),
      ],
      nextCursor: null,
    });
    // Signing in again grants nothing more.
    clock.advance(61);
    const again = await signIn(testApp, owner.user.phone!);
    expect(again.isNewUser).toBe(false);
    expect((await get('/api/v1/credits/wallet', again)).json()).toMatchObject({ balance: 1 });
  });

  it('lists the active packages with integer prices in centavos', async () => {
    const response = await get('/api/v1/credits/packages', owner);
    expect(response.statusCode).toBe(200);
    expect(
      response
        .json()
        .items.map((p: { code: string; credits: number; priceCentavos: number }) => [
          p.code,
          p.credits,
          p.priceCentavos,
        ]),
    ).toEqual([
      ['CREDITS_1', 1, 2900],
      ['CREDITS_5', 5, 12900],
      ['CREDITS_20', 20, 44900],
    ]);
  });

  it('lets an admin adjust a wallet with a reason (audited, replay-safe); a non-admin gets 403', async () => {
    const url = `/api/v1/admin/credits/wallets/${owner.user.id}/adjustments`;
    const forbidden = await send('POST', url, owner, { credits: 100, reason: 'me regalo créditos' });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().code).toBe('FORBIDDEN');
    for (const bad of [{ credits: 5 }, { credits: 0, reason: 'cero' }, { credits: 1.5, reason: 'medio' }]) {
      const response = await send('POST', url, admin, bad);
      expect(response.statusCode, JSON.stringify(bad)).toBe(400);
      expect(response.json().code).toBe('VALIDATION_FAILED');
    }
    const overdraw = await send('POST', url, admin, { credits: -2, reason: 'quitar de más' });
    expect(overdraw.statusCode).toBe(402);
    expect(overdraw.json().code).toBe('INSUFFICIENT_CREDITS');
    expect((await get('/api/v1/credits/wallet', owner)).json()).toMatchObject({ balance: 1 });
    expect(await auditCount('credits.adjusted')).toBe(0);

    const body = { credits: 5, reason: 'compensación por falla', idempotencyKey: 'ticket-000123' };
    const created = await send('POST', url, admin, body);
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      type: 'ADMIN_ADJUSTMENT',
      amount: 5,
      balanceAfter: 6,
      referenceType: 'ADMIN_USER',
      referenceId: admin.user.id,
      createdBy: admin.user.id,
      metadata: { reason: 'compensación por falla' },
    });
    const replay = await send('POST', url, admin, body);
    expect(replay.statusCode).toBe(201);
    expect(replay.json()).toEqual(created.json());
    const reused = await send('POST', url, admin, { ...body, credits: 6 });
    expect(reused.statusCode).toBe(409);
    expect(reused.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await get('/api/v1/credits/wallet', owner)).json()).toMatchObject({ balance: 6, available: 6 });
    const [entry] = await database.adminQuery<{ actor_user_id: string; target_id: string; metadata: object }>(
      `SELECT actor_user_id, target_id, metadata FROM admin.audit_logs WHERE action = 'credits.adjusted'`,
    );
    expect(entry).toMatchObject({
      actor_user_id: admin.user.id,
      target_id: owner.user.id,
      metadata: { credits: 5, reason: 'compensación por falla' },
    });
    expect(await auditCount('credits.adjusted')).toBe(1);
    // An unknown account: 404, nothing written.
    const unknown = await send(
      'POST',
      '/api/v1/admin/credits/wallets/00000000-0000-4000-8000-000000000000/adjustments',
      admin,
      {
        credits: 1,
        reason: 'cuenta inexistente',
      },
    );
    expect(unknown.statusCode, unknown.body).toBe(404);
    expect(unknown.json().code).toBe('NOT_FOUND');
    expect(await auditCount('credits.adjusted')).toBe(1);
  });

  it('pages my transactions newest first with a cursor, filters by type, and refuses limit > 100', async () => {
    const url = `/api/v1/admin/credits/wallets/${owner.user.id}/adjustments`;
    for (let i = 0; i < 11; i += 1) {
      expect((await send('POST', url, admin, { credits: 1, reason: `bono ${i}` })).statusCode).toBe(201);
    }
    const all: Array<{ id: string; balanceAfter: number }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await get(`/api/v1/credits/transactions?limit=5${cursor ? `&cursor=${cursor}` : ''}`, owner);
      expect(response.statusCode, response.body).toBe(200);
      const page = response.json() as { items: Array<{ id: string; balanceAfter: number }>; nextCursor: string | null };
      all.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    // 1 welcome + 1 adjustment + 11 bonuses = 13 rows: pages of 5, 5, 3.
    expect(pages).toBe(3);
    expect(all.map((row) => row.balanceAfter)).toEqual([17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 1]);
    expect(new Set(all.map((row) => row.id)).size).toBe(13);
    const welcome = await get('/api/v1/credits/transactions?type=WELCOME', owner);
    expect(welcome.json().items).toHaveLength(1);
    for (const query of ['limit=101', 'limit=0', 'type=GIFT', 'cursor=abc', 'page=2']) {
      const bad = await get(`/api/v1/credits/transactions?${query}`, owner);
      expect({ query, status: bad.statusCode }).toEqual({ query, status: 400 });
    }
  });

  it("shows an admin any user's wallet and the totals; not to others", async () => {
    const wallet = await get(`/api/v1/admin/credits/wallets/${owner.user.id}?limit=2`, admin);
    expect(wallet.statusCode, wallet.body).toBe(200);
    expect(wallet.json()).toMatchObject({
      userId: owner.user.id,
      wallet: { balance: 17, held: 0 },
      transactions: { items: [{ balanceAfter: 17 }, { balanceAfter: 16 }], nextCursor: expect.any(String) },
    });
    expect(wallet.json().transactions.items[0]).toHaveProperty('idempotencyKey');
    const totals = await get('/api/v1/admin/credits/totals', admin);
    expect(totals.statusCode).toBe(200);
    // Two accounts (owner, admin) with a welcome credit each; the owner got 5 + 11 by adjustments.
    expect(totals.json()).toMatchObject({ wallets: 2, balance: 18, held: 0, available: 18, granted: 18, spent: 0 });
    expect(totals.json().byType).toEqual(
      expect.arrayContaining([{ type: 'WELCOME', transactions: 2, amount: 2, heldDelta: 0 }]),
    );
    const stale = await get('/api/v1/admin/credits/holds/stale', admin);
    expect(stale.statusCode).toBe(200);
    expect(stale.json()).toEqual({ olderThanMinutes: 1500, total: 0, items: [] });
    for (const url of [
      `/api/v1/admin/credits/wallets/${admin.user.id}`,
      '/api/v1/admin/credits/totals',
      '/api/v1/admin/credits/holds/stale',
      '/api/v1/admin/credits/packages',
    ]) {
      expect({ url, status: (await get(url, owner)).statusCode }).toEqual({ url, status: 403 });
    }
  });

  it('lets admins create, change and delete packages (audited); inactive ones leave the public list', async () => {
    const create = { code: 'CREDITS_50', name: '50 créditos', credits: 50, priceCentavos: 99900, sortOrder: 40 };
    expect((await send('POST', '/api/v1/admin/credits/packages', owner, create)).statusCode).toBe(403);
    const created = await send('POST', '/api/v1/admin/credits/packages', admin, create);
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ ...create, active: true, currency: 'MXN' });
    const duplicate = await send('POST', '/api/v1/admin/credits/packages', admin, create);
    expect(duplicate.json().code).toBe('CONFLICT');
    const id = created.json().id as string;
    const publicCodes = async () =>
      (await get('/api/v1/credits/packages', owner)).json().items.map((p: { code: string }) => p.code);
    expect(await publicCodes()).toContain('CREDITS_50');

    const changed = await send('PATCH', `/api/v1/admin/credits/packages/${id}`, admin, {
      priceCentavos: 89900,
      active: false,
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ priceCentavos: 89900, active: false });
    expect(await publicCodes()).not.toContain('CREDITS_50');
    const admins = await get('/api/v1/admin/credits/packages', admin);
    expect(admins.json().items.map((p: { code: string }) => p.code)).toContain('CREDITS_50');
    expect((await send('PATCH', `/api/v1/admin/credits/packages/${id}`, admin, {})).statusCode).toBe(400);

    expect((await send('DELETE', `/api/v1/admin/credits/packages/${id}`, admin)).statusCode).toBe(204);
    expect((await send('DELETE', `/api/v1/admin/credits/packages/${id}`, admin)).statusCode).toBe(404);
    expect([
      await auditCount('credits.package_created'),
      await auditCount('credits.package_updated'),
      await auditCount('credits.package_deleted'),
    ]).toEqual([1, 1, 1]);
  });
});
