import { Logger } from '@nestjs/common';
// Plain `bullmq`, not `@nestjs/bullmq`: the Nest package registers queues and @Processor classes
// at module-definition time, one worker per decorated class, always started. This port needs
// the adapter chosen by configuration at runtime, handlers from a registry checked at startup,
// a worker only when RUN_WORKER is true, and a close() with a grace period; a Queue and a Worker
// owned by one class give all of that without fighting the framework.
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { AppConfig } from '../../config/env.schema.js';
import { asError, executeJob, notifyFailed } from './job-execution.js';
import type { JobHandlerRegistry } from './job-handler.registry.js';
import type { JobData, JobName } from './job-names.js';
import {
  QueueClosedError,
  UnrecoverableJobError,
  validateEnqueue,
  type EnqueueOptions,
  type EnqueueResult,
  type JobCounts,
  type JobQueue,
  type QueueLogger,
  type StartOptions,
} from './job-queue.port.js';

/** Name of the one BullMQ queue that carries every job name (`<QUEUE_PREFIX>:jobs:*` keys). */
export const BULLMQ_QUEUE_NAME = 'jobs';
/** Failed jobs BullMQ keeps (`removeOnFail: { count }`); a re-enqueue replaces a failed job anyway. */
export const BULLMQ_FAILED_JOBS_KEPT = 10_000;

/** Settings of {@link BullMqJobQueue}; {@link BullMqJobQueue.fromConfig} reads them from the environment. */
export interface BullMqJobQueueOptions {
  /** `REDIS_URL` (`redis://host:6379/0`). */
  redisUrl: string;
  /** Key prefix (`QUEUE_PREFIX`). */
  prefix: string;
  /** Queue name; default {@link BULLMQ_QUEUE_NAME}. */
  queueName?: string;
  /** Jobs this process's worker runs at once (`QUEUE_CONCURRENCY`). */
  concurrency: number;
  /** Runs per job before it fails for good (`QUEUE_ATTEMPTS`). */
  attempts: number;
  /** First retry delay, ms; doubles each attempt (`QUEUE_BACKOFF_MS`). */
  backoffMs: number;
  /** How long {@link BullMqJobQueue.close} waits for running jobs, ms (`SHUTDOWN_GRACE_SECONDS` × 1000). */
  shutdownGraceMs: number;
  /** Ms between stalled-job checks (BullMQ default 30 000; tests use less). */
  stalledIntervalMs?: number;
  /** Ms a worker's lock on a running job lasts unless renewed (BullMQ default 30 000; tests use less). */
  lockDurationMs?: number;
  logger?: QueueLogger;
}

/** The part of a Redis client {@link checkRedisEvictionPolicy} uses (ioredis fits). */
export interface RedisConfigReader {
  config(subcommand: 'GET', parameter: string): Promise<unknown>;
}

/**
 * Reads Redis's `maxmemory-policy` and complains loudly unless it is `noeviction`: with any
 * other policy Redis deletes keys under memory pressure, BullMQ's included, so jobs and their
 * locks vanish silently (docs.bullmq.io/guide/going-to-production, "Max memory policy").
 * Managed Redis often disables `CONFIG`; that is logged as a warning, not an error.
 *
 * @returns the policy, or null when it could not be read. Never throws.
 */
export async function checkRedisEvictionPolicy(redis: RedisConfigReader, logger: QueueLogger): Promise<string | null> {
  let policy: string | null = null;
  try {
    const reply = await redis.config('GET', 'maxmemory-policy');
    if (Array.isArray(reply) && typeof reply[1] === 'string') policy = reply[1];
  } catch (error) {
    logger.warn(
      { err: error },
      'Could not read the Redis maxmemory-policy (CONFIG may be disabled on managed Redis). Make sure it is ' +
        '"noeviction": any other policy lets Redis delete queued jobs under memory pressure.',
    );
    return null;
  }
  if (policy === null) {
    logger.warn('Redis did not report a maxmemory-policy; make sure it is "noeviction".');
  } else if (policy !== 'noeviction') {
    logger.error(
      { maxmemoryPolicy: policy },
      `Redis maxmemory-policy is "${policy}", not "noeviction": under memory pressure Redis will delete BullMQ ` +
        'keys (waiting jobs, locks of running jobs), so inventories can be lost or processed twice. Set ' +
        '"maxmemory-policy noeviction" on this Redis (see docs.bullmq.io/guide/going-to-production).',
    );
  }
  return policy;
}

/** Waits for `promises` to settle, or until `deadline` (epoch ms), whichever comes first. */
async function settleBefore(promises: Promise<unknown>[], deadline: number): Promise<void> {
  const remaining = deadline - Date.now();
  if (promises.length === 0 || remaining <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, remaining);
    }),
  ]);
  clearTimeout(timer);
}

interface RunningJob {
  abort: AbortController;
  done: Promise<void>;
}

/**
 * The production job queue (`REDIS_URL` set): one BullMQ queue on Redis (DESIGN.md "Jobs"),
 * shared by every API and worker process; scale by running more workers.
 *
 * - Keys under `QUEUE_PREFIX`; job id = the given id; `attempts: QUEUE_ATTEMPTS`, exponential
 *   backoff from `QUEUE_BACKOFF_MS`, completed jobs removed, the newest
 *   {@link BULLMQ_FAILED_JOBS_KEPT} failed jobs kept (Bull Board shows them).
 * - One job per id: enqueue looks the id up first; a waiting, delayed or running job is left
 *   alone (`created: false`), a completed or failed one is removed and replaced. Calls for the
 *   same id are serialised within a process; across processes BullMQ's atomic add still keeps a
 *   single job per id, though two racing callers may both see `created: true`.
 * - The worker (only when RUN_WORKER) runs `QUEUE_CONCURRENCY` jobs at once. If a worker dies
 *   (or {@link close} releases a job after the grace period), its lock expires after
 *   `lockDurationMs` and BullMQ's stalled check (every `stalledIntervalMs`) puts the job back to
 *   waiting for another worker, without counting an attempt. A job that stalls a second time is
 *   failed by BullMQ itself (maxStalledCount 1) without calling failure listeners; the sweeper
 *   then finds its session stuck.
 * - At startup the Redis `maxmemory-policy` is checked ({@link checkRedisEvictionPolicy}).
 */
export class BullMqJobQueue implements JobQueue {
  readonly backend = 'bullmq' as const;
  readonly name: string;
  /** The underlying BullMQ queue (Bull Board displays it). */
  readonly queue: Queue;
  private worker?: Worker;
  private readonly logger: QueueLogger;
  private readonly running = new Map<string, RunningJob>();
  private readonly listenerRuns = new Set<Promise<void>>();
  private readonly enqueueChains = new Map<string, Promise<unknown>>();
  private closing = false;
  private closed?: Promise<void>;

  constructor(
    private readonly registry: JobHandlerRegistry,
    private readonly options: BullMqJobQueueOptions,
  ) {
    this.name = options.queueName ?? BULLMQ_QUEUE_NAME;
    this.logger = options.logger ?? new Logger('JobQueue');
    this.queue = new Queue(this.name, {
      // An enqueue from an HTTP request fails fast when Redis is away (the sweeper re-enqueues later).
      connection: { url: options.redisUrl, maxRetriesPerRequest: 1 },
      prefix: options.prefix,
      defaultJobOptions: {
        attempts: options.attempts,
        backoff: { type: 'exponential', delay: options.backoffMs },
        removeOnComplete: true,
        removeOnFail: { count: BULLMQ_FAILED_JOBS_KEPT },
      },
    });
    this.queue.on('error', (error) => this.logger.error({ err: error }, 'BullMQ queue connection error'));
  }

  /** The adapter configured from the environment (`REDIS_URL`, `QUEUE_*`, `SHUTDOWN_GRACE_SECONDS`). */
  static fromConfig(config: AppConfig, registry: JobHandlerRegistry, logger?: QueueLogger): BullMqJobQueue {
    if (!config.REDIS_URL) throw new Error('BullMqJobQueue needs REDIS_URL');
    return new BullMqJobQueue(registry, {
      redisUrl: config.REDIS_URL,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.QUEUE_CONCURRENCY,
      attempts: config.QUEUE_ATTEMPTS,
      backoffMs: config.QUEUE_BACKOFF_MS,
      shutdownGraceMs: config.SHUTDOWN_GRACE_SECONDS * 1000,
      logger,
    });
  }

  async enqueue<N extends JobName>(name: N, data: JobData<N>, options: EnqueueOptions): Promise<EnqueueResult> {
    const parsed = validateEnqueue(name, data, options);
    if (this.closing) throw new QueueClosedError();
    return this.serialised(options.jobId, () => this.addOrReplace(name, parsed, options.jobId));
  }

  async start({ runWorker }: StartOptions): Promise<void> {
    if (this.closing) throw new QueueClosedError();
    if (runWorker) this.registry.assertComplete();
    await this.checkRedis();
    if (!runWorker || this.worker) return;
    const worker = new Worker(this.name, (job, token, signal) => this.process(job, token, signal), {
      connection: { url: this.options.redisUrl },
      prefix: this.options.prefix,
      concurrency: this.options.concurrency,
      ...(this.options.stalledIntervalMs ? { stalledInterval: this.options.stalledIntervalMs } : {}),
      ...(this.options.lockDurationMs ? { lockDuration: this.options.lockDurationMs } : {}),
    });
    worker.on('failed', (job, error) => this.trackListeners(this.onFailed(job, error)));
    worker.on('error', (error) => this.logger.error({ err: error }, 'BullMQ worker error'));
    // Not awaited: the worker connects (and reconnects) by itself, so bootstrap never hangs on Redis.
    this.worker = worker;
  }

  async counts(): Promise<JobCounts> {
    const counts = await this.queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed');
    return {
      waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
    };
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    if (worker) {
      // Stop fetching at once; a job fetched by a call already in flight is put back by process().
      await worker.pause(true);
      const deadline = Date.now() + this.options.shutdownGraceMs;
      await settleBefore([...[...this.running.values()].map((run) => run.done), ...this.listenerRuns], deadline);
      const released = [...this.running.keys()];
      if (released.length > 0) {
        for (const run of this.running.values()) {
          run.abort.abort(new Error('The job queue closed before this run finished.'));
        }
        this.logger.warn(
          { released },
          'shutdown grace period over: releasing running jobs; BullMQ’s stalled check hands them to another worker',
        );
      }
      // force: do not wait for released runs; their locks expire and the stalled check takes over.
      await worker.close(released.length > 0);
      // Failure listeners of the last runs start as the worker records their outcome: let them end too.
      await settleBefore([...this.listenerRuns], deadline);
    }
    await this.queue.close();
  }

  private async addOrReplace(name: JobName, data: unknown, jobId: string): Promise<EnqueueResult> {
    const existing = await this.queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state === 'completed' || state === 'failed') {
        // Finished jobs are not locked, so this removes it unless a worker re-took it meanwhile.
        if ((await this.queue.remove(jobId)) !== 1) return { jobId, created: false };
      } else if (state !== 'unknown') {
        return { jobId, created: false };
      }
    }
    await this.queue.add(name, data, { jobId });
    return { jobId, created: true };
  }

  /** Runs enqueue calls for one id one after another (within this process). */
  private serialised<T>(jobId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.enqueueChains.get(jobId) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.enqueueChains.set(jobId, tail);
    void tail.then(() => {
      if (this.enqueueChains.get(jobId) === tail) this.enqueueChains.delete(jobId);
    });
    return result;
  }

  private async process(job: Job, token: string | undefined, lockSignal: AbortSignal | undefined): Promise<void> {
    const jobId = job.id!;
    if (this.closing) {
      // Fetched while shutting down: hand it back untouched (no attempt counted).
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    const abort = new AbortController();
    lockSignal?.addEventListener('abort', () => abort.abort(lockSignal.reason), { once: true });
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    this.running.set(jobId, { abort, done });
    try {
      await executeJob(this.registry, {
        id: jobId,
        name: job.name,
        data: job.data,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? this.options.attempts,
        signal: abort.signal,
      });
    } catch (error) {
      if (error instanceof UnrecoverableJobError) {
        const unrecoverable = new UnrecoverableError(error.message);
        unrecoverable.cause = error;
        throw unrecoverable;
      }
      throw error;
    } finally {
      this.running.delete(jobId);
      finish();
    }
  }

  private async onFailed(job: Job | undefined, error: Error): Promise<void> {
    if (!job?.id) return;
    const unrecoverable = error instanceof UnrecoverableError || error.name === 'UnrecoverableError';
    const maxAttempts = job.opts.attempts ?? this.options.attempts;
    if (!unrecoverable && job.attemptsMade < maxAttempts) return; // BullMQ retries it after the backoff
    const original = unrecoverable && error.cause instanceof Error ? error.cause : error;
    await notifyFailed(
      this.registry,
      {
        id: job.id,
        name: job.name as JobName,
        data: job.data,
        attemptsMade: job.attemptsMade,
        maxAttempts,
        error: asError(original),
        unrecoverable,
      },
      this.logger,
    );
  }

  private trackListeners(run: Promise<void>): void {
    this.listenerRuns.add(run);
    void run.finally(() => this.listenerRuns.delete(run));
  }

  private async checkRedis(): Promise<void> {
    const redis = new Redis(this.options.redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      connectionName: `${this.options.prefix}:startup-check`,
    });
    redis.on('error', () => undefined); // reported through the command's rejection below
    try {
      await checkRedisEvictionPolicy(redis, this.logger);
    } finally {
      redis.disconnect();
    }
  }
}
