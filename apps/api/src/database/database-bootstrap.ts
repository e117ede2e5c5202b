import type { Logger } from 'pino';
import type { AppConfig } from '../config/env.schema.js';
import { EMBEDDED_DATABASE } from './database.constants.js';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded-postgres.js';
import { deriveAppUrl, ensureDatabase, provisionRoles } from './provisioner.js';
import { runMigrations } from './data-sources.js';

/** Where the API's connections go, and how to release what was started. */
export interface PreparedDatabase {
  /** Migrator (owner-capable) URL. */
  adminUrl: string;
  /** Application-role URL (RLS-bound). */
  appUrl: string;
  embedded: boolean;
  /** Migrations applied by this start (empty when the schema was current). */
  applied: string[];
  stop(): Promise<void>;
}

/**
 * Gets a database ready before the Nest app is created:
 * - no DATABASE_URL: starts the embedded PostgreSQL (DATA_DIR/postgres, port
 *   EMBEDDED_PG_PORT), creates the `miinventario` database on first start;
 * - provisions the three roles (skipped when DATABASE_APP_URL is given: roles are
 *   then managed outside the app);
 * - runs pending migrations (always on the embedded default; with DATABASE_URL when
 *   MIGRATIONS_RUN is true), once even with several processes starting together.
 */
export async function prepareDatabase(config: AppConfig, logger: Logger): Promise<PreparedDatabase> {
  let embeddedServer: EmbeddedServer | undefined;
  let adminUrl: string;
  if (config.DATABASE_URL) {
    adminUrl = config.DATABASE_URL;
  } else {
    embeddedServer = await startEmbeddedPostgres(config.DATA_DIR, config.EMBEDDED_PG_PORT, logger);
    const url = new URL(embeddedServer.superuserUrl);
    url.pathname = `/${EMBEDDED_DATABASE}`;
    adminUrl = url.toString();
  }
  try {
    if (embeddedServer) await ensureDatabase(adminUrl);
    if (!config.DATABASE_APP_URL) await provisionRoles(adminUrl, config.DATABASE_APP_PASSWORD);
    let applied: string[] = [];
    if (embeddedServer || config.MIGRATIONS_RUN) {
      applied = await runMigrations(adminUrl);
      logger.info({ applied }, applied.length > 0 ? 'migrations applied' : 'database schema is current');
    }
    return {
      adminUrl,
      appUrl: config.DATABASE_APP_URL ?? deriveAppUrl(adminUrl, config.DATABASE_APP_PASSWORD),
      embedded: embeddedServer !== undefined,
      applied,
      stop: async () => embeddedServer?.stop(),
    };
  } catch (error) {
    await embeddedServer?.stop().catch(() => undefined);
    throw error;
  }
}
