import helmet from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** Path of Swagger UI (served by @nestjs/swagger, outside the API prefix). */
const DOCS_PATH = '/docs';

/**
 * Content-Security-Policy of API responses: JSON is never a document, so nothing may
 * load, run, frame it or submit from it (OWASP REST Security Cheat Sheet, "Security headers").
 */
export const API_CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
  },
};

/**
 * CSP of Swagger UI at /docs: its own scripts and styles only (it loads
 * swagger-ui-bundle.js and swagger-ui-init.js from /docs, and its page has inline
 * `<style>` blocks, hence `style-src 'unsafe-inline'`; no inline script is allowed).
 */
export const DOCS_CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    frameAncestors: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
  },
};

/**
 * Security headers on every response with @fastify/helmet (helmet 8 defaults: HSTS,
 * nosniff, frame and referrer policies, cross-origin isolation headers) and the strict
 * {@link API_CSP}; routes under /docs get {@link DOCS_CSP} so Swagger UI still works.
 * Call before the routes are registered (before `app.init()` / `SwaggerModule.setup`).
 */
export async function registerSecurityHeaders(app: NestFastifyApplication): Promise<void> {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      if (route.url === DOCS_PATH || route.url.startsWith(`${DOCS_PATH}/`)) {
        route.config = {
          ...(route.config as object),
          helmet: { contentSecurityPolicy: DOCS_CSP },
        } as typeof route.config;
      }
    });
  await app.register(helmet, { global: true, contentSecurityPolicy: API_CSP });
}
