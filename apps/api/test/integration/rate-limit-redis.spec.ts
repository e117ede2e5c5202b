import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisThrottlerStorage } from '../../src/common/rate-limit/redis-throttler.storage.js';
import { uniquePhone } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** This machine's Redis (CI exports TEST_REDIS_URL); without it these tests are reported as skipped. */
const REDIS_URL = process.env.TEST_REDIS_URL;

describe.skipIf(!REDIS_URL)('rate limits in Redis (TEST_REDIS_URL)', () => {
  /** A fresh key prefix per run, so reruns and parallel files never share counters. */
  const prefix = `mi-test:${randomBytes(6).toString('hex')}:`;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(REDIS_URL!);
  });

  afterAll(async () => {
    if (!redis) return;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  describe('storage', () => {
    let storage: RedisThrottlerStorage;

    beforeAll(() => {
      storage = new RedisThrottlerStorage(new Redis(REDIS_URL!), `${prefix}unit:`);
    });

    afterAll(async () => {
      await storage?.onApplicationShutdown();
    });

    it('counts hits in a window that expires, then blocks past the limit with the block time', async () => {
      const results = [];
      for (let index = 0; index < 4; index += 1) results.push(await storage.increment('k1', 60_000, 3, 30_000, 't'));
      expect(results.map((record) => [record.totalHits, record.isBlocked])).toEqual([
        [1, false],
        [2, false],
        [3, false],
        [4, true],
      ]);
      expect(results[0]!.timeToExpire).toBe(60);
      expect(results[3]!.timeToBlockExpire).toBe(30);
      // Blocked: further hits are refused without counting, with the remaining block time.
      const blocked = await storage.increment('k1', 60_000, 3, 30_000, 't');
      expect(blocked).toMatchObject({ isBlocked: true, timeToBlockExpire: 30 });
      const blockTtl = await redis.pttl(`${prefix}unit:{t:k1}:block`);
      expect(blockTtl).toBeGreaterThan(25_000);
      expect(blockTtl).toBeLessThanOrEqual(30_000);
      // When the block ends (removed here instead of waiting), counting starts afresh.
      await redis.del(`${prefix}unit:{t:k1}:block`);
      expect(await storage.increment('k1', 60_000, 3, 30_000, 't')).toMatchObject({ totalHits: 1, isBlocked: false });
      // Every key it writes expires.
      for (const key of await redis.keys(`${prefix}unit:*`)) expect(await redis.pttl(key)).toBeGreaterThan(0);
    });

    it('keeps throttlers and keys apart', async () => {
      await storage.increment('k2', 60_000, 1, 60_000, 'a');
      expect((await storage.increment('k2', 60_000, 1, 60_000, 'b')).isBlocked).toBe(false);
      expect((await storage.increment('k3', 60_000, 1, 60_000, 'a')).isBlocked).toBe(false);
      expect((await storage.increment('k2', 60_000, 1, 60_000, 'a')).isBlocked).toBe(true);
    });

    it('is atomic: of 50 concurrent hits with limit 20, exactly 20 pass', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () => storage.increment('k4', 60_000, 20, 60_000, 't')),
      );
      expect(results.filter((record) => !record.isBlocked)).toHaveLength(20);
      expect(
        results
          .filter((record) => !record.isBlocked)
          .map((record) => record.totalHits)
          .sort((a, b) => a - b),
      ).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    });
  });

  describe('two API instances on one Redis', () => {
    let database: TestDatabase;
    let first: TestApp;
    let second: TestApp;

    beforeAll(async () => {
      database = await createTestDatabase();
      const env = {
        REDIS_URL: REDIS_URL!,
        RATE_LIMIT_REDIS_PREFIX: `${prefix}app:`,
        RATE_LIMIT_OTP_IP_MAX: '5',
        RATE_LIMIT_OTP_IDENTIFIER_MAX: '3',
        OTP_RESEND_SECONDS: '0',
      };
      first = await createTestApp(database, { env });
      second = await createTestApp(database, { env });
    });

    afterAll(async () => {
      await first?.close();
      await database?.drop();
    });

    const requestOtp = (app: TestApp, identifier: string, ip: string) =>
      app.app.inject({ method: 'POST', url: '/api/v1/auth/otp/request', payload: { identifier }, remoteAddress: ip });

    it('shares one counter per IP: the 6th request, on either instance, is refused with Retry-After', async () => {
      for (let index = 0; index < 5; index += 1) {
        const app = index % 2 === 0 ? first : second;
        expect((await requestOtp(app, uniquePhone(), '10.9.0.1')).statusCode).toBe(202);
      }
      for (const app of [first, second]) {
        const refused = await requestOtp(app, uniquePhone(), '10.9.0.1');
        expect(refused.statusCode).toBe(429);
        expect(refused.json().code).toBe('RATE_LIMITED');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      }
      expect((await requestOtp(second, uniquePhone(), '10.9.0.2')).statusCode).toBe(202);
      // The counters live in Redis, keyed by hash: no IP or phone in clear.
      const keys = await redis.keys(`${prefix}app:*`);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.join(' ')).not.toMatch(/10\.9\.0|\+52/);
    });

    it('shares one counter per identifier across instances and IPs', async () => {
      const phone = uniquePhone();
      expect((await requestOtp(first, phone, '10.9.1.1')).statusCode).toBe(202);
      expect((await requestOtp(second, phone, '10.9.1.2')).statusCode).toBe(202);
      expect((await requestOtp(first, phone, '10.9.1.3')).statusCode).toBe(202);
      expect((await requestOtp(second, phone, '10.9.1.4')).statusCode).toBe(429);
    });

    it('closes its Redis connection when the app closes', async () => {
      const clients = async () =>
        String(await redis.call('CLIENT', 'LIST'))
          .split('\n')
          .filter((line: string) => line.includes(` name=${prefix}app:throttler `));
      expect(await clients()).toHaveLength(2);
      await second.close();
      expect(await clients()).toHaveLength(1);
    });
  });
});
