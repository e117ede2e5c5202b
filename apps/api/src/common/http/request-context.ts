import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from 'typeorm';

/** Who a database transaction acts for; becomes `app.user_id` / `app.role` (DESIGN.md "Data"). */
export interface RequestIdentity {
  userId: string;
  role: 'USER' | 'OWNER' | 'OPERATOR' | 'ADMIN' | 'SYSTEM';
}

/** Per-request (or per-job) state carried through async calls. */
export interface RequestContextStore {
  requestId: string;
  /** Caller address (Fastify's `request.ip`, proxy-aware in production). */
  ip?: string;
  userAgent?: string;
  identity?: RequestIdentity;
  /** Session (refresh-token family) of the access token, when authenticated by one. */
  sessionId?: string;
  /** API key that authenticated the request (identity is then SYSTEM); audit entries name it. */
  apiKey?: { id: string; name: string; scopes: string[] };
  /** The transaction of this request, once opened by the database layer. */
  manager?: EntityManager;
}

/** The single AsyncLocalStorage of the process (request id in logs, RLS transaction). */
export const requestContext = new AsyncLocalStorage<RequestContextStore>();

/** The current store, or undefined outside a request or job. */
export function currentContext(): RequestContextStore | undefined {
  return requestContext.getStore();
}
