import type { Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { pino } from 'pino';
import { createApp } from '../../src/app.factory.js';
import { loadConfig, type AppConfig } from '../../src/config/env.schema.js';
import { ephemeralAuthEnv } from '../../src/modules/auth/local-secrets.js';
import type { Clock } from '../../src/common/time/clock.js';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/** A Nest app built exactly as `main.ts` builds it, on a test database. */
export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** `http://127.0.0.1:<port>` when started with `listen: true`. */
  baseUrl: string;
  /** Fastify's in-process request injection (light-my-request). */
  inject: NestFastifyApplication['inject'];
  close(): Promise<void>;
}

/** The key pair and pepper every test app of this process uses (tests forge tokens with them). */
export const authEnv = ephemeralAuthEnv();

/**
 * Builds the production app against `database`. With `listen: true` it serves on
 * an ephemeral loopback port (for clients such as the generated API client);
 * otherwise use `app.inject` (Fastify's light-my-request).
 */
export async function createTestApp(
  database: TestDatabase,
  options: { listen?: boolean; env?: Record<string, string>; extraModules?: Type[]; clock?: Clock } = {},
): Promise<TestApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: database.adminUrl,
    DATABASE_APP_URL: database.appUrl,
    DATABASE_POOL_SIZE: '4',
    // Many sign-ins from 127.0.0.1 per file: generous limits unless a test sets its own (rate-limit tests do).
    RATE_LIMIT_MAX: '1000000',
    RATE_LIMIT_OTP_IP_MAX: '1000000',
    RATE_LIMIT_OTP_IDENTIFIER_MAX: '1000000',
    ...authEnv,
    ...options.env,
  });
  const app = await createApp(config, database.appUrl, pino({ level: 'silent' }), {
    extraModules: options.extraModules,
    clock: options.clock,
  });
  let baseUrl = '';
  if (options.listen) {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address();
    if (address && typeof address === 'object') baseUrl = `http://127.0.0.1:${address.port}`;
  } else {
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  }
  return {
    app,
    config,
    baseUrl,
    inject: app.inject.bind(app) as NestFastifyApplication['inject'],
    close: () => app.close(),
  };
}

/**
 * Registers `beforeAll`/`afterAll` that create a migrated test database and the app
 * on it, and drop both after the file. Read `context.app` / `context.database`
 * inside tests.
 */
export function useTestApp(options: Parameters<typeof createTestApp>[1] = {}): {
  app: TestApp;
  database: TestDatabase;
} {
  const context = {} as { app: TestApp; database: TestDatabase };
  beforeAll(async () => {
    context.database = await createTestDatabase();
    context.app = await createTestApp(context.database, options);
  });
  afterAll(async () => {
    await context.app?.close();
    await context.database?.drop();
  });
  return context;
}
