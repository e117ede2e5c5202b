/**
 * What an API key may do. Fixed list: a route names the scope it needs with
 * `@ApiKeyAuth(scope)`; a key without it gets 403 FORBIDDEN. Never rename one.
 */
export const API_KEY_SCOPES = [
  /** Read-only internal endpoints (health of integrations, `GET /internal/ping`). */
  'internal:read',
  /** Internal services that write (jobs, maintenance). */
  'internal:write',
  /** Deliver webhooks from payment or messaging providers' relays. */
  'webhooks:write',
] as const;

export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
