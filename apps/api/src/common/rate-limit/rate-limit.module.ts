import { Logger, Module } from '@nestjs/common';
import { ThrottlerModule, type ThrottlerModuleOptions } from '@nestjs/throttler';
import { Redis } from 'ioredis';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { THROTTLERS } from './rate-limit.guard.js';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';

/**
 * The throttlers and their storage, from configuration (seconds in env, ms for
 * @nestjs/throttler): Redis when REDIS_URL is set (shared by every replica), the
 * package's in-memory storage otherwise (one process, the embedded default).
 */
export function rateLimitOptions(config: AppConfig): ThrottlerModuleOptions {
  const otpWindow = config.RATE_LIMIT_OTP_WINDOW_SECONDS * 1000;
  return {
    setHeaders: false,
    storage: config.REDIS_URL ? redisStorage(config.REDIS_URL, config.RATE_LIMIT_REDIS_PREFIX) : undefined,
    throttlers: [
      { name: THROTTLERS.general, ttl: config.RATE_LIMIT_WINDOW_SECONDS * 1000, limit: config.RATE_LIMIT_MAX },
      { name: THROTTLERS.otpIp, ttl: otpWindow, limit: config.RATE_LIMIT_OTP_IP_MAX },
      { name: THROTTLERS.otpIdentifier, ttl: otpWindow, limit: config.RATE_LIMIT_OTP_IDENTIFIER_MAX },
    ],
  };
}

function redisStorage(url: string, prefix: string): RedisThrottlerStorage {
  const logger = new Logger('RateLimit');
  let lastLogged = 0;
  const redis = new Redis(url, {
    connectionName: `${prefix}throttler`,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
  });
  redis.on('error', (error: Error) => {
    // ioredis reconnects by itself; log at most once a minute while Redis is away.
    if (Date.now() - lastLogged > 60_000) {
      lastLogged = Date.now();
      logger.error({ err: error }, 'rate-limit Redis connection error');
    }
  });
  return new RedisThrottlerStorage(redis, prefix);
}

/** `@nestjs/throttler` configured from the environment; the guard is registered in AppModule. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => rateLimitOptions(config),
    }),
  ],
})
export class RateLimitModule {}
