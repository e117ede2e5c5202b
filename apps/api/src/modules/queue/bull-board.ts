import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainException } from '../../common/errors/domain.exception.js';
import type { ErrorCode } from '../../common/errors/error-codes.js';
import { PROBLEM_CONTENT_TYPE, buildProblem } from '../../common/errors/problem-details.js';
import type { SessionsService } from '../auth/sessions.service.js';
import type { TokenService } from '../auth/token.service.js';
import { BullMqJobQueue } from './bullmq-job.queue.js';
import type { JobQueue } from './job-queue.port.js';

/** Where the dashboard is served (DESIGN.md "API surface"; outside `/api/v1`). */
export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Content-Security-Policy of the dashboard (the API's own policy forbids everything): its
 * bundled scripts, styles and images from this origin only, inline `style` attributes (its
 * loading screen uses them), XHR to its own API. Its page also links Google Fonts; the
 * policy blocks that, so nothing is fetched from a third party (the system font is used).
 */
export const BULL_BOARD_CSP = {
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
 * Decides whether a request may use the dashboard: resolves true for an ADMIN, false for any
 * other authenticated account (→ 403 FORBIDDEN), and throws a {@link DomainException} (401
 * UNAUTHENTICATED, ACCESS_TOKEN_EXPIRED, SESSION_REVOKED…) when the caller is not authenticated.
 */
export type BullBoardAuthorizer = (request: FastifyRequest) => Promise<boolean>;

/** RFC 6750 bearer credentials; the scheme is case-insensitive (RFC 7235 §2.1). Same rule as the global guard. */
const BEARER = /^Bearer +([A-Za-z0-9_\-.]+)$/i;

/**
 * The {@link BullBoardAuthorizer} of the app: the bearer access token is verified exactly as the
 * global AuthenticationGuard does (TokenService: EdDSA, issuer, audience, expiry; then
 * SessionsService: session still open, account not erased, and the account's *current* platform
 * role, not the token's copy), and the role must be ADMIN.
 *
 * @throws DomainException UNAUTHENTICATED (no or bad token), ACCESS_TOKEN_EXPIRED, SESSION_REVOKED (all 401).
 */
export function adminBearerAuthorizer(tokens: TokenService, sessions: SessionsService): BullBoardAuthorizer {
  return async (request) => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) {
      throw new DomainException('UNAUTHENTICATED', 'A valid bearer token is required.', undefined, {
        'www-authenticate': 'Bearer',
      });
    }
    const claims = await tokens.verifyAccessToken(match[1]!);
    const role = await sessions.resolve(claims);
    if (!role) {
      throw new DomainException('SESSION_REVOKED', 'This session was closed; sign in again.', undefined, {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
    return role === 'ADMIN';
  };
}

function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  detail: string,
  headers?: Record<string, string>,
): FastifyReply {
  const problem = buildProblem({
    status,
    code,
    detail,
    requestId: String(request.id),
    instance: request.url.split('?')[0],
  });
  if (headers) void reply.headers(headers);
  return reply.status(status).header('content-type', PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/**
 * Mounts Bull Board (`@bull-board/api` + `@bull-board/fastify` + `@bull-board/ui`, all 9.10.1)
 * on the app's Fastify instance at {@link BULL_BOARD_PATH}: the page, its static files and its
 * JSON API. Every one of those requests first goes through `authorize`; unless it resolves true
 * the answer is RFC 9457 problem+json: 401 (UNAUTHENTICATED, ACCESS_TOKEN_EXPIRED,
 * SESSION_REVOKED, with `WWW-Authenticate`) when `authorize` throws a DomainException, 403
 * FORBIDDEN when it resolves false, 500 INTERNAL_ERROR for any other error. The pages get
 * {@link BULL_BOARD_CSP}. These routes are outside Nest (no global guard, no rate limit).
 *
 * Call before the app listens (Fastify routes cannot be added after `ready`).
 *
 * @throws Error when `queue` is not the BullMQ adapter (the board only reads Redis queues).
 */
export async function mountBullBoard(
  app: NestFastifyApplication,
  queue: JobQueue,
  authorize: BullBoardAuthorizer,
): Promise<void> {
  if (!(queue instanceof BullMqJobQueue)) {
    throw new Error('Bull Board needs the BullMQ job queue (set REDIS_URL); the in-process queue has no dashboard.');
  }
  const serverAdapter = new BullBoardFastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue.queue)],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'MiInventario' } },
  });
  await app.register(
    async (instance: FastifyInstance) => {
      instance.addHook('onRoute', (route) => {
        route.config = {
          ...(route.config as object),
          helmet: { contentSecurityPolicy: BULL_BOARD_CSP },
        } as typeof route.config;
      });
      instance.addHook('onRequest', async (request, reply) => {
        let allowed: boolean;
        try {
          allowed = await authorize(request);
        } catch (error) {
          if (error instanceof DomainException) {
            return sendProblem(request, reply, error.status, error.code, error.detail, error.headers);
          }
          request.log.error({ err: error }, 'queue dashboard authorization failed');
          return sendProblem(request, reply, 500, 'INTERNAL_ERROR', 'Internal error.');
        }
        if (!allowed) {
          return sendProblem(request, reply, 403, 'FORBIDDEN', 'The queue dashboard needs the role ADMIN.');
        }
      });
      await instance.register(serverAdapter.registerPlugin());
    },
    { prefix: BULL_BOARD_PATH },
  );
}
