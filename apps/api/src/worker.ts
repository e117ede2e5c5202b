import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { createRootLogger, PinoNestLogger } from './common/logging/logger.js';
import { ConfigError, loadConfig } from './config/env.schema.js';
import { prepareDatabase } from './database/database-bootstrap.js';

/**
 * Worker entry point (`npm run worker`; DESIGN.md "Jobs": scale out with more worker
 * processes on the same Redis): the same modules as the API without an HTTP server, with
 * RUN_WORKER forced on. It runs the job processors and the sweeper.
 *
 * Needs DATABASE_URL (a shared PostgreSQL) and, to share work with other processes, REDIS_URL.
 * On the embedded default there is no separate worker: the API process runs the jobs.
 * SIGINT/SIGTERM stop taking jobs, wait up to SHUTDOWN_GRACE_SECONDS for running ones, then exit.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = { ...loadConfig(), RUN_WORKER: true };
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  if (!config.DATABASE_URL) {
    process.stderr.write(
      'npm run worker needs DATABASE_URL (and REDIS_URL to share jobs with the API). On the embedded default the ' +
        'API process (npm start) runs the jobs itself.\n',
    );
    process.exit(78);
  }
  const logger = createRootLogger(config.LOG_LEVEL);
  const database = await prepareDatabase(config, logger);
  const app = await NestFactory.createApplicationContext(AppModule.forRoot({ config, appUrl: database.appUrl }), {
    logger: new PinoNestLogger(logger),
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker shutting down');
    try {
      await app.close();
    } finally {
      await database.stop();
      process.exit(0);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(signal));
  await app.init();
  logger.info({ queue: config.REDIS_URL ? 'bullmq' : 'in-process' }, 'MiInventario worker ready');
}

main().catch((error: unknown) => {
  process.stderr.write(
    `MiInventario worker failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
