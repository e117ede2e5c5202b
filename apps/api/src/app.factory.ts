import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { LogController } from 'fastify';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import { API_KEY_HEADER, API_KEY_SECURITY } from './common/auth/api-key-auth.decorator.js';
import { requestContext } from './common/http/request-context.js';
import { registerSecurityHeaders } from './common/http/security-headers.js';
import { PinoNestLogger } from './common/logging/logger.js';
import type { AppConfig } from './config/env.schema.js';
import type { Clock } from './common/time/clock.js';
import { MetricsService } from './metrics/metrics.service.js';
import { SessionsService } from './modules/auth/sessions.service.js';
import { TokenService } from './modules/auth/token.service.js';
import { adminBearerAuthorizer, mountBullBoard } from './modules/queue/bull-board.js';
import { JOB_QUEUE, type JobQueue } from './modules/queue/job-queue.port.js';

/** Path prefix of every product route (DESIGN.md "API surface"). */
export const API_PREFIX = 'api/v1';
/** Routes outside the prefix. */
export const UNPREFIXED_ROUTES = ['health/live', 'health/ready', 'metrics'];

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;

/** A caller's `x-request-id` is kept when well formed; otherwise a UUID is generated. */
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate && REQUEST_ID_PATTERN.test(candidate) ? candidate : randomUUID();
}

/**
 * Builds the OpenAPI 3 document of the app (served at /docs, committed as
 * packages/api-client/openapi.json).
 */
export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('MiInventario API')
    .setDescription(
      'Video-based stock counts for small shops in Mexico. Errors are application/problem+json (RFC 9457) with a stable `code`.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .addApiKey({ type: 'apiKey', in: 'header', name: API_KEY_HEADER }, API_KEY_SECURITY)
    .build();
  return SwaggerModule.createDocument(app, config, { operationIdFactory: (_controller, method) => method });
}

/**
 * Creates the Nest application on Fastify, configured exactly as in production:
 * pino JSON logs with a request id on every line and in the `x-request-id`
 * response header, body limit, `/api/v1` prefix, OpenAPI at `/docs`, HTTP metrics.
 * The database must already be prepared (`prepareDatabase`); `appUrl` is the
 * application role's connection.
 */
export async function createApp(
  config: AppConfig,
  appUrl: string,
  logger: Logger,
  options: { connectDatabase?: boolean; extraModules?: Type[]; clock?: Clock } = {},
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    trustProxy: config.TRUST_PROXY,
  });
  const fastify = adapter.getInstance();
  // tus PATCH bodies (issue 5): left unread here, streamed by the upload handler to the store
  // (never buffered; the JSON body limit does not apply, UPLOAD_MAX_BYTES does).
  fastify.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    requestContext.run(
      { requestId: String(request.id), ip: request.ip, userAgent: request.headers['user-agent']?.slice(0, 512) },
      done,
    );
  });

  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({
      config,
      appUrl,
      connectDatabase: options.connectDatabase,
      extraModules: options.extraModules,
      clock: options.clock,
    }),
    adapter,
    {
      logger: new PinoNestLogger(logger),
      // JSON only: Nest would also register a urlencoded parser, letting any web page post
      // forms (no CORS preflight) to endpoints such as the OTP request. Fastify's own JSON
      // parser stays; other content types get 415.
      bodyParser: false,
      bufferLogs: false,
    },
  );
  await registerSecurityHeaders(app);
  // Bull Board (issue 5): the BullMQ dashboard at /admin/queues, ADMIN only; only with REDIS_URL.
  if (config.REDIS_URL) {
    await mountBullBoard(
      app,
      app.get<JobQueue>(JOB_QUEUE),
      adminBearerAuthorizer(app.get(TokenService), app.get(SessionsService)),
    );
  }
  const metrics = app.get(MetricsService);
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.observeHttp(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
  app.setGlobalPrefix(API_PREFIX, { exclude: UNPREFIXED_ROUTES });
  app.enableCors({
    origin: config.CORS_ORIGINS.length > 0 ? config.CORS_ORIGINS : false,
    exposedHeaders: ['x-request-id', 'retry-after'],
  });
  app.enableShutdownHooks();
  if (config.DOCS_ENABLED) {
    await app.init();
    const document = buildOpenApiDocument(app);
    SwaggerModule.setup('docs', app, document, {
      useGlobalPrefix: false,
      jsonDocumentUrl: 'docs/openapi.json',
      yamlDocumentUrl: 'docs/openapi.yaml',
    });
  }
  return app;
}
