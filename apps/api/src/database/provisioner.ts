import pg from 'pg';
import { APP_ROLE, OWNER_ROLE, RLS_HELPER_ROLE } from './database.constants.js';

/**
 * Creates the database named in `url` when it does not exist, connecting to the
 * server's `postgres` maintenance database with the same credentials.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) throw new Error('DATABASE_URL must name a database');
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Makes sure the three roles of the data model exist with the right attributes and
 * that the connecting (migrator) user can act as the owner role:
 * - `miinventario_owner` NOLOGIN: owns every object; migrations `SET ROLE` to it;
 * - `miinventario_app` LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB: the API's role;
 * - `miinventario_rls` NOLOGIN BYPASSRLS: owns only the membership helper functions.
 *
 * Needs a superuser (or, on managed services, a role allowed to create roles and grant
 * BYPASSRLS). Idempotent; safe to run on every start. The app role's password is set
 * each time so rotating DATABASE_APP_PASSWORD takes effect on the next start.
 */
export async function provisionRoles(adminUrl: string, appPassword: string): Promise<void> {
  // Roles are cluster-wide: processes provisioning different databases of one server at the
  // same time can collide on them (42710 duplicate_object, XX000 "tuple concurrently updated").
  for (let attempt = 1; ; attempt += 1) {
    try {
      await provisionOnce(adminUrl, appPassword);
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      const retryable = code === '42710' || code === 'XX000' || code === '40001' || code === '23505';
      if (!retryable || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

async function provisionOnce(adminUrl: string, appPassword: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const database = (
      await client.query<{ db: string; usr: string }>('SELECT current_database() AS db, current_user AS usr')
    ).rows[0]!;
    // Role creation races when two processes start at once: serialise on an advisory lock.
    await client.query('SELECT pg_advisory_lock(7142026)');
    try {
      const roles = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [
        [OWNER_ROLE, APP_ROLE, RLS_HELPER_ROLE],
      ]);
      const existing = new Set(roles.rows.map((row) => row.rolname));
      if (!existing.has(OWNER_ROLE)) await client.query(`CREATE ROLE ${OWNER_ROLE} NOLOGIN`);
      if (!existing.has(RLS_HELPER_ROLE)) await client.query(`CREATE ROLE ${RLS_HELPER_ROLE} NOLOGIN BYPASSRLS`);
      if (!existing.has(APP_ROLE)) await client.query(`CREATE ROLE ${APP_ROLE} LOGIN`);
      await client.query(
        `ALTER ROLE ${APP_ROLE} WITH LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD ${client.escapeLiteral(appPassword)}`,
      );
      await client.query(`ALTER ROLE ${OWNER_ROLE} WITH NOLOGIN NOBYPASSRLS`);
      await client.query(`ALTER ROLE ${RLS_HELPER_ROLE} WITH NOLOGIN BYPASSRLS`);
      await client.query(`GRANT ${OWNER_ROLE} TO ${client.escapeIdentifier(database.usr)}`).catch(ignoreSelfGrant);
      await client.query(`GRANT ${RLS_HELPER_ROLE} TO ${OWNER_ROLE}`);
      await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${client.escapeIdentifier(database.db)} TO ${APP_ROLE}`);
      await client.query(`GRANT CREATE, CONNECT ON DATABASE ${client.escapeIdentifier(database.db)} TO ${OWNER_ROLE}`);
      await client.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      // The migrations bookkeeping table (public.schema_migrations) belongs to the owner role.
      await client.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${OWNER_ROLE}`);
    } finally {
      await client.query('SELECT pg_advisory_unlock(7142026)');
    }
  } finally {
    await client.end();
  }
}

function ignoreSelfGrant(error: { code?: string }): void {
  // 0LP01 invalid_grant_operation: the migrator already is the owner role.
  if (error.code !== '0LP01') throw error;
}

/**
 * The application role's URL: the same host, port and database as `adminUrl`,
 * with the app role's user name and password.
 */
export function deriveAppUrl(adminUrl: string, appPassword: string): string {
  const url = new URL(adminUrl);
  url.username = APP_ROLE;
  url.password = encodeURIComponent(appPassword);
  return url.toString();
}
