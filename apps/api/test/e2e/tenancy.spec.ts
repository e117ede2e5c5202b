import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DATA_SOURCE } from '../../src/database/database.constants.js';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** Rate limits out of the way: 1,000 requests from two people in seconds (unknown keys are ignored). */
const LIMITS = { RATE_LIMIT_MAX: '100000', RATE_LIMIT_OTP_IP_MAX: '100000', RATE_LIMIT_OTP_IDENTIFIER_MAX: '1000' };

const TOTAL_REQUESTS = 1000;
const CONCURRENCY = 20;

interface Tenant {
  owner: SignedIn;
  storeId: string;
  memberIds: string[];
  invitationIds: string[];
}

/**
 * Tenant isolation through HTTP (issue 3 "Tenancy through HTTP"): two owners, two stores,
 * each with members and pending invitations; 1,000 requests alternating between the
 * owners, 20 at a time, over a database pool of exactly 2 connections (so transactions
 * of both tenants keep reusing the same connections). Every answer carries only the
 * caller's rows; the other store is 404.
 */
describe('tenant isolation over a pool of two connections', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let a: Tenant;
  let b: Tenant;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { env: { DATABASE_POOL_SIZE: '2', ...LIMITS } });
    a = await seedTenant('Abarrotes Norte', 2, 1);
    b = await seedTenant('Farmacia Sur', 1, 3);
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  /** The pg pool behind the app's DataSource (TypeORM keeps it as `driver.master`). */
  const pool = () =>
    (
      testApp.app.get<DataSource>(APP_DATA_SOURCE).driver as unknown as {
        master: { options: { max: number }; totalCount: number };
      }
    ).master;

  const get = (session: SignedIn, url: string) => testApp.app.inject({ method: 'GET', url, headers: bearer(session) });

  /** An owner with a store, `operators` members who accepted invitations, and `pending` open invitations. */
  async function seedTenant(name: string, operators: number, pending: number): Promise<Tenant> {
    const owner = await signIn(testApp);
    const created = await testApp.app.inject({
      method: 'POST',
      url: '/api/v1/stores',
      headers: bearer(owner),
      payload: { name, giro: 'abarrotes' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const storeId = created.json().id as string;
    const invite = async (identifier: string) => {
      const response = await testApp.app.inject({
        method: 'POST',
        url: `/api/v1/stores/${storeId}/invitations`,
        headers: bearer(owner),
        payload: { identifier },
      });
      expect(response.statusCode, response.body).toBe(201);
      return response.json().id as string;
    };
    const memberIds = [owner.user.id];
    for (let i = 0; i < operators; i += 1) {
      const phone = uniquePhone();
      const invitationId = await invite(phone);
      const member = await signIn(testApp, phone);
      const accepted = await testApp.app.inject({
        method: 'POST',
        url: `/api/v1/invitations/${invitationId}/accept`,
        headers: bearer(member),
      });
      expect(accepted.statusCode, accepted.body).toBe(200);
      memberIds.push(member.user.id);
    }
    const invitationIds: string[] = [];
    for (let i = 0; i < pending; i += 1) invitationIds.push(await invite(uniquePhone()));
    return { owner, storeId, memberIds, invitationIds };
  }

  /** One request of the mix for `me` (the other tenant is `them`), with the exact answer it must get. */
  async function check(kind: number, me: Tenant, them: Tenant): Promise<void> {
    switch (kind) {
      case 0: {
        const response = await get(me.owner, '/api/v1/stores');
        expect(response.statusCode).toBe(200);
        expect(response.json().items.map((store: { id: string }) => store.id)).toEqual([me.storeId]);
        return;
      }
      case 1: {
        const response = await get(me.owner, `/api/v1/stores/${me.storeId}`);
        expect(response.statusCode).toBe(200);
        expect(response.json()).toMatchObject({ id: me.storeId, role: 'OWNER' });
        return;
      }
      case 2: {
        const response = await get(me.owner, `/api/v1/stores/${me.storeId}/members`);
        expect(response.statusCode).toBe(200);
        const ids = response.json().items.map((member: { userId: string }) => member.userId);
        expect(ids.sort()).toEqual([...me.memberIds].sort());
        return;
      }
      case 3: {
        const response = await get(me.owner, `/api/v1/stores/${me.storeId}/invitations`);
        expect(response.statusCode).toBe(200);
        const ids = response.json().items.map((invitation: { id: string; storeId: string }) => invitation.id);
        expect(ids.sort()).toEqual([...me.invitationIds].sort());
        return;
      }
      case 4: {
        const response = await get(me.owner, `/api/v1/stores/${them.storeId}`);
        expect(response.statusCode).toBe(404);
        expect(response.json().code).toBe('NOT_FOUND');
        return;
      }
      default: {
        const url =
          kind === 5 ? `/api/v1/stores/${them.storeId}/members` : `/api/v1/stores/${them.storeId}/invitations`;
        const response = await get(me.owner, url);
        expect(response.statusCode).toBe(404);
        expect(response.json().code).toBe('NOT_FOUND');
      }
    }
  }

  it('seeds two distinct tenants', () => {
    expect(a.storeId).not.toBe(b.storeId);
    expect(a.memberIds).toHaveLength(3);
    expect(b.memberIds).toHaveLength(2);
    expect(a.invitationIds).toHaveLength(1);
    expect(b.invitationIds).toHaveLength(3);
    expect(testApp.config.DATABASE_POOL_SIZE).toBe(2);
    expect(pool().options.max).toBe(2);
  });

  it('answers 1,000 alternating requests with only the caller’s rows', async () => {
    const kinds = 7;
    let done = 0;
    for (let start = 0; start < TOTAL_REQUESTS; start += CONCURRENCY) {
      const batch: Array<Promise<void>> = [];
      for (let i = start; i < Math.min(start + CONCURRENCY, TOTAL_REQUESTS); i += 1) {
        const [me, them] = i % 2 === 0 ? [a, b] : [b, a];
        batch.push(check(Math.floor(i / 2) % kinds, me, them).then(() => void (done += 1)));
      }
      await Promise.all(batch);
    }
    expect(done).toBe(TOTAL_REQUESTS);
    expect(pool().totalCount).toBeLessThanOrEqual(2);
  });
});
