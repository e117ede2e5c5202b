import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths };

/** The RFC 9457 problem document every error response carries (see the API's ProblemDetails). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  requestId: string;
  errors?: Array<{ field: string; message: string; code?: string }>;
}

/** Options of {@link createApiClient}. */
export interface ApiClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** Server origin, e.g. `http://localhost:3142` (paths in the spec already include `/api/v1`). */
  baseUrl: string;
  /** Returns the current bearer access token, if any; called on every request. */
  getAccessToken?: () => string | undefined | Promise<string | undefined>;
}

/**
 * A typed client of the MiInventario API (openapi-fetch over the committed
 * openapi.json). Every call resolves to `{ data }` or `{ error }` where `error`
 * is a {@link Problem}.
 */
export function createApiClient(options: ApiClientOptions): Client<paths> {
  const { getAccessToken, ...rest } = options;
  const client = createClient<paths>(rest);
  if (getAccessToken) {
    client.use({
      async onRequest({ request }) {
        const token = await getAccessToken();
        if (token) request.headers.set('authorization', `Bearer ${token}`);
        return request;
      },
    });
  }
  return client;
}
