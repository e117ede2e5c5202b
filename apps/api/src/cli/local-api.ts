import { join } from 'node:path';
import { createApp } from '../app.factory.js';
import { createRootLogger } from '../common/logging/logger.js';
import { loadConfig } from '../config/env.schema.js';
import { prepareDatabase } from '../database/database-bootstrap.js';

/** Identity the CLIs sign in with (ADMIN when they start the API themselves). */
export const CLI_IDENTIFIER = 'escaneo@miinventario.mx';

/** Where the CLIs keep their refresh tokens: DATA_DIR/cli-session.json (mode 600). */
export function cliSessionFile(): string {
  return join(loadConfig().DATA_DIR, 'cli-session.json');
}

/**
 * The API the `scan`/`eval` CLIs talk to: `url` when something answers `/health/live` there
 * (e.g. `npm start` in another terminal), else the embedded stack started in this process
 * (same DATA_DIR and embedded PostgreSQL as `npm start`; it cannot run while `npm start` does),
 * on an ephemeral loopback port, with the CLI identity as ADMIN.
 */
export async function connectOrStartApi(
  url: string,
  log: (line: string) => void,
): Promise<{ baseUrl: string; started: boolean; stop: () => Promise<void> }> {
  try {
    const response = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(2000) });
    if (response.ok) return { baseUrl: url, started: false, stop: async () => undefined };
  } catch {
    // nothing there: start the embedded stack below
  }
  log(`no API at ${url}: starting the embedded stack in this process…`);
  const base = loadConfig();
  const config = {
    ...base,
    PORT: 0,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn' as const,
    ADMIN_IDENTIFIERS: [...base.ADMIN_IDENTIFIERS, CLI_IDENTIFIER],
  };
  const logger = createRootLogger(config.LOG_LEVEL);
  const database = await prepareDatabase(config, logger);
  const app = await createApp(config, database.appUrl, logger);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    started: true,
    stop: async () => {
      await app.close();
      await database.stop();
    },
  };
}
