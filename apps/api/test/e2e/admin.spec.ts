import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ADMIN = 'root-admin@miinventario.mx';

describe('admin endpoints: audit log, accounts, platform roles (ADMIN only)', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let admin: SignedIn;
  let person: SignedIn;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { env: { ADMIN_IDENTIFIERS: ADMIN } });
    admin = await signIn(testApp, ADMIN);
    person = await signIn(testApp);
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  const adminQuery = <T>(sql: string, params: unknown[] = []) => database.adminQuery<T>(sql, params);

  const get = (url: string, session: SignedIn = admin) =>
    testApp.app.inject({ method: 'GET', url, headers: bearer(session) });
  const patchRole = (userId: string, role: string, session: SignedIn = admin) =>
    testApp.app.inject({
      method: 'PATCH',
      url: `/api/v1/admin/users/${userId}`,
      headers: bearer(session),
      payload: { role },
    });

  it('answers 403 FORBIDDEN to a signed-in non-admin on every admin route', async () => {
    for (const response of [
      await get('/api/v1/admin/audit-logs', person),
      await get('/api/v1/admin/users', person),
      await patchRole(person.user.id, 'ADMIN', person),
      await get('/api/v1/admin/api-keys', person),
    ]) {
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('FORBIDDEN');
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const [row] = await adminQuery<{ role: string }>(`SELECT role FROM auth.users WHERE id = $1`, [person.user.id]);
    expect(row!.role).toBe('USER');
  });

  describe('audit log', () => {
    const storeA = '11111111-1111-4111-8111-111111111111';
    const storeB = '22222222-2222-4222-8222-222222222222';
    const actor = '33333333-3333-4333-8333-333333333333';

    beforeAll(async () => {
      // Seven entries of one test-only target type, one minute apart, oldest first.
      for (let index = 0; index < 7; index += 1) {
        await adminQuery(
          `INSERT INTO admin.audit_logs (actor_user_id, actor_role, action, target_type, target_id, store_id, created_at)
           VALUES ($1, 'ADMIN', $2, 'probe', $3, $4, timestamptz '2026-01-01T10:00:00Z' + make_interval(mins => $5))`,
          [actor, index % 2 === 0 ? 'admin.action' : 'store.updated', `t${index}`, index < 4 ? storeA : storeB, index],
        );
      }
    });

    const ids = (body: { items: Array<{ targetId: string }> }) => body.items.map((item) => item.targetId);

    it('lists newest first and pages with `before` until nextCursor is null', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response = await get(
          `/api/v1/admin/audit-logs?targetType=probe&limit=3${cursor ? `&before=${cursor}` : ''}`,
        );
        expect(response.statusCode, response.body).toBe(200);
        const body = response.json();
        seen.push(...ids(body));
        cursor = body.nextCursor;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(['t6', 't5', 't4', 't3', 't2', 't1', 't0']);
    });

    it('filters by action, actor, target, store and time, combined', async () => {
      const query = async (params: string) =>
        ids((await get(`/api/v1/admin/audit-logs?targetType=probe&${params}`)).json());
      expect(await query('action=store.updated')).toEqual(['t5', 't3', 't1']);
      expect(await query(`actorUserId=${actor}&targetId=t2`)).toEqual(['t2']);
      expect(await query(`storeId=${storeB}`)).toEqual(['t6', 't5', 't4']);
      expect(await query(`storeId=${storeA}&action=admin.action`)).toEqual(['t2', 't0']);
      expect(await query('from=2026-01-01T10:02:00Z&to=2026-01-01T10:05:00Z')).toEqual(['t4', 't3', 't2']);
      expect(await query('from=2026-01-01T04:03:00-06:00&to=2026-01-01T04:04:00-06:00')).toEqual(['t3']);
      expect(await query(`actorUserId=${admin.user.id}`)).toEqual([]);
    });

    it('records real events: sign-ups and logins carry who, what, IP and request id', async () => {
      const response = await get(`/api/v1/admin/audit-logs?actorUserId=${person.user.id}`);
      const entries = response.json().items as Array<Record<string, unknown>>;
      expect(entries.length).toBeGreaterThan(0);
      expect(entries[0]).toMatchObject({ actorUserId: person.user.id, ip: '127.0.0.1' });
      expect(entries[0]!.requestId).toEqual(expect.any(String));
    });

    it('refuses bad filters with 400 VALIDATION_FAILED', async () => {
      for (const params of ['limit=201', 'limit=0', 'before=abc', 'storeId=nope', 'from=yesterday', 'colour=red']) {
        const response = await get(`/api/v1/admin/audit-logs?${params}`);
        expect({ params, status: response.statusCode }).toEqual({ params, status: 400 });
        expect(response.json().code).toBe('VALIDATION_FAILED');
      }
      expect((await get('/api/v1/admin/audit-logs?limit=200')).statusCode).toBe(200);
    });
  });

  describe('accounts', () => {
    const people: Array<{ phone: string; session: SignedIn }> = [];

    beforeAll(async () => {
      for (let index = 0; index < 4; index += 1) {
        const phone = uniquePhone();
        people.push({ phone, session: await signIn(testApp, phone) });
      }
      await signIn(testApp, 'maria.lopez@tiendita.mx');
    });

    it('finds a person by part of their phone, typed with spaces, or by e-mail', async () => {
      const target = people[2]!;
      const digits = target.phone.slice(3); // "55xxxxxxxx"
      const spaced = `${digits.slice(0, 2)} ${digits.slice(2, 6)} ${digits.slice(6)}`;
      const byPhone = (await get(`/api/v1/admin/users?q=${encodeURIComponent(spaced)}`)).json();
      expect(byPhone.items.map((user: { id: string }) => user.id)).toEqual([target.session.user.id]);
      expect(byPhone.items[0]).toMatchObject({ phone: target.phone, role: 'USER', lastLoginAt: expect.any(String) });

      const byEmail = (await get('/api/v1/admin/users?q=LOPEZ%40tiendita')).json();
      expect(byEmail.items.map((user: { email: string }) => user.email)).toEqual(['maria.lopez@tiendita.mx']);
      const none = (await get('/api/v1/admin/users?q=50%25_off')).json();
      expect(none.items).toEqual([]);
    });

    it('pages through every account, newest first, without repeats', async () => {
      const all: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page += 1) {
        const response = await get(`/api/v1/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.statusCode, response.body).toBe(200);
        const body = response.json();
        expect(body.items.length).toBeLessThanOrEqual(2);
        all.push(...body.items.map((user: { id: string }) => user.id));
        cursor = body.nextCursor;
        if (!cursor) break;
      }
      const [{ n }] = (await adminQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM auth.users WHERE deleted_at IS NULL`,
      )) as [{ n: number }];
      expect(new Set(all).size).toBe(n);
      expect(all.length).toBe(n);
      const ordered = await adminQuery<{ id: string }>(
        `SELECT id FROM auth.users WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC`,
      );
      expect(all).toEqual(ordered.map((row) => row.id));
      const bad = await get('/api/v1/admin/users?cursor=bm9wZQ');
      expect(bad.statusCode).toBe(400);
      expect(bad.json().errors[0].field).toBe('cursor');
    });

    it('changes a platform role, audits old and new, and the change takes effect on the next request', async () => {
      const target = people[0]!.session;
      expect((await get('/api/v1/admin/users', target)).statusCode).toBe(403);

      const promoted = await patchRole(target.user.id, 'ADMIN');
      expect(promoted.statusCode, promoted.body).toBe(200);
      expect(promoted.json()).toMatchObject({ id: target.user.id, role: 'ADMIN' });
      expect((await get('/api/v1/admin/users', target)).statusCode).toBe(200);

      const demoted = await patchRole(target.user.id, 'OPERATOR');
      expect(demoted.json().role).toBe('OPERATOR');
      expect((await get('/api/v1/admin/users', target)).statusCode).toBe(403);

      const audit = (await get(`/api/v1/admin/audit-logs?action=user.role_changed&targetId=${target.user.id}`)).json();
      expect(audit.items.map((entry: { metadata: unknown }) => entry.metadata)).toEqual([
        { from: 'ADMIN', to: 'OPERATOR' },
        { from: 'USER', to: 'ADMIN' },
      ]);
      expect(audit.items[0]).toMatchObject({ actorUserId: admin.user.id, actorRole: 'ADMIN', targetType: 'user' });

      const unchanged = await patchRole(target.user.id, 'OPERATOR');
      expect(unchanged.statusCode).toBe(200);
      const again = (await get(`/api/v1/admin/audit-logs?action=user.role_changed&targetId=${target.user.id}`)).json();
      expect(again.items).toHaveLength(2);
    });

    it('refuses bad role changes and changes nothing', async () => {
      const target = people[1]!.session;
      const invalid = await patchRole(target.user.id, 'SUPERUSER');
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json().code).toBe('VALIDATION_FAILED');
      const own = await patchRole(admin.user.id, 'USER');
      expect(own.statusCode).toBe(409);
      expect(own.json().code).toBe('CONFLICT');
      const unknown = await patchRole('00000000-0000-4000-8000-00000000beef', 'OWNER');
      expect(unknown.statusCode).toBe(404);
      const rows = await adminQuery<{ id: string; role: string }>(
        `SELECT id, role FROM auth.users WHERE id = ANY($1::uuid[]) ORDER BY role`,
        [[target.user.id, admin.user.id]],
      );
      expect(rows.map((row) => row.role).sort()).toEqual(['ADMIN', 'USER']);
    });
  });
});
