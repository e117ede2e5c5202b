import type { AppConfig } from './env.schema.js';

/**
 * Base URL people reach the product at, without a trailing slash: PUBLIC_URL, or
 * `http://localhost:<PORT>` on one machine. Used in links sent by SMS or e-mail.
 */
export function publicBaseUrl(config: Pick<AppConfig, 'PUBLIC_URL' | 'PORT'>): string {
  return (config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');
}
