import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainException } from '../errors/domain.exception.js';
import { IS_PUBLIC_KEY } from './public.decorator.js';

/**
 * Global guard: a route not marked {@link Public} needs an authenticated identity.
 *
 * Token verification arrives with the auth module (issue 3); until then every
 * non-public route answers 401 UNAUTHENTICATED, which is the safe default.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    throw new DomainException('UNAUTHENTICATED', 'A valid bearer token is required.', undefined, {
      'www-authenticate': 'Bearer',
    });
  }
}
