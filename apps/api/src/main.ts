import 'reflect-metadata';
import { createApp } from './app.factory.js';
import { createRootLogger } from './common/logging/logger.js';
import { ConfigError, loadConfig } from './config/env.schema.js';
import { publicBaseUrl } from './config/public-url.js';
import { prepareDatabase } from './database/database-bootstrap.js';

/**
 * API entry point (`npm start`): parse the environment, prepare the database
 * (embedded by default), start the HTTP server on PORT and print its URLs.
 * SIGINT/SIGTERM close the server, then stop the embedded PostgreSQL cleanly.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  const logger = createRootLogger(config.LOG_LEVEL);
  const database = await prepareDatabase(config, logger);
  const app = await createApp(config, database.appUrl, logger);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await app.close();
    } finally {
      await database.stop();
      process.exit(0);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(signal));

  await app.listen({ port: config.PORT, host: config.HOST });
  const base = publicBaseUrl(config);
  logger.info(
    { api: `${base}/api/v1`, docs: `${base}/docs`, embeddedDatabase: database.embedded },
    'MiInventario API ready',
  );
  process.stdout.write(
    [
      '',
      `  MiInventario API   ${base}/api/v1`,
      `  OpenAPI docs       ${base}/docs`,
      `  Health             ${base}/health/ready`,
      `  Database           ${database.embedded ? `embedded PostgreSQL on 127.0.0.1:${config.EMBEDDED_PG_PORT} (${config.DATA_DIR}/postgres)` : 'DATABASE_URL'}`,
      '',
    ].join('\n') + '\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `MiInventario failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
