import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

/** What {@link ThrottlerStorage.increment} returns; times in seconds (rounded up). */
export interface ThrottlerStorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * One atomic step of a fixed-window counter with a block (Redis runs a script as one
 * command, so concurrent API replicas never lose a hit or block twice).
 *
 * KEYS[1] hits counter, KEYS[2] block marker; ARGV: window ms, limit, block ms.
 * Returns {hits, ms until the window resets, blocked 0/1, ms until the block ends}.
 * While blocked nothing is counted; when a block starts the counter is dropped, so
 * counting starts afresh once it ends (as @nestjs/throttler's in-memory storage does).
 */
export const THROTTLE_SCRIPT = `
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local block = tonumber(ARGV[3])
local blockLeft = redis.call('PTTL', KEYS[2])
if blockLeft > 0 then
  return {limit + 1, blockLeft, 1, blockLeft}
end
local hits = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], window)
  left = window
end
if hits > limit then
  if block > 0 then
    redis.call('SET', KEYS[2], hits, 'PX', block)
    redis.call('DEL', KEYS[1])
    return {hits, block, 1, block}
  end
  return {hits, left, 1, left}
end
return {hits, left, 0, 0}
`;

type ThrottleCommand = (
  hitsKey: string,
  blockKey: string,
  windowMs: number,
  limit: number,
  blockMs: number,
) => Promise<[number, number, number, number]>;

/**
 * `@nestjs/throttler` storage on Redis (ioredis), shared by every API replica: one
 * Lua script per hit (INCR + PEXPIRE + block, atomically). Keys are
 * `<prefix>{<throttler>:<key>}:hits|block`; the hash tag keeps both keys of one counter
 * in one Redis Cluster slot. The key is already a SHA-256 (no phone, e-mail or IP in Redis).
 *
 * If Redis fails, the request is let through and the failure logged (fail open): the
 * one-time-code rules in PostgreSQL (attempts, resend spacing, lockouts) still hold,
 * and a Redis outage does not take the API down with it.
 */
export class RedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly command: ThrottleCommand;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('miinventarioThrottle', { numberOfKeys: 2, lua: THROTTLE_SCRIPT });
    const bound = (redis as unknown as { miinventarioThrottle: ThrottleCommand }).miinventarioThrottle;
    this.command = bound.bind(redis);
  }

  /**
   * Counts one hit of `key` for `throttlerName` (`ttl` and `blockDuration` in ms, as
   * @nestjs/throttler passes them) and says whether the caller is now blocked.
   */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const base = `${this.prefix}{${throttlerName}:${key}}`;
    try {
      const [hits, left, blocked, blockLeft] = await this.command(
        `${base}:hits`,
        `${base}:block`,
        Math.max(1, Math.ceil(ttl)),
        limit,
        Math.max(0, Math.ceil(blockDuration)),
      );
      return {
        totalHits: Number(hits),
        timeToExpire: Math.ceil(Number(left) / 1000),
        isBlocked: Number(blocked) === 1,
        timeToBlockExpire: Math.ceil(Number(blockLeft) / 1000),
      };
    } catch (error) {
      this.logger.error({ err: error }, 'rate-limit storage failed; request let through');
      return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.redis.status === 'end') return;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
