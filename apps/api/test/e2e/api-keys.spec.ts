import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestContext } from '../../src/common/http/request-context.js';
import { SYSTEM_USER_ID } from '../../src/database/database.constants.js';
import { TransactionService } from '../../src/database/transaction.service.js';
import { AuditService } from '../../src/modules/audit/audit.service.js';
import { bearer, signIn, type SignedIn } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ADMIN = 'keys-admin@miinventario.mx';

describe('API keys: created by admins, shown once, scoped, revocable', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let admin: SignedIn;
  let person: SignedIn;
  const clock = new FakeClock();

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { clock, env: { ADMIN_IDENTIFIERS: ADMIN } });
    admin = await signIn(testApp, ADMIN);
    person = await signIn(testApp);
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  const adminQuery = <T>(sql: string, params: unknown[] = []) => database.adminQuery<T>(sql, params);

  const createKey = (body: object, session: SignedIn = admin) =>
    testApp.app.inject({ method: 'POST', url: '/api/v1/admin/api-keys', headers: bearer(session), payload: body });
  const ping = (headers: Record<string, string>) =>
    testApp.app.inject({ method: 'GET', url: '/api/v1/internal/ping', headers });

  it('refuses a non-admin: 403 FORBIDDEN, and no key is made', async () => {
    const response = await createKey({ name: 'sneaky', scopes: ['internal:read'] }, person);
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('FORBIDDEN');
    const list = await testApp.app.inject({ method: 'GET', url: '/api/v1/admin/api-keys', headers: bearer(person) });
    expect(list.statusCode).toBe(403);
    expect(await adminQuery(`SELECT id FROM auth.api_keys`)).toEqual([]);
  });

  it('shows the secret once, stores only its prefix and SHA-256, and the key opens the internal route', async () => {
    const created = await createKey({ name: 'payments relay', scopes: ['internal:read', 'webhooks:write'] });
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json();
    expect(body.key).toMatch(/^mik_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(body).toMatchObject({
      name: 'payments relay',
      scopes: ['internal:read', 'webhooks:write'],
      status: 'ACTIVE',
      createdBy: admin.user.id,
      lastUsedAt: null,
      revokedAt: null,
      expiresAt: null,
    });
    expect(body.key.startsWith(`${body.prefix}_`)).toBe(true);

    const [row] = await adminQuery<Record<string, unknown>>(`SELECT * FROM auth.api_keys WHERE id = $1`, [body.id]);
    expect(row!.key_hash).toBe(createHash('sha256').update(body.key).digest('hex'));
    const secret = body.key.split('_').slice(2).join('_');
    expect(JSON.stringify(row)).not.toContain(secret);

    const list = await testApp.app.inject({ method: 'GET', url: '/api/v1/admin/api-keys', headers: bearer(admin) });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(secret);
    const listed = list.json().items.find((item: { id: string }) => item.id === body.id);
    expect(listed).toMatchObject({ name: 'payments relay', prefix: body.prefix, status: 'ACTIVE' });
    expect(listed).not.toHaveProperty('key');

    clock.advance(5);
    const pinged = await ping({ 'x-api-key': body.key });
    expect(pinged.statusCode, pinged.body).toBe(200);
    expect(pinged.json()).toMatchObject({
      keyId: body.id,
      name: 'payments relay',
      scopes: ['internal:read', 'webhooks:write'],
    });
    const [used] = await adminQuery<{ last_used_at: Date }>(`SELECT last_used_at FROM auth.api_keys WHERE id = $1`, [
      body.id,
    ]);
    expect(used!.last_used_at.toISOString()).toBe(clock.now().toISOString());

    const [audit] = await adminQuery<{ actor_user_id: string; metadata: Record<string, unknown> }>(
      `SELECT actor_user_id, metadata FROM admin.audit_logs WHERE action = 'api_key.created' AND target_id = $1`,
      [body.id],
    );
    expect(audit!.actor_user_id).toBe(admin.user.id);
    expect(audit!.metadata).toMatchObject({ name: 'payments relay', prefix: body.prefix.slice(4) });
    expect(JSON.stringify(audit)).not.toContain(secret);
  });

  it('answers 403 to a key without the route scope, and 401 without a key or with a forged one', async () => {
    const created = (await createKey({ name: 'webhooks only', scopes: ['webhooks:write'] })).json();
    const wrongScope = await ping({ 'x-api-key': created.key });
    expect(wrongScope.statusCode).toBe(403);
    expect(wrongScope.json().code).toBe('FORBIDDEN');

    const none = await ping({});
    expect(none.statusCode).toBe(401);
    expect(none.json().code).toBe('UNAUTHENTICATED');

    const forged = `${created.prefix}_${'A'.repeat(43)}`;
    for (const key of [forged, 'mik_nothing', `${created.key}x`]) {
      const response = await ping({ 'x-api-key': key });
      expect({ key, status: response.statusCode, code: response.json().code }).toEqual({
        key,
        status: 401,
        code: 'API_KEY_INVALID',
      });
    }
  });

  it('accepts API keys only on API-key routes, and only API keys there', async () => {
    const created = (await createKey({ name: 'internal reader', scopes: ['internal:read'] })).json();
    const onPersonRoute = await testApp.app.inject({
      method: 'GET',
      url: '/api/v1/auth/sessions',
      headers: { 'x-api-key': created.key },
    });
    expect(onPersonRoute.statusCode).toBe(401);
    expect(onPersonRoute.json().code).toBe('UNAUTHENTICATED');
    const onAdminRoute = await testApp.app.inject({
      method: 'GET',
      url: '/api/v1/admin/api-keys',
      headers: { 'x-api-key': created.key },
    });
    expect(onAdminRoute.statusCode).toBe(401);

    const personOnKeyRoute = await ping(bearer(admin));
    expect(personOnKeyRoute.statusCode).toBe(401);
    expect(personOnKeyRoute.json().code).toBe('UNAUTHENTICATED');
  });

  it('revokes a key: it stops working at once, is listed as revoked, and the revocation is audited', async () => {
    const created = (await createKey({ name: 'to revoke', scopes: ['internal:read'] })).json();
    expect((await ping({ 'x-api-key': created.key })).statusCode).toBe(200);

    const revoke = () =>
      testApp.app.inject({ method: 'DELETE', url: `/api/v1/admin/api-keys/${created.id}`, headers: bearer(admin) });
    expect((await revoke()).statusCode).toBe(204);
    const after = await ping({ 'x-api-key': created.key });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('API_KEY_INVALID');

    expect((await revoke()).statusCode).toBe(204);
    const audits = await adminQuery<{ actor_user_id: string }>(
      `SELECT actor_user_id FROM admin.audit_logs WHERE action = 'api_key.revoked' AND target_id = $1`,
      [created.id],
    );
    expect(audits).toEqual([{ actor_user_id: admin.user.id }]);

    const list = await testApp.app.inject({ method: 'GET', url: '/api/v1/admin/api-keys', headers: bearer(admin) });
    expect(list.json().items.find((item: { id: string }) => item.id === created.id)).toMatchObject({
      status: 'REVOKED',
    });

    const byPerson = await testApp.app.inject({
      method: 'DELETE',
      url: `/api/v1/admin/api-keys/${created.id}`,
      headers: bearer(person),
    });
    expect(byPerson.statusCode).toBe(403);
    const unknown = await testApp.app.inject({
      method: 'DELETE',
      url: '/api/v1/admin/api-keys/00000000-0000-4000-8000-00000000abcd',
      headers: bearer(admin),
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('stops accepting a key after its expiry', async () => {
    // 10 minutes: well inside the admin's 15-minute access token, which the fake clock also ages.
    const expiresAt = new Date(clock.now().getTime() + 600_000).toISOString();
    const created = (await createKey({ name: 'short lived', scopes: ['internal:read'], expiresAt })).json();
    expect(created.expiresAt).toBe(expiresAt);
    expect((await ping({ 'x-api-key': created.key })).statusCode).toBe(200);
    clock.advance(601);
    const expired = await ping({ 'x-api-key': created.key });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().code).toBe('API_KEY_INVALID');
    const list = await testApp.app.inject({ method: 'GET', url: '/api/v1/admin/api-keys', headers: bearer(admin) });
    expect(list.json().items.find((item: { id: string }) => item.id === created.id).status).toBe('EXPIRED');
  });

  it('names the API key in audit entries written while it acts as SYSTEM', async () => {
    const created = (await createKey({ name: 'auditor', scopes: ['internal:write'] })).json();
    const transactions = testApp.app.get(TransactionService);
    const audit = testApp.app.get(AuditService);
    const apiKey = { id: created.id, name: 'auditor', scopes: ['internal:write'] };
    await requestContext.run({ requestId: 'api-key-audit-0001', apiKey }, () =>
      transactions.runAsSystem(() =>
        audit.record({ action: 'admin.action', targetType: 'probe', metadata: { step: 'sweep' } }),
      ),
    );
    const rows = await adminQuery<{ actor_user_id: string; actor_role: string; metadata: unknown }>(
      `SELECT actor_user_id, actor_role, metadata FROM admin.audit_logs WHERE request_id = 'api-key-audit-0001'`,
    );
    expect(rows).toEqual([
      { actor_user_id: SYSTEM_USER_ID, actor_role: 'SYSTEM', metadata: { apiKeyId: created.id, step: 'sweep' } },
    ]);
  });

  it('refuses bad input with field errors and creates nothing', async () => {
    const [{ n: before }] = (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM auth.api_keys`)) as [
      { n: number },
    ];
    const cases: Array<[object, string]> = [
      [{ name: 'x', scopes: ['everything'] }, 'scopes.0'],
      [{ name: 'x', scopes: [] }, 'scopes'],
      [{ name: 'x', scopes: ['internal:read', 'internal:read'] }, 'scopes'],
      [{ name: '', scopes: ['internal:read'] }, 'name'],
      [
        { name: 'x', scopes: ['internal:read'], expiresAt: new Date(clock.now().getTime() - 1000).toISOString() },
        'expiresAt',
      ],
      [{ name: 'x', scopes: ['internal:read'], secret: 'mine' }, '(body)'],
    ];
    for (const [payload, field] of cases) {
      const response = await createKey(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().code).toBe('VALIDATION_FAILED');
      expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
    }
    const [{ n: afterCount }] = (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM auth.api_keys`)) as [
      { n: number },
    ];
    expect(afterCount).toBe(before);
  });
});
