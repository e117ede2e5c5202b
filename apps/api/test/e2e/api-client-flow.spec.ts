import { createApiClient } from '@miinventario/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniquePhone } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** Rate limits out of the way (unknown keys are ignored). */
const LIMITS = { RATE_LIMIT_MAX: '100000', RATE_LIMIT_OTP_IP_MAX: '100000', RATE_LIMIT_OTP_IDENTIFIER_MAX: '1000' };

/**
 * The whole path a shop owner and an operator take (issue 3 "full flow test"), through
 * the generated typed client (`@miinventario/api-client`) against the app listening on
 * loopback, as web and mobile use it: sign in by code read from the dev outbox, create
 * a store, invite an operator by phone, the operator signs in, finds the invitation,
 * accepts it and sees the store with role OPERATOR.
 */
describe('full flow through the generated API client', () => {
  let database: TestDatabase;
  let testApp: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { listen: true, env: LIMITS });
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  /** A client holding its own access token, as an app would. */
  function clientFor() {
    const state: { token?: string } = {};
    const client = createApiClient({ baseUrl: testApp.baseUrl, getAccessToken: () => state.token });
    return { client, state };
  }

  /** Request code → read it from `GET /dev/outbox` → verify; keeps the access token. */
  async function signInWith(session: ReturnType<typeof clientFor>, identifier: string) {
    const { client, state } = session;
    const requested = await client.POST('/api/v1/auth/otp/request', { body: { identifier } });
    expect(requested.response.status).toBe(202);
    expect(requested.data?.channel).toBe('SMS');

    const outbox = await client.GET('/api/v1/dev/outbox', { params: { query: { to: identifier } } });
    expect(outbox.response.status).toBe(200);
    const message = outbox.data!.items[0]!;
    expect(message.template).toBe('otp.login');
    const code = message.params.code!;
    expect(code).toMatch(/^\d{6}$/);

    const verified = await client.POST('/api/v1/auth/otp/verify', { body: { identifier, code } });
    expect(verified.response.status, JSON.stringify(verified.error)).toBe(200);
    state.token = verified.data!.accessToken;
    return verified.data!.user;
  }

  it('signs up an owner, creates a store, invites an operator who accepts and sees it', async () => {
    expect(testApp.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const owner = clientFor();
    const ownerPhone = uniquePhone();
    const ownerUser = await signInWith(owner, ownerPhone);
    expect(ownerUser).toMatchObject({ phone: ownerPhone, role: 'USER' });

    const created = await owner.client.POST('/api/v1/stores', {
      body: { name: 'Abarrotes Don Beto', giro: 'abarrotes', address: 'Calle Hidalgo 12, Puebla' },
    });
    expect(created.response.status, JSON.stringify(created.error)).toBe(201);
    const store = created.data!;
    expect(store).toMatchObject({
      name: 'Abarrotes Don Beto',
      giro: 'abarrotes',
      timeZone: 'America/Mexico_City',
      role: 'OWNER',
    });

    const operatorPhone = uniquePhone();
    const invited = await owner.client.POST('/api/v1/stores/{storeId}/invitations', {
      params: { path: { storeId: store.id } },
      body: { identifier: operatorPhone, role: 'OPERATOR' },
    });
    expect(invited.response.status, JSON.stringify(invited.error)).toBe(201);
    expect(invited.data).toMatchObject({ storeId: store.id, identifier: operatorPhone, role: 'OPERATOR' });
    const invitationId = invited.data!.id;

    const sms = await owner.client.GET('/api/v1/dev/outbox', { params: { query: { to: operatorPhone } } });
    expect(sms.data!.items[0]).toMatchObject({ template: 'store.invitation', channel: 'SMS' });
    expect(sms.data!.items[0]!.text).toContain('Abarrotes Don Beto');

    const operator = clientFor();
    const operatorUser = await signInWith(operator, operatorPhone);
    const mine = await operator.client.GET('/api/v1/me/invitations');
    expect(mine.response.status).toBe(200);
    expect(mine.data!.items).toEqual([
      expect.objectContaining({
        id: invitationId,
        role: 'OPERATOR',
        store: { id: store.id, name: 'Abarrotes Don Beto', giro: 'abarrotes' },
        inviterName: ownerPhone,
      }),
    ]);

    const accepted = await operator.client.POST('/api/v1/invitations/{id}/accept', {
      params: { path: { id: invitationId } },
    });
    expect(accepted.response.status, JSON.stringify(accepted.error)).toBe(200);
    expect(accepted.data).toMatchObject({ id: store.id, role: 'OPERATOR' });

    const stores = await operator.client.GET('/api/v1/stores');
    expect(stores.response.status).toBe(200);
    expect(stores.data!.items).toEqual([
      expect.objectContaining({ id: store.id, name: 'Abarrotes Don Beto', role: 'OPERATOR' }),
    ]);

    const members = await owner.client.GET('/api/v1/stores/{storeId}/members', {
      params: { path: { storeId: store.id } },
    });
    expect(members.data!.items.map((member) => [member.userId, member.role])).toEqual([
      [ownerUser.id, 'OWNER'],
      [operatorUser.id, 'OPERATOR'],
    ]);

    // The typed client surfaces problems as `error` with the stable code.
    const forbidden = await operator.client.POST('/api/v1/stores/{storeId}/invitations', {
      params: { path: { storeId: store.id } },
      body: { identifier: uniquePhone(), role: 'OPERATOR' },
    });
    expect(forbidden.response.status).toBe(403);
    expect((forbidden.error as { code?: string } | undefined)?.code).toBe('FORBIDDEN');
  });
});
