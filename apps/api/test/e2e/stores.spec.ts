import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** Generous rate limits: this file signs in many people from one address (unknown keys are ignored). */
const LIMITS = { RATE_LIMIT_MAX: '100000', RATE_LIMIT_OTP_IP_MAX: '100000', RATE_LIMIT_OTP_IDENTIFIER_MAX: '1000' };

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Store {
  id: string;
  name: string;
  giro: string;
  address: string | null;
  timeZone: string;
  role: 'OWNER' | 'OPERATOR';
  createdAt: string;
  updatedAt: string;
}

interface OutboxItem {
  channel: 'SMS' | 'EMAIL';
  to: string;
  template: string;
  subject?: string;
  text: string;
  params: Record<string, string>;
}

let emailCounter = 0;
const uniqueEmail = () => `Ana.Prueba${process.pid}x${(emailCounter += 1)}@Example.com`;

describe('stores, members and invitations', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  const clock = new FakeClock();

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { clock, env: LIMITS });
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  const call = (session: SignedIn, method: Method, url: string, payload?: unknown) =>
    testApp.app.inject({
      method,
      url,
      headers: bearer(session),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  const adminQuery = <T>(sql: string, params: unknown[] = []) => database.adminQuery<T>(sql, params);

  async function createStore(owner: SignedIn, body: Record<string, unknown> = {}): Promise<Store> {
    const response = await call(owner, 'POST', '/api/v1/stores', {
      name: 'Abarrotes Lupita',
      giro: 'abarrotes',
      ...body,
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as Store;
  }

  async function outbox(to: string): Promise<OutboxItem[]> {
    const response = await testApp.app.inject({
      method: 'GET',
      url: `/api/v1/dev/outbox?to=${encodeURIComponent(to)}`,
    });
    expect(response.statusCode).toBe(200);
    return response.json().items as OutboxItem[];
  }

  async function invite(owner: SignedIn, storeId: string, identifier: string, role = 'OPERATOR') {
    const response = await call(owner, 'POST', `/api/v1/stores/${storeId}/invitations`, { identifier, role });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { id: string; identifier: string; status: string; acceptUrl: string };
  }

  /** Invites a new phone to the store, signs that person in and accepts: a fresh member. */
  async function addMember(owner: SignedIn, storeId: string, role = 'OPERATOR'): Promise<SignedIn> {
    const phone = uniquePhone();
    const invitation = await invite(owner, storeId, phone, role);
    const member = await signIn(testApp, phone);
    const accepted = await call(member, 'POST', `/api/v1/invitations/${invitation.id}/accept`);
    expect(accepted.statusCode, accepted.body).toBe(200);
    return member;
  }

  const storeCount = async () =>
    (await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM tenancy.stores'))[0]!.n;
  const auditActions = async (storeId: string) =>
    (
      await adminQuery<{ action: string }>(`SELECT action FROM admin.audit_logs WHERE store_id = $1 ORDER BY id`, [
        storeId,
      ])
    ).map((row) => row.action);
  const memberRoles = async (storeId: string) =>
    Object.fromEntries(
      (
        await adminQuery<{ user_id: string; role: string }>(
          'SELECT user_id, role FROM tenancy.store_users WHERE store_id = $1',
          [storeId],
        )
      ).map((row) => [row.user_id, row.role]),
    );
  const platformRole = async (userId: string) =>
    (await adminQuery<{ role: string }>('SELECT role FROM auth.users WHERE id = $1', [userId]))[0]!.role;

  // ------------------------------------------------------------------ stores

  it('creates a store: the creator is its OWNER, gets the platform role OWNER, default time zone Mexico City', async () => {
    const owner = await signIn(testApp);
    expect(owner.user.role).toBe('USER');
    const response = await call(owner, 'POST', '/api/v1/stores', { name: '  Abarrotes Lupita ', giro: 'abarrotes' });
    expect(response.statusCode, response.body).toBe(201);
    const store = response.json() as Store;
    expect(store).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'Abarrotes Lupita',
      giro: 'abarrotes',
      address: null,
      timeZone: 'America/Mexico_City',
      role: 'OWNER',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(await memberRoles(store.id)).toEqual({ [owner.user.id]: 'OWNER' });
    expect(await platformRole(owner.user.id)).toBe('OWNER');
    expect(await auditActions(store.id)).toEqual(['store.created']);

    const list = await call(owner, 'GET', '/api/v1/stores');
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual({ items: [store] });
    const one = await call(owner, 'GET', `/api/v1/stores/${store.id}`);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual(store);
  });

  it('lets one person own several stores; the time zone is stored in its canonical spelling', async () => {
    const owner = await signIn(testApp);
    const first = await createStore(owner);
    const second = await createStore(owner, {
      name: 'Farmacia San Pablo',
      giro: 'farmacia',
      address: 'Av. Revolución 123, Tijuana, B.C.',
      timeZone: 'america/tijuana',
    });
    expect(second).toMatchObject({
      name: 'Farmacia San Pablo',
      giro: 'farmacia',
      address: 'Av. Revolución 123, Tijuana, B.C.',
      timeZone: 'America/Tijuana',
      role: 'OWNER',
    });
    const list = await call(owner, 'GET', '/api/v1/stores');
    expect(list.json().items.map((store: Store) => store.id)).toEqual([first.id, second.id]);
  });

  it('refuses a bad giro, a bad time zone, unknown fields or a blank name with 400 problem+json, writing nothing', async () => {
    const owner = await signIn(testApp);
    const before = await storeCount();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'Tienda', giro: 'joyeria' }, 'giro'],
      [{ name: 'Tienda', giro: 'abarrotes', timeZone: 'Mars/Olympus_Mons' }, 'timeZone'],
      [{ name: 'Tienda', giro: 'abarrotes', timeZone: '-06:00' }, 'timeZone'],
      [{ name: 'Tienda', giro: 'abarrotes', ownerId: owner.user.id }, '(body)'],
      [{ name: '   ', giro: 'abarrotes' }, 'name'],
      [{ giro: 'abarrotes' }, 'name'],
      [{ name: 'Tienda\u0007\u001b[31mX', giro: 'abarrotes' }, 'name'],
    ];
    for (const [payload, field] of cases) {
      const response = await call(owner, 'POST', '/api/v1/stores', payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const problem = response.json();
      expect(problem).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', instance: '/api/v1/stores' });
      expect(problem.errors.map((error: { field: string }) => error.field)).toEqual([field]);
    }
    expect(await storeCount()).toBe(before);
    expect(await platformRole(owner.user.id)).toBe('USER');
    const list = await call(owner, 'GET', '/api/v1/stores');
    expect(list.json()).toEqual({ items: [] });
  });

  it('updates a store (OWNER): only the fields given; bad fields change nothing', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner, { address: 'Calle 5 de Mayo 10' });
    const response = await call(owner, 'PATCH', `/api/v1/stores/${store.id}`, {
      name: 'Miscelánea Lupita',
      giro: 'miscelanea',
      timeZone: 'America/Cancun',
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      id: store.id,
      name: 'Miscelánea Lupita',
      giro: 'miscelanea',
      address: 'Calle 5 de Mayo 10',
      timeZone: 'America/Cancun',
      role: 'OWNER',
    });
    const cleared = await call(owner, 'PATCH', `/api/v1/stores/${store.id}`, { address: null });
    expect(cleared.json().address).toBeNull();

    for (const payload of [{}, { giro: 'joyeria' }, { timeZone: 'Nowhere/City' }, { name: 'X', archived: true }]) {
      const bad = await call(owner, 'PATCH', `/api/v1/stores/${store.id}`, payload);
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().code).toBe('VALIDATION_FAILED');
    }
    const [row] = await adminQuery<{ name: string; giro: string; time_zone: string; address: string | null }>(
      'SELECT name, giro, time_zone, address FROM tenancy.stores WHERE id = $1',
      [store.id],
    );
    expect(row).toEqual({ name: 'Miscelánea Lupita', giro: 'miscelanea', time_zone: 'America/Cancun', address: null });
    expect(await auditActions(store.id)).toEqual(['store.created', 'store.updated', 'store.updated']);
  });

  it('archives a store: it leaves every member’s list and every store route answers 404', async () => {
    const owner = await signIn(testApp);
    const kept = await createStore(owner, { name: 'Se queda' });
    const store = await createStore(owner, { name: 'Se archiva' });
    const operator = await addMember(owner, store.id);
    const archived = await call(owner, 'DELETE', `/api/v1/stores/${store.id}`);
    expect(archived.statusCode, archived.body).toBe(204);

    expect((await call(owner, 'GET', '/api/v1/stores')).json().items.map((s: Store) => s.id)).toEqual([kept.id]);
    expect((await call(operator, 'GET', '/api/v1/stores')).json()).toEqual({ items: [] });
    for (const [who, method, url, payload] of [
      [owner, 'GET', `/api/v1/stores/${store.id}`],
      [owner, 'PATCH', `/api/v1/stores/${store.id}`, { name: 'Otra vez' }],
      [owner, 'DELETE', `/api/v1/stores/${store.id}`],
      [owner, 'GET', `/api/v1/stores/${store.id}/members`],
      [owner, 'POST', `/api/v1/stores/${store.id}/invitations`, { identifier: uniquePhone() }],
      [operator, 'GET', `/api/v1/stores/${store.id}`],
    ] as Array<[SignedIn, Method, string, unknown?]>) {
      const response = await call(who, method, url, payload);
      expect({ method, url, status: response.statusCode }).toEqual({ method, url, status: 404 });
      expect(response.json().code).toBe('NOT_FOUND');
    }
    const [row] = await adminQuery<{ archived: boolean }>(
      'SELECT archived_at IS NOT NULL AS archived FROM tenancy.stores WHERE id = $1',
      [store.id],
    );
    expect(row!.archived).toBe(true);
    expect(await auditActions(store.id)).toContain('store.archived');
  });

  it('answers 404 for another person’s store and an unknown id, 400 for a malformed id', async () => {
    const owner = await signIn(testApp);
    const stranger = await signIn(testApp);
    const store = await createStore(owner);
    for (const url of [`/api/v1/stores/${store.id}`, `/api/v1/stores/${store.id}/members`]) {
      const response = await call(stranger, 'GET', url);
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('NOT_FOUND');
    }
    const patch = await call(stranger, 'PATCH', `/api/v1/stores/${store.id}`, { name: 'Mía' });
    expect(patch.statusCode).toBe(404);
    const unknown = await call(owner, 'GET', '/api/v1/stores/6f1c2a55-0c3e-4a8e-9d0b-8f2f4d1e2a3b');
    expect(unknown.statusCode).toBe(404);
    const malformed = await call(owner, 'GET', '/api/v1/stores/not-a-uuid');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().code).toBe('VALIDATION_FAILED');
    const [row] = await adminQuery<{ name: string }>('SELECT name FROM tenancy.stores WHERE id = $1', [store.id]);
    expect(row!.name).toBe('Abarrotes Lupita');
  });

  // ------------------------------------------------------------------ invitations

  it('invites by phone: a Spanish SMS names the store; that person lists it, accepts, and joins as OPERATOR', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner, { name: 'Abarrotes La Esperanza' });
    const phone = uniquePhone();
    const local = `${phone.slice(3, 5)} ${phone.slice(5, 9)} ${phone.slice(9)}`; // "55 1234 5678"
    const now = clock.now();
    const created = await call(owner, 'POST', `/api/v1/stores/${store.id}/invitations`, { identifier: local });
    expect(created.statusCode, created.body).toBe(201);
    const invitation = created.json();
    expect(invitation).toEqual({
      id: expect.any(String),
      storeId: store.id,
      identifier: phone,
      channel: 'SMS',
      role: 'OPERATOR',
      status: 'PENDING',
      invitedBy: owner.user.id,
      acceptUrl: `http://localhost:3142/invitaciones/${invitation.id}`,
      expiresAt: new Date(now.getTime() + 7 * 86400_000).toISOString(),
      createdAt: now.toISOString(),
    });

    const [sms] = await outbox(phone);
    expect(sms).toMatchObject({ channel: 'SMS', to: phone, template: 'store.invitation' });
    expect(sms!.text).toContain('Abarrotes La Esperanza');
    expect(sms!.text).toContain('te invit');
    expect(sms!.text).toContain('como Operador');
    expect(sms!.text).toContain(invitation.acceptUrl);
    expect(sms!.text).toContain(owner.user.phone!);

    const pending = await call(owner, 'GET', `/api/v1/stores/${store.id}/invitations`);
    expect(pending.json()).toEqual({ items: [invitation] });

    const invitee = await signIn(testApp, phone);
    const mine = await call(invitee, 'GET', '/api/v1/me/invitations');
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toEqual({
      items: [
        {
          id: invitation.id,
          store: { id: store.id, name: 'Abarrotes La Esperanza', giro: 'abarrotes' },
          role: 'OPERATOR',
          inviterName: owner.user.phone,
          expiresAt: invitation.expiresAt,
          createdAt: invitation.createdAt,
        },
      ],
    });
    // Not a member yet.
    expect((await call(invitee, 'GET', `/api/v1/stores/${store.id}`)).statusCode).toBe(404);

    const accepted = await call(invitee, 'POST', `/api/v1/invitations/${invitation.id}/accept`);
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json()).toMatchObject({ id: store.id, name: 'Abarrotes La Esperanza', role: 'OPERATOR' });
    // Idempotent: the same answer again, nothing written twice.
    const again = await call(invitee, 'POST', `/api/v1/invitations/${invitation.id}/accept`);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(accepted.json());

    expect((await call(invitee, 'GET', '/api/v1/stores')).json().items).toEqual([
      expect.objectContaining({ id: store.id, role: 'OPERATOR' }),
    ]);
    expect((await call(invitee, 'GET', '/api/v1/me/invitations')).json()).toEqual({ items: [] });
    expect((await call(owner, 'GET', `/api/v1/stores/${store.id}/invitations`)).json()).toEqual({ items: [] });
    const members = await call(owner, 'GET', `/api/v1/stores/${store.id}/members`);
    expect(members.json().items).toEqual([
      expect.objectContaining({ userId: owner.user.id, role: 'OWNER', phone: owner.user.phone }),
      expect.objectContaining({ userId: invitee.user.id, role: 'OPERATOR', phone, email: null }),
    ]);
    expect(await memberRoles(store.id)).toEqual({ [owner.user.id]: 'OWNER', [invitee.user.id]: 'OPERATOR' });
    expect(await platformRole(invitee.user.id)).toBe('OPERATOR');
    expect(await auditActions(store.id)).toEqual([
      'store.created',
      'store.member_invited',
      'store.invitation_accepted',
    ]);
  });

  it('invites by e-mail as OWNER: a Spanish e-mail names the store; anyone else gets 404, the right person joins', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner, { name: 'Papelería El Lápiz', giro: 'papeleria' });
    const typed = ` ${uniqueEmail()} `;
    const email = typed.trim().toLowerCase();
    const invitation = await invite(owner, store.id, typed, 'OWNER');
    expect(invitation).toMatchObject({ identifier: email, status: 'PENDING' });

    const [mail] = await outbox(email);
    expect(mail).toMatchObject({ channel: 'EMAIL', to: email, template: 'store.invitation' });
    expect(mail!.subject).toContain('Papelería El Lápiz');
    expect(mail!.text).toContain('te invitó a unirte a la tienda «Papelería El Lápiz»');
    expect(mail!.text).toContain('como Dueño');
    expect(mail!.text).toContain(invitation.acceptUrl);

    const stranger = await signIn(testApp);
    expect((await call(stranger, 'GET', '/api/v1/me/invitations')).json()).toEqual({ items: [] });
    for (const who of [stranger, owner]) {
      const refused = await call(who, 'POST', `/api/v1/invitations/${invitation.id}/accept`);
      expect(refused.statusCode).toBe(404);
      expect(refused.json().code).toBe('NOT_FOUND');
    }
    const unknown = await call(stranger, 'POST', '/api/v1/invitations/6f1c2a55-0c3e-4a8e-9d0b-8f2f4d1e2a3b/accept');
    expect(unknown.statusCode).toBe(404);
    expect(await memberRoles(store.id)).toEqual({ [owner.user.id]: 'OWNER' });

    const invitee = await signIn(testApp, email);
    const accepted = await call(invitee, 'POST', `/api/v1/invitations/${invitation.id}/accept`);
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json()).toMatchObject({ id: store.id, role: 'OWNER' });
    expect(await platformRole(invitee.user.id)).toBe('OWNER');
    const [row] = await adminQuery<{ accepted_by: string }>(
      'SELECT accepted_by FROM tenancy.invitations WHERE id = $1',
      [invitation.id],
    );
    expect(row!.accepted_by).toBe(invitee.user.id);
  });

  it('refuses an expired invitation (410) and shows it EXPIRED; inviting again replaces it', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner);
    const phone = uniquePhone();
    const old = await invite(owner, store.id, phone);
    clock.advance(7 * 86400 + 1);

    const invitee = await signIn(testApp, phone);
    const late = await call(invitee, 'POST', `/api/v1/invitations/${old.id}/accept`);
    expect(late.statusCode).toBe(410);
    expect(late.headers['content-type']).toContain('application/problem+json');
    expect(late.json()).toMatchObject({ code: 'INVITATION_EXPIRED', title: 'Gone' });
    expect((await call(invitee, 'GET', '/api/v1/me/invitations')).json()).toEqual({ items: [] });
    expect(await memberRoles(store.id)).toEqual({ [owner.user.id]: 'OWNER' });

    const ownerAgain = await signIn(testApp, owner.user.phone!);
    const listed = await call(ownerAgain, 'GET', `/api/v1/stores/${store.id}/invitations`);
    expect(listed.json().items).toEqual([expect.objectContaining({ id: old.id, status: 'EXPIRED' })]);

    const fresh = await invite(ownerAgain, store.id, phone);
    expect(fresh.id).not.toBe(old.id);
    expect((await call(ownerAgain, 'GET', `/api/v1/stores/${store.id}/invitations`)).json().items).toEqual([
      expect.objectContaining({ id: fresh.id, status: 'PENDING' }),
    ]);
    expect((await call(invitee, 'POST', `/api/v1/invitations/${old.id}/accept`)).statusCode).toBe(404);
    const accepted = await call(invitee, 'POST', `/api/v1/invitations/${fresh.id}/accept`);
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json().role).toBe('OPERATOR');
  });

  it('revokes a pending invitation: it leaves both lists and can no longer be accepted', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner);
    const phone = uniquePhone();
    const invitation = await invite(owner, store.id, phone);
    const invitee = await signIn(testApp, phone);
    expect((await call(invitee, 'GET', '/api/v1/me/invitations')).json().items).toHaveLength(1);

    const revoked = await call(owner, 'DELETE', `/api/v1/stores/${store.id}/invitations/${invitation.id}`);
    expect(revoked.statusCode, revoked.body).toBe(204);
    expect((await call(owner, 'DELETE', `/api/v1/stores/${store.id}/invitations/${invitation.id}`)).statusCode).toBe(
      404,
    );
    expect((await call(owner, 'GET', `/api/v1/stores/${store.id}/invitations`)).json()).toEqual({ items: [] });
    expect((await call(invitee, 'GET', '/api/v1/me/invitations')).json()).toEqual({ items: [] });
    const refused = await call(invitee, 'POST', `/api/v1/invitations/${invitation.id}/accept`);
    expect(refused.statusCode).toBe(404);
    expect(await memberRoles(store.id)).toEqual({ [owner.user.id]: 'OWNER' });
    expect(await auditActions(store.id)).toEqual(['store.created', 'store.member_invited', 'store.invitation_revoked']);
  });

  it('refuses to invite a current member (409 ALREADY_MEMBER) or a malformed identifier (400)', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner);
    const member = await addMember(owner, store.id);
    const again = await call(owner, 'POST', `/api/v1/stores/${store.id}/invitations`, {
      identifier: member.user.phone,
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('ALREADY_MEMBER');
    const self = await call(owner, 'POST', `/api/v1/stores/${store.id}/invitations`, { identifier: owner.user.phone });
    expect(self.json().code).toBe('ALREADY_MEMBER');
    for (const payload of [{ identifier: 'no es un teléfono' }, { identifier: uniquePhone(), role: 'ADMIN' }]) {
      const bad = await call(owner, 'POST', `/api/v1/stores/${store.id}/invitations`, payload);
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().code).toBe('VALIDATION_FAILED');
    }
    const [count] = await adminQuery<{ n: number }>(
      'SELECT count(*)::int AS n FROM tenancy.invitations WHERE store_id = $1',
      [store.id],
    );
    expect(count!.n).toBe(1);
  });

  // ------------------------------------------------------------------ roles

  it('lets an OPERATOR read the store and its members, but not manage anything (403, nothing changed)', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner);
    const operator = await addMember(owner, store.id);
    const colleague = await addMember(owner, store.id);
    const pending = await invite(owner, store.id, uniquePhone());

    expect((await call(operator, 'GET', `/api/v1/stores/${store.id}`)).json()).toMatchObject({
      id: store.id,
      role: 'OPERATOR',
    });
    const members = await call(operator, 'GET', `/api/v1/stores/${store.id}/members`);
    expect(members.statusCode).toBe(200);
    expect(
      members
        .json()
        .items.map((m: { userId: string }) => m.userId)
        .sort(),
    ).toEqual([owner.user.id, operator.user.id, colleague.user.id].sort());

    for (const [method, url, payload] of [
      ['PATCH', `/api/v1/stores/${store.id}`, { name: 'Tienda del operador' }],
      ['DELETE', `/api/v1/stores/${store.id}`],
      ['POST', `/api/v1/stores/${store.id}/invitations`, { identifier: uniquePhone() }],
      ['GET', `/api/v1/stores/${store.id}/invitations`],
      ['DELETE', `/api/v1/stores/${store.id}/invitations/${pending.id}`],
      ['PATCH', `/api/v1/stores/${store.id}/members/${colleague.user.id}`, { role: 'OWNER' }],
      ['PATCH', `/api/v1/stores/${store.id}/members/${operator.user.id}`, { role: 'OWNER' }],
      ['PATCH', `/api/v1/stores/${store.id}/members/${owner.user.id}`, { role: 'OPERATOR' }],
      ['DELETE', `/api/v1/stores/${store.id}/members/${colleague.user.id}`],
      ['DELETE', `/api/v1/stores/${store.id}/members/${owner.user.id}`],
    ] as Array<[Method, string, unknown?]>) {
      const response = await call(operator, method, url, payload);
      expect({ method, url, status: response.statusCode }).toEqual({ method, url, status: 403 });
      expect(response.json().code).toBe('FORBIDDEN');
    }
    expect(await memberRoles(store.id)).toEqual({
      [owner.user.id]: 'OWNER',
      [operator.user.id]: 'OPERATOR',
      [colleague.user.id]: 'OPERATOR',
    });
    const [row] = await adminQuery<{ name: string; archived: boolean; invitations: number }>(
      `SELECT name, archived_at IS NOT NULL AS archived,
              (SELECT count(*)::int FROM tenancy.invitations WHERE store_id = s.id AND revoked_at IS NULL AND accepted_at IS NULL) AS invitations
         FROM tenancy.stores s WHERE id = $1`,
      [store.id],
    );
    expect(row).toEqual({ name: 'Abarrotes Lupita', archived: false, invitations: 1 });
  });

  it('changes roles (OWNER); the last OWNER can be neither demoted nor removed and cannot leave (409)', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner);
    const operator = await addMember(owner, store.id);
    const membersUrl = `/api/v1/stores/${store.id}/members`;

    const demoteSelf = await call(owner, 'PATCH', `${membersUrl}/${owner.user.id}`, { role: 'OPERATOR' });
    expect(demoteSelf.statusCode).toBe(409);
    expect(demoteSelf.json().code).toBe('LAST_OWNER');
    const leave = await call(owner, 'DELETE', `${membersUrl}/${owner.user.id}`);
    expect(leave.statusCode).toBe(409);
    expect(leave.json().code).toBe('LAST_OWNER');

    const promoted = await call(owner, 'PATCH', `${membersUrl}/${operator.user.id}`, { role: 'OWNER' });
    expect(promoted.statusCode, promoted.body).toBe(200);
    expect(promoted.json()).toMatchObject({ userId: operator.user.id, role: 'OWNER', phone: operator.user.phone });
    expect(await platformRole(operator.user.id)).toBe('OWNER');
    // The promoted member now manages the store.
    expect((await call(operator, 'GET', `/api/v1/stores/${store.id}/invitations`)).statusCode).toBe(200);

    const demoted = await call(owner, 'PATCH', `${membersUrl}/${owner.user.id}`, { role: 'OPERATOR' });
    expect(demoted.statusCode, demoted.body).toBe(200);
    expect(demoted.json().role).toBe('OPERATOR');
    expect((await call(owner, 'DELETE', `${membersUrl}/${operator.user.id}`)).statusCode).toBe(403);
    const lastLeaves = await call(operator, 'DELETE', `${membersUrl}/${operator.user.id}`);
    expect(lastLeaves.statusCode).toBe(409);
    expect(lastLeaves.json().code).toBe('LAST_OWNER');
    const lastRemoved = await call(operator, 'PATCH', `${membersUrl}/${operator.user.id}`, { role: 'OPERATOR' });
    expect(lastRemoved.json().code).toBe('LAST_OWNER');

    const notMember = await call(operator, 'PATCH', `${membersUrl}/6f1c2a55-0c3e-4a8e-9d0b-8f2f4d1e2a3b`, {
      role: 'OWNER',
    });
    expect(notMember.statusCode).toBe(404);
    const badRole = await call(operator, 'PATCH', `${membersUrl}/${owner.user.id}`, { role: 'ADMIN' });
    expect(badRole.statusCode).toBe(400);

    expect(await memberRoles(store.id)).toEqual({ [owner.user.id]: 'OPERATOR', [operator.user.id]: 'OWNER' });
    const changes = await adminQuery<{ target_id: string; metadata: unknown }>(
      `SELECT target_id, metadata FROM admin.audit_logs WHERE store_id = $1 AND action = 'store.member_role_changed' ORDER BY id`,
      [store.id],
    );
    expect(changes).toEqual([
      { target_id: operator.user.id, metadata: { from: 'OPERATOR', to: 'OWNER' } },
      { target_id: owner.user.id, metadata: { from: 'OWNER', to: 'OPERATOR' } },
    ]);
  });

  it('a removed member loses access on the very next request with the same access token', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner);
    const operator = await addMember(owner, store.id);
    expect((await call(operator, 'GET', `/api/v1/stores/${store.id}`)).statusCode).toBe(200);

    const removed = await call(owner, 'DELETE', `/api/v1/stores/${store.id}/members/${operator.user.id}`);
    expect(removed.statusCode, removed.body).toBe(204);
    for (const url of [`/api/v1/stores/${store.id}`, `/api/v1/stores/${store.id}/members`]) {
      const response = await call(operator, 'GET', url);
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('NOT_FOUND');
    }
    expect((await call(operator, 'GET', '/api/v1/stores')).json()).toEqual({ items: [] });
    expect((await call(owner, 'DELETE', `/api/v1/stores/${store.id}/members/${operator.user.id}`)).statusCode).toBe(
      404,
    );
    expect(await memberRoles(store.id)).toEqual({ [owner.user.id]: 'OWNER' });
    const [entry] = await adminQuery<{ actor_user_id: string; target_id: string; metadata: unknown }>(
      `SELECT actor_user_id, target_id, metadata FROM admin.audit_logs WHERE store_id = $1 AND action = 'store.member_removed'`,
      [store.id],
    );
    expect(entry).toEqual({
      actor_user_id: owner.user.id,
      target_id: operator.user.id,
      metadata: { role: 'OPERATOR', left: false },
    });
  });

  it('lets a member leave a store', async () => {
    const owner = await signIn(testApp);
    const store = await createStore(owner);
    const operator = await addMember(owner, store.id);
    const left = await call(operator, 'DELETE', `/api/v1/stores/${store.id}/members/${operator.user.id}`);
    expect(left.statusCode, left.body).toBe(204);
    expect((await call(operator, 'GET', `/api/v1/stores/${store.id}`)).statusCode).toBe(404);
    expect(await memberRoles(store.id)).toEqual({ [owner.user.id]: 'OWNER' });
  });
});
