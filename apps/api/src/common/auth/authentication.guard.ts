import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ApiKeysService } from '../../modules/api-keys/api-keys.service.js';
import type { ApiKeyScope } from '../../modules/api-keys/api-key-scopes.js';
import { SessionsService } from '../../modules/auth/sessions.service.js';
import { TokenService, type PlatformRole } from '../../modules/auth/token.service.js';
import { DomainException } from '../errors/domain.exception.js';
import { currentContext } from '../http/request-context.js';
import { SYSTEM_USER_ID } from '../../database/database.constants.js';
import { API_KEY_HEADER, API_KEY_SCOPE_KEY } from './api-key-auth.decorator.js';
import { IS_PUBLIC_KEY } from './public.decorator.js';
import { ROLES_KEY } from './roles.decorator.js';

/** RFC 7235 §2.1: the scheme name is case-insensitive. */
const BEARER = /^Bearer +([A-Za-z0-9_\-.]+)$/i;

/**
 * Global guard (CONVENTIONS #4): every route not marked {@link Public} needs a
 * bearer access token (RFC 6750) that verifies (EdDSA, issuer, audience, expiry)
 * and whose session is still open and account not erased. The account's current
 * platform role becomes the request identity (and so the RLS `app.role`);
 * `@Roles(...)` routes also need one of the listed roles.
 *
 * `@ApiKeyAuth(scope)` routes instead need an API key in `x-api-key` holding that scope
 * (the header is ignored everywhere else); they run as the SYSTEM identity with the key
 * on the request context.
 *
 * Errors: UNAUTHENTICATED, ACCESS_TOKEN_EXPIRED, SESSION_REVOKED, API_KEY_INVALID (401); FORBIDDEN (403).
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly sessions: SessionsService,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const apiKeyScope = this.reflector.getAllAndOverride<ApiKeyScope | undefined>(API_KEY_SCOPE_KEY, targets);
    if (apiKeyScope) return this.authenticateApiKey(request, apiKeyScope);
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) {
      throw new DomainException('UNAUTHENTICATED', 'A valid bearer token is required.', undefined, {
        'www-authenticate': 'Bearer',
      });
    }
    const claims = await this.tokens.verifyAccessToken(match[1]!);
    const role = await this.sessions.resolve(claims);
    if (!role) {
      throw new DomainException('SESSION_REVOKED', 'This session was closed; sign in again.', undefined, {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
    const store = currentContext();
    if (!store) throw new Error('request context missing');
    store.identity = { userId: claims.userId, role };
    store.sessionId = claims.sessionId;
    const required = this.reflector.getAllAndOverride<PlatformRole[] | undefined>(ROLES_KEY, targets);
    if (required && !required.includes(role)) {
      throw new DomainException('FORBIDDEN', `This action needs the role ${required.join(' or ')}.`);
    }
    return true;
  }

  private async authenticateApiKey(request: FastifyRequest, scope: ApiKeyScope): Promise<boolean> {
    const header = request.headers[API_KEY_HEADER];
    if (typeof header !== 'string' || header.length === 0) {
      throw new DomainException('UNAUTHENTICATED', 'An API key is required in the x-api-key header.', undefined, {
        'www-authenticate': 'ApiKey header="x-api-key"',
      });
    }
    const key = await this.apiKeys.authenticate(header, scope);
    const store = currentContext();
    if (!store) throw new Error('request context missing');
    store.identity = { userId: SYSTEM_USER_ID, role: 'SYSTEM' };
    store.apiKey = key;
    return true;
  }
}
