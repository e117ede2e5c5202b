import { Body, Controller, Get, Module, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Public } from '../../src/common/auth/public.decorator.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ProbeSchema = z.strictObject({ name: z.string().min(1), quantity: z.number().int().min(0) });

/** A route with a validated body, mounted only in this test, behind the production pipeline. */
@Public()
@Controller('probe')
class ProbeController {
  @Post()
  create(@Body({ schema: ProbeSchema }) body: z.infer<typeof ProbeSchema>) {
    return { received: body };
  }

  @Get('ip')
  ip(@Req() request: FastifyRequest) {
    return { ip: request.ip };
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

describe('HTTP foundation: problem+json, request ids, health, metrics', () => {
  let database: TestDatabase;
  let testApp: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { extraModules: [ProbeModule] });
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  const inject = (options: Parameters<TestApp['app']['inject']>[0]) => testApp.app.inject(options);

  it('answers an unknown route with a 404 problem document', async () => {
    const response = await inject({ method: 'GET', url: '/api/v1/does-not-exist' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem).toMatchObject({
      status: 404,
      code: 'ROUTE_NOT_FOUND',
      title: 'Not Found',
      instance: '/api/v1/does-not-exist',
    });
    expect(problem.type).toBe('https://miinventario.mx/problems/route-not-found');
    expect(problem.requestId).toBe(response.headers['x-request-id']);
  });

  it('answers invalid input with 400 VALIDATION_FAILED and one error per field', async () => {
    const response = await inject({ method: 'POST', url: '/api/v1/probe', payload: { name: '', quantity: -1 } });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem.code).toBe('VALIDATION_FAILED');
    expect(problem.errors.map((error: { field: string }) => error.field).sort()).toEqual(['name', 'quantity']);
  });

  it('rejects unknown fields', async () => {
    const response = await inject({
      method: 'POST',
      url: '/api/v1/probe',
      payload: { name: 'Sabritas', quantity: 1, admin: true },
    });
    expect(response.statusCode).toBe(400);
    expect(JSON.stringify(response.json().errors)).toContain('admin');
  });

  it('accepts valid input (the probe is not refusing everything)', async () => {
    const response = await inject({ method: 'POST', url: '/api/v1/probe', payload: { name: 'Sabritas', quantity: 3 } });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ received: { name: 'Sabritas', quantity: 3 } });
  });

  it('answers malformed JSON with 400 MALFORMED_BODY', async () => {
    const response = await inject({
      method: 'POST',
      url: '/api/v1/probe',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "x",',
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().code).toBe('MALFORMED_BODY');
  });

  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const huge = JSON.stringify({ name: 'x'.repeat(testApp.config.BODY_LIMIT_BYTES + 10), quantity: 1 });
    const response = await inject({
      method: 'POST',
      url: '/api/v1/probe',
      headers: { 'content-type': 'application/json' },
      payload: huge,
    });
    expect(response.statusCode).toBe(413);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('keeps a well-formed caller request id and replaces a malformed one', async () => {
    const kept = await inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'client-abc-12345' } });
    expect(kept.headers['x-request-id']).toBe('client-abc-12345');
    const replaced = await inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'bad id\nwith newline' },
    });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports liveness and database readiness outside /api/v1', async () => {
    const live = await inject({ method: 'GET', url: '/health/live' });
    expect(live.statusCode).toBe(200);
    expect(live.json()).toEqual({ status: 'ok' });
    const ready = await inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ok', details: { database: { status: 'up' } } });
  });

  it('exposes an HTTP latency histogram by route template and status on /metrics', async () => {
    await inject({ method: 'GET', url: '/health/live' });
    await inject({ method: 'GET', url: '/api/v1/nowhere' });
    const response = await inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/health\/live",status_code="200"\} \d+/,
    );
    expect(response.body).toMatch(
      /http_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="unmatched",status_code="404"\}|http_request_duration_seconds_bucket\{method="GET",route="[^"]*",status_code="404",le=/,
    );
    expect(response.body).toContain('process_cpu_seconds_total');
  });

  it('serves the OpenAPI document and Swagger UI at /docs', async () => {
    const spec = await inject({ method: 'GET', url: '/docs/openapi.json' });
    expect(spec.statusCode).toBe(200);
    expect(spec.json().openapi).toMatch(/^3\./);
    expect(Object.keys(spec.json().paths)).toContain('/health/ready');
    const ui = await inject({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger-ui');
    expect(ui.body).not.toMatch(/https?:\/\/(cdn|unpkg|cdnjs)/);
  });
});

describe('readiness when the database is gone', () => {
  it('answers 503 NOT_READY as problem+json', async () => {
    const database = await createTestDatabase();
    const testApp = await createTestApp(database);
    try {
      await database.drop();
      const response = await testApp.app.inject({ method: 'GET', url: '/health/ready' });
      expect(response.statusCode).toBe(503);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json()).toMatchObject({ code: 'NOT_READY', status: 503 });
      expect(response.json().detail).toContain('database');
      const live = await testApp.app.inject({ method: 'GET', url: '/health/live' });
      expect(live.statusCode).toBe(200);
    } finally {
      await testApp.close();
    }
  });
});

describe('client address behind proxies (TRUST_PROXY)', () => {
  it('ignores X-Forwarded-For by default and from untrusted peers, and honours it from a listed proxy', async () => {
    const database = await createTestDatabase();
    const plain = await createTestApp(database, { extraModules: [ProbeModule] });
    const behindOne = await createTestApp(database, {
      extraModules: [ProbeModule],
      env: { TRUST_PROXY: '10.0.0.0/8' },
    });
    try {
      const headers = { 'x-forwarded-for': '203.0.113.7' };
      const direct = await plain.inject({
        method: 'GET',
        url: '/api/v1/probe/ip',
        headers,
        remoteAddress: '198.51.100.1',
      });
      expect(direct.json()).toEqual({ ip: '198.51.100.1' });
      const proxied = await behindOne.inject({
        method: 'GET',
        url: '/api/v1/probe/ip',
        headers,
        remoteAddress: '10.0.0.2',
      });
      expect(proxied.json()).toEqual({ ip: '203.0.113.7' });
      const forged = await behindOne.inject({
        method: 'GET',
        url: '/api/v1/probe/ip',
        headers,
        remoteAddress: '198.51.100.9',
      });
      expect(forged.json()).toEqual({ ip: '198.51.100.9' });
    } finally {
      await plain.close();
      await behindOne.close();
      await database.drop();
    }
  });
});
