import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ALLOWED = 'https://app.miinventario.mx';

describe('security headers (helmet) and the CORS allow-list', () => {
  let database: TestDatabase;
  let testApp: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { env: { CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` } });
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  const get = (url: string, headers: Record<string, string> = {}) =>
    testApp.app.inject({ method: 'GET', url, headers });

  it('sends the security headers on API answers, errors included, with a CSP that allows nothing', async () => {
    for (const response of [
      await get('/health/live'),
      await get('/api/v1/auth/sessions'),
      await get('/api/v1/no-such-route'),
    ]) {
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(response.headers['x-powered-by']).toBeUndefined();
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
    }
  });

  it.each(['/docs', '/docs/'])(
    'still serves a working Swagger UI at %s: its scripts load from /docs and none is inline',
    async (pageUrl) => {
      const page = await get(pageUrl);
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self' 'unsafe-inline'");
      expect(csp).not.toContain("default-src 'none'");

      // As a browser resolves the page's relative links.
      const resolve = (link: string) => new URL(link, `http://localhost${pageUrl}`).pathname;
      const scripts = [...page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, content] of scripts) {
        // The CSP has no 'unsafe-inline' for scripts: every script must be a file of the same origin.
        const src = /src="([^"]+)"/.exec(attributes!)?.[1];
        expect(src, `inline script: ${content!.slice(0, 80)}`).toBeDefined();
        expect(content!.trim()).toBe('');
        const url = resolve(src!);
        expect(url.startsWith('/docs/')).toBe(true);
        const asset = await get(url);
        expect({ url, status: asset.statusCode }).toEqual({ url, status: 200 });
        expect(asset.headers['content-type']).toMatch(/javascript/);
      }
      const stylesheet = /<link rel="stylesheet" type="text\/css" href="([^"]+)"/.exec(page.body)?.[1];
      expect((await get(resolve(stylesheet!))).statusCode).toBe(200);
      const spec = await get('/docs/openapi.json');
      expect(spec.statusCode).toBe(200);
      expect(spec.json().components.securitySchemes['api-key']).toEqual({
        type: 'apiKey',
        in: 'header',
        name: 'x-api-key',
      });
    },
  );

  it('gives an allowed origin access-control-allow-origin, and another origin none', async () => {
    const preflight = (origin: string) =>
      testApp.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/auth/otp/request',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight(ALLOWED);
    expect(allowed.statusCode).toBeLessThan(300);
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
    const denied = await preflight('https://evil.example');
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();

    const simple = await get('/health/live', { origin: 'http://localhost:5173' });
    expect(simple.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(String(simple.headers['access-control-expose-headers'])).toContain('retry-after');
    const other = await get('/health/live', { origin: 'https://app.miinventario.mx.evil.example' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
