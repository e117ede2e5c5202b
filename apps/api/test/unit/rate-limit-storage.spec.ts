import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisThrottlerStorage } from '../../src/common/rate-limit/redis-throttler.storage.js';

describe('Redis rate-limit storage when Redis is unreachable', () => {
  it('lets the request through (fail open) instead of failing it', async () => {
    // Port 1 on loopback: connection refused at once; no Redis needed for this test.
    Logger.overrideLogger(false); // the expected error log line is noise here
    const redis = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    const storage = new RedisThrottlerStorage(redis, 'unreachable:');
    try {
      const record = await storage.increment('key', 60_000, 1, 60_000, 'default');
      expect(record).toEqual({ totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 });
    } finally {
      await storage.onApplicationShutdown();
    }
  });
});
