import { SetMetadata } from '@nestjs/common';
import type { PlatformRole } from '../../modules/auth/token.service.js';

export const ROLES_KEY = 'miinventario:roles';

/**
 * Restricts a route (or controller) to the given platform roles, checked by the
 * global guard against the account's current role (not the token's copy).
 * Store-level roles (OWNER/OPERATOR of a store) are checked by the stores access service.
 */
export const Roles = (...roles: PlatformRole[]): MethodDecorator & ClassDecorator => SetMetadata(ROLES_KEY, roles);
