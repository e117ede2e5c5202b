import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'miinventario:isPublic';

/**
 * Marks a route (or a whole controller) as reachable without a bearer token.
 * Every other route is authenticated by the global guard (CONVENTIONS #4); the
 * route-listing test fails on a route with neither.
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);
