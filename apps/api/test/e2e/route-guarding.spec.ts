import { Controller, Get, Module, Post, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryModule, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, UNPREFIXED_ROUTES } from '../../src/app.factory.js';
import { API_KEY_SCOPE_KEY } from '../../src/common/auth/api-key-auth.decorator.js';
import { IS_PUBLIC_KEY } from '../../src/common/auth/public.decorator.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** A route without @Public(), mounted only here: proves the guard covers routes nobody listed. */
@Controller('guard-probe')
class GuardProbeController {
  @Get(':id')
  read() {
    return { leaked: true };
  }

  @Post()
  write() {
    return { leaked: true };
  }
}

@Module({ controllers: [GuardProbeController] })
class GuardProbeModule {}

interface RouteInfo {
  method: string;
  path: string;
  isPublic: boolean;
  /** Scope of an `@ApiKeyAuth` route (authenticated by `x-api-key` instead of a bearer token). */
  apiKeyScope?: string;
}

/**
 * The routes allowed without a token. Adding a public route means adding it here,
 * in review (CONVENTIONS #4).
 */
const PUBLIC_ROUTES = new Set([
  'GET /health/live',
  'GET /health/ready',
  'GET /metrics',
  'POST /api/v1/auth/otp/request',
  'POST /api/v1/auth/otp/verify',
  'POST /api/v1/auth/refresh',
  // Development outbox: mounted only with the console channel outside production.
  'GET /api/v1/dev/outbox',
  // Signed object URLs of the local storage: the HMAC signature is the access check (issue 5).
  'GET /api/v1/objects/*',
  'HEAD /api/v1/objects/*',
]);

/** The routes that take an API key (and only an API key), with their scope. Reviewed like the public list. */
const API_KEY_ROUTES = new Map([['GET /api/v1/internal/ping', 'internal:read']]);

function joinPath(...parts: string[]): string {
  return `/${parts
    .flatMap((part) => part.split('/'))
    .filter((part) => part.length > 0)
    .join('/')}`;
}

function listRoutes(testApp: TestApp): RouteInfo[] {
  const discovery = testApp.app.get(DiscoveryService);
  const scanner = testApp.app.get(MetadataScanner);
  const reflector = testApp.app.get(Reflector);
  const routes: RouteInfo[] = [];
  for (const wrapper of discovery.getControllers()) {
    const instance = wrapper.instance as object | undefined;
    if (!instance || !wrapper.metatype) continue;
    const controllerPaths = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, wrapper.metatype) ?? '');
    const prototype = Object.getPrototypeOf(instance) as object;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = (prototype as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
      const methodPath = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (methodPath === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      const isPublic = reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [handler, wrapper.metatype]) === true;
      const apiKeyScope = reflector.getAllAndOverride<string | undefined>(API_KEY_SCOPE_KEY, [
        handler,
        wrapper.metatype,
      ]);
      for (const controllerPath of controllerPaths) {
        for (const path of ([] as string[]).concat(methodPath)) {
          const bare = joinPath(controllerPath, path);
          const full = UNPREFIXED_ROUTES.includes(bare.slice(1)) ? bare : joinPath(API_PREFIX, bare);
          routes.push({ method, path: full, isPublic, apiKeyScope });
        }
      }
    }
  }
  return routes;
}

describe('every route is public by decorator or authenticated', () => {
  let database: TestDatabase;
  let testApp: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { extraModules: [DiscoveryModule, GuardProbeModule] });
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  it('finds the routes of the app', () => {
    const routes = listRoutes(testApp);
    expect(routes.map((route) => `${route.method} ${route.path}`)).toEqual(expect.arrayContaining([...PUBLIC_ROUTES]));
  });

  it('has no public route outside the reviewed list', () => {
    const publicRoutes = listRoutes(testApp)
      .filter((route) => route.isPublic)
      .map((route) => `${route.method} ${route.path}`);
    expect(new Set(publicRoutes)).toEqual(PUBLIC_ROUTES);
  });

  it('takes API keys on the reviewed API-key routes only (not public: they still need a key)', () => {
    const keyed = listRoutes(testApp).filter((route) => route.apiKeyScope !== undefined);
    expect(new Map(keyed.map((route) => [`${route.method} ${route.path}`, route.apiKeyScope]))).toEqual(API_KEY_ROUTES);
    expect(keyed.filter((route) => route.isPublic)).toEqual([]);
  });

  it('refuses every other route without a token: 401 problem+json', async () => {
    const guarded = listRoutes(testApp).filter((route) => !route.isPublic);
    expect(guarded.map((route) => `${route.method} ${route.path}`)).toEqual(
      expect.arrayContaining(['GET /api/v1/guard-probe/:id', 'POST /api/v1/guard-probe']),
    );
    for (const route of guarded) {
      const url = route.path.replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000001');
      const response = await testApp.app.inject({
        method: route.method as 'GET',
        url,
        payload: route.method === 'GET' ? undefined : {},
      });
      expect({ route: `${route.method} ${route.path}`, status: response.statusCode }).toEqual({
        route: `${route.method} ${route.path}`,
        status: 401,
      });
      expect(response.json().code).toBe('UNAUTHENTICATED');
    }
  });
});
