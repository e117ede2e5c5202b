import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** Low limits set explicitly (the harness default is generous). Storage: memory (no REDIS_URL). */
const LOW_LIMITS = {
  RATE_LIMIT_OTP_IP_MAX: '5',
  RATE_LIMIT_OTP_IDENTIFIER_MAX: '3',
  RATE_LIMIT_OTP_WINDOW_SECONDS: '900',
  RATE_LIMIT_MAX: '10',
  RATE_LIMIT_WINDOW_SECONDS: '60',
  // The OTP service's own resend spacing would answer first for one identifier; these tests are about the throttler.
  OTP_RESEND_SECONDS: '0',
  OTP_HOURLY_LIMIT: '100',
};

describe('rate limits (in-memory storage)', () => {
  let database: TestDatabase;
  let testApp: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { env: LOW_LIMITS });
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  const requestOtp = (identifier: unknown, ip: string) =>
    testApp.app.inject({
      method: 'POST',
      url: '/api/v1/auth/otp/request',
      payload: { identifier },
      remoteAddress: ip,
    });

  function expectRateLimited(response: Awaited<ReturnType<typeof requestOtp>>, maxSeconds: number): void {
    expect(response.statusCode, response.body).toBe(429);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    const retryAfter = Number(response.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  }

  it('answers the 6th code request from one IP in the window with 429 RATE_LIMITED and Retry-After', async () => {
    for (let index = 0; index < 5; index += 1) {
      const response = await requestOtp(uniquePhone(), '10.1.0.1');
      expect(response.statusCode, response.body).toBe(202);
    }
    const sixth = await requestOtp(uniquePhone(), '10.1.0.1');
    expectRateLimited(sixth, 900);
    // Still blocked, and other IPs are not.
    expectRateLimited(await requestOtp(uniquePhone(), '10.1.0.1'), 900);
    expect((await requestOtp(uniquePhone(), '10.1.0.2')).statusCode).toBe(202);
  });

  it('limits one identifier across IPs, however it is typed', async () => {
    const phone = uniquePhone(); // +5255xxxxxxxx
    const local = `${phone.slice(3, 5)} ${phone.slice(5, 9)} ${phone.slice(9)}`;
    expect((await requestOtp(phone, '10.2.0.1')).statusCode).toBe(202);
    expect((await requestOtp(local, '10.2.0.2')).statusCode).toBe(202);
    expect((await requestOtp(`+52 ${local}`, '10.2.0.3')).statusCode).toBe(202);
    expectRateLimited(await requestOtp(phone, '10.2.0.4'), 900);
    expect((await requestOtp(uniquePhone(), '10.2.0.4')).statusCode).toBe(202);
  });

  it('counts verification attempts too, and an identifier that does not parse against the IP', async () => {
    const verify = (identifier: unknown, ip: string) =>
      testApp.app.inject({
        method: 'POST',
        url: '/api/v1/auth/otp/verify',
        payload: { identifier, code: '000000' },
        remoteAddress: ip,
      });
    for (let index = 0; index < 3; index += 1) {
      expect((await verify('not a phone', '10.3.0.1')).statusCode).toBe(400);
    }
    // A 4th bad identifier from the same IP hits the per-identifier limit (it counted against the IP).
    expectRateLimited(await verify('still not a phone', '10.3.0.1'), 900);
    expectRateLimited(await verify({ object: true }, '10.3.0.1'), 900);
    // The same bad identifiers from another IP are counted separately.
    expect((await verify('not a phone', '10.3.0.2')).statusCode).toBe(400);
  });

  describe('general limit', () => {
    let first: SignedIn;
    let second: SignedIn;

    beforeAll(async () => {
      first = await signIn(testApp);
      second = await signIn(testApp);
    });

    it('counts per user across IPs and routes: the 11th request in the window is refused', async () => {
      for (let index = 0; index < 10; index += 1) {
        const response = await testApp.app.inject({
          method: index % 2 === 0 ? 'GET' : 'DELETE',
          url: index % 2 === 0 ? '/api/v1/auth/sessions' : '/api/v1/auth/sessions/00000000-0000-4000-8000-000000000009',
          headers: bearer(first),
          remoteAddress: `10.4.0.${index + 1}`,
        });
        expect(response.statusCode, response.body).toBe(index % 2 === 0 ? 200 : 404);
      }
      const eleventh = await testApp.app.inject({
        method: 'GET',
        url: '/api/v1/auth/sessions',
        headers: bearer(first),
        remoteAddress: '10.4.1.1',
      });
      expectRateLimited(eleventh, 60);
      const other = await testApp.app.inject({
        method: 'GET',
        url: '/api/v1/auth/sessions',
        headers: bearer(second),
        remoteAddress: '10.4.1.1',
      });
      expect(other.statusCode).toBe(200);
    });

    it('counts anonymous callers per IP, and leaves health and metrics alone', async () => {
      const outbox = (ip: string) =>
        testApp.app.inject({ method: 'GET', url: '/api/v1/dev/outbox?to=nadie%40example.mx', remoteAddress: ip });
      for (let index = 0; index < 10; index += 1) expect((await outbox('127.0.5.1')).statusCode).toBe(200);
      expectRateLimited(await outbox('127.0.5.1'), 60);
      expect((await outbox('127.0.5.2')).statusCode).toBe(200);
      for (let index = 0; index < 15; index += 1) {
        const live = await testApp.app.inject({ method: 'GET', url: '/health/live', remoteAddress: '127.0.5.1' });
        expect(live.statusCode).toBe(200);
      }
    });
  });
});
