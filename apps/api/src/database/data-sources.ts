import pg from 'pg';
import { DataSource } from 'typeorm';
import { entities } from './entities.js';
import { OWNER_ROLE } from './database.constants.js';
import { migrations } from './migrations/index.js';

/**
 * DataSource used only to run migrations: the migrator's URL, acting as the
 * owner role (`-c role=miinventario_owner`) so every object it creates is owned
 * by that role and not by the login user. `synchronize` is never on.
 */
export function createMigrationDataSource(adminUrl: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url: adminUrl,
    extra: { options: `-c role=${OWNER_ROLE}`, max: 2 },
    migrations,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
  });
}

/**
 * The API's DataSource: connects as `miinventario_app` (RLS applies to every
 * query). Pool size in connections; statements time out after 30 s.
 */
export function createAppDataSource(appUrl: string, poolSize: number): DataSource {
  return new DataSource({
    type: 'postgres',
    url: appUrl,
    entities,
    poolSize,
    extra: {
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 60_000,
      application_name: 'miinventario-api',
    },
    synchronize: false,
    migrationsRun: false,
    logging: false,
  });
}

const MIGRATION_LOCK = 714_2027;

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so several API or
 * worker processes starting together migrate once. Returns the names applied.
 */
export async function runMigrations(adminUrl: string): Promise<string[]> {
  const lock = new pg.Client({ connectionString: adminUrl });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const dataSource = createMigrationDataSource(adminUrl);
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((migration) => migration.name);
    } finally {
      await dataSource.destroy();
    }
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.end();
  }
}

/** Reverts every applied migration, newest first (tests and `npm run db:reset`). Returns how many. */
export async function revertAllMigrations(adminUrl: string): Promise<number> {
  const dataSource = createMigrationDataSource(adminUrl);
  await dataSource.initialize();
  let reverted = 0;
  try {
    const rows = (await dataSource.query('SELECT count(*)::int AS n FROM schema_migrations')) as Array<{ n: number }>;
    const applied = rows[0]?.n ?? 0;
    for (let i = 0; i < applied; i += 1) {
      await dataSource.undoLastMigration({ transaction: 'each' });
      reverted += 1;
    }
  } finally {
    await dataSource.destroy();
  }
  return reverted;
}
