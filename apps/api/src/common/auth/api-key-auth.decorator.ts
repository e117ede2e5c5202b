import { applyDecorators, createParamDecorator, SetMetadata } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import type { ApiKeyScope } from '../../modules/api-keys/api-key-scopes.js';
import { DomainException } from '../errors/domain.exception.js';
import { currentContext } from '../http/request-context.js';

export const API_KEY_SCOPE_KEY = 'miinventario:apiKeyScope';
/** Request header carrying an API key (`mik_<prefix>_<secret>`). */
export const API_KEY_HEADER = 'x-api-key';
/** Name of the OpenAPI security scheme of API keys. */
export const API_KEY_SECURITY = 'api-key';

/**
 * Marks a route (or controller) as called by a machine with an API key in the
 * `x-api-key` header, holding `scope`. The global guard accepts API keys on these
 * routes only (and only API keys: a person's bearer token is not enough); the request
 * then runs as the SYSTEM identity with the key recorded on the request context.
 *
 * Errors: UNAUTHENTICATED (no key), API_KEY_INVALID (unknown, revoked, expired) 401;
 * FORBIDDEN 403 (key without `scope`).
 */
export const ApiKeyAuth = (scope: ApiKeyScope): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(API_KEY_SCOPE_KEY, scope), ApiSecurity(API_KEY_SECURITY));

/** The API key that authenticated the request: `{ id, name, scopes }`. */
export interface AuthenticatedApiKey {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
}

/**
 * Injects the API key set by the global guard on an {@link ApiKeyAuth} route.
 *
 * @throws DomainException UNAUTHENTICATED where no API key authenticated the request.
 */
export const CurrentApiKey = createParamDecorator((): AuthenticatedApiKey => {
  const key = currentContext()?.apiKey;
  if (!key) throw new DomainException('UNAUTHENTICATED', 'An API key is required in the x-api-key header.');
  return { id: key.id, name: key.name, scopes: key.scopes as ApiKeyScope[] };
});
