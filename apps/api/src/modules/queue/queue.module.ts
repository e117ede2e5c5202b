import {
  Global,
  Inject,
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { BullMqJobQueue } from './bullmq-job.queue.js';
import { InProcessJobQueue } from './in-process-job.queue.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JOB_QUEUE, type JobQueue, type QueueLogger } from './job-queue.port.js';

/**
 * The adapter the configuration chooses (DESIGN.md "Jobs"): BullMQ on Redis when `REDIS_URL`
 * is set, the in-process queue otherwise.
 */
export function createJobQueue(config: AppConfig, registry: JobHandlerRegistry, logger?: QueueLogger): JobQueue {
  return config.REDIS_URL
    ? BullMqJobQueue.fromConfig(config, registry, logger)
    : InProcessJobQueue.fromConfig(config, registry, logger);
}

/**
 * Starts and stops the queue with the application:
 * - bootstrap (after every module's `onModuleInit`, where handlers are registered): with
 *   RUN_WORKER, the startup check — a job name without a handler throws
 *   MissingJobHandlerError, which stops the app — then the worker starts; the queue depth is
 *   published as `queue_jobs_*` metrics;
 * - shutdown (before the HTTP server and the database close, so running jobs can finish):
 *   `close()`, waiting up to SHUTDOWN_GRACE_SECONDS for running jobs.
 */
@Injectable()
export class QueueLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.start({ runWorker: this.config.RUN_WORKER });
    this.metrics.trackQueueDepth(this.queue.name, () => this.queue.counts());
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.queue.close();
  }
}

/**
 * The job queue (issue 5), global: provides {@link JOB_QUEUE} (inject with
 * `@Inject(JOB_QUEUE) queue: JobQueue` to enqueue) and {@link JobHandlerRegistry} (inject and
 * call `register` / `onFailed` in your module's `onModuleInit`). Job names live in job-names.ts.
 */
@Global()
@Module({
  providers: [
    JobHandlerRegistry,
    {
      provide: JOB_QUEUE,
      inject: [APP_CONFIG, JobHandlerRegistry],
      useFactory: (config: AppConfig, registry: JobHandlerRegistry) => createJobQueue(config, registry),
    },
    QueueLifecycle,
  ],
  exports: [JOB_QUEUE, JobHandlerRegistry],
})
export class QueueModule {}
