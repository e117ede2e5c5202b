import { createParamDecorator } from '@nestjs/common';
import { DomainException } from '../errors/domain.exception.js';
import { currentContext, type RequestIdentity } from '../http/request-context.js';

/** The authenticated caller: `{ userId, role, sessionId }`. */
export interface AuthenticatedUser extends RequestIdentity {
  sessionId?: string;
}

/**
 * Injects the authenticated caller set by the global guard.
 *
 * @throws DomainException UNAUTHENTICATED on a route where nobody is authenticated.
 */
export const CurrentUser = createParamDecorator((): AuthenticatedUser => {
  const context = currentContext();
  if (!context?.identity) throw new DomainException('UNAUTHENTICATED', 'A valid bearer token is required.');
  return { ...context.identity, sessionId: context.sessionId };
});
