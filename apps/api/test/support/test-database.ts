import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { runMigrations } from '../../src/database/data-sources.js';
import { deriveAppUrl, provisionRoles } from '../../src/database/provisioner.js';
import { TEST_APP_PASSWORD } from './constants.js';

/** A fresh database on the test server, with roles provisioned. */
export interface TestDatabase {
  name: string;
  /** Superuser URL of this database (the migrator). */
  adminUrl: string;
  /** Application-role URL of this database (RLS applies). */
  appUrl: string;
  /** Runs the migrations (when created with `migrate: false`). */
  migrate(): Promise<string[]>;
  /** Drops the database, closing any connection still open. */
  drop(): Promise<void>;
  /** Runs one statement as the superuser (outside RLS) and returns its rows: for checking what was written. */
  adminQuery<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

/**
 * Creates `mi_test_<random>` on the server chosen by the global setup, provisions
 * the roles' database grants and (by default) runs every migration.
 */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = inject('pgServerUrl');
  const name = `mi_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const adminUrl = url.toString();
  await provisionRoles(adminUrl, TEST_APP_PASSWORD);
  const database: TestDatabase = {
    name,
    adminUrl,
    appUrl: deriveAppUrl(adminUrl, TEST_APP_PASSWORD),
    migrate: () => runMigrations(adminUrl),
    async adminQuery<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows as T[];
      } finally {
        await client.end();
      }
    },
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
  if (options.migrate !== false) await database.migrate();
  return database;
}
