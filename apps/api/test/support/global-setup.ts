import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/database/embedded-postgres.js';
import { provisionRoles } from '../../src/database/provisioner.js';
import { TEST_APP_PASSWORD } from './constants.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the `postgres` database of the server the tests use. */
    pgServerUrl: string;
    /** 'external' (TEST_DATABASE_URL) or 'embedded'. */
    pgServerKind: 'external' | 'embedded';
  }
}

let embedded: EmbeddedServer | undefined;
let dataDir: string | undefined;

/**
 * Picks the PostgreSQL server for the whole run: TEST_DATABASE_URL when set
 * (CI: this machine's PostgreSQL 15), otherwise a fresh embedded PostgreSQL in a
 * temporary folder — the same code path as `npm start` on a fresh machine.
 * Each test file then creates its own database on it.
 */
export async function setup(project: TestProject): Promise<void> {
  keepFailureExitCode();
  let serverUrl = process.env.TEST_DATABASE_URL;
  let kind: 'external' | 'embedded' = 'external';
  if (!serverUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'miinventario-test-'));
    // When tests run as root the server runs as the `postgres` user, which must reach the folder.
    await chmod(dataDir, 0o755);
    const port = 20000 + Math.floor(Math.random() * 20000);
    embedded = await startEmbeddedPostgres(dataDir, port, pino({ level: 'warn' }));
    serverUrl = embedded.superuserUrl;
    kind = 'embedded';
  }
  const url = new URL(serverUrl);
  url.pathname = '/postgres';
  await provisionRoles(url.toString(), TEST_APP_PASSWORD);
  project.provide('pgServerUrl', url.toString());
  project.provide('pgServerKind', kind);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

/**
 * `embedded-postgres` registers `async-exit-hook`, whose `beforeExit` handler calls
 * `process.exit(0)` once its servers are stopped. Vitest reports failed tests through
 * `process.exitCode = 1`, which an explicit `process.exit(0)` overrides: a failing run
 * would exit 0 and `npm test` would look green. This keeps a failure code set earlier.
 */
function keepFailureExitCode(): void {
  const exit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => {
    const pending = Number(process.exitCode ?? 0);
    return exit(Number(code ?? 0) === 0 && pending !== 0 ? pending : code);
  }) as typeof process.exit;
}
