import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/env.schema.js';
import { asError, executeJob, notifyFailed } from './job-execution.js';
import type { JobHandlerRegistry } from './job-handler.registry.js';
import type { JobData, JobName } from './job-names.js';
import {
  QueueClosedError,
  UnrecoverableJobError,
  backoffDelayMs,
  validateEnqueue,
  type EnqueueOptions,
  type EnqueueResult,
  type FailedJob,
  type JobCounts,
  type JobQueue,
  type QueueLogger,
  type StartOptions,
} from './job-queue.port.js';

/** Failed jobs the in-process queue keeps for inspection; the oldest is dropped beyond this. */
export const IN_PROCESS_FAILED_JOBS_KEPT = 1000;

/** Settings of {@link InProcessJobQueue}; {@link InProcessJobQueue.fromConfig} reads them from the environment. */
export interface InProcessJobQueueOptions {
  /** Jobs run at once (`QUEUE_CONCURRENCY`). */
  concurrency: number;
  /** Runs per job before it fails for good (`QUEUE_ATTEMPTS`). */
  attempts: number;
  /** First retry delay, ms; doubles each attempt (`QUEUE_BACKOFF_MS`). */
  backoffMs: number;
  /** How long {@link InProcessJobQueue.close} waits for running jobs, ms (`SHUTDOWN_GRACE_SECONDS` × 1000). */
  shutdownGraceMs: number;
  /** Failed jobs kept (default {@link IN_PROCESS_FAILED_JOBS_KEPT}). */
  failedJobsKept?: number;
  /** The queue's name (metrics label); default `jobs`. */
  name?: string;
  logger?: QueueLogger;
}

interface Entry {
  id: string;
  name: JobName;
  data: unknown;
  /** Runs finished so far (failed ones, since a success removes the entry). */
  attemptsMade: number;
  state: 'waiting' | 'delayed' | 'active';
  retryTimer?: NodeJS.Timeout;
  abort?: AbortController;
  /** Settles when the current run (and its failure listeners) is over. */
  done?: Promise<void>;
  /** Set when close() gave the run up: its outcome is ignored. */
  released?: boolean;
}

/**
 * The embedded-default job queue (no `REDIS_URL`): the {@link JobQueue} contract in this
 * process's memory, for a single process that is both API and worker.
 *
 * - One job per id: enqueueing an id that is waiting, delayed or running adds nothing; an id
 *   whose job completed (completed jobs are forgotten at once) or failed for good is enqueued anew.
 * - At most `concurrency` handlers run at once, in FIFO order; retries wait
 *   `backoffMs × 2^(attempt−1)` on unref'd timers (they never keep the process alive).
 * - Failed jobs are kept in a bounded list (the newest {@link IN_PROCESS_FAILED_JOBS_KEPT}).
 *
 * Durability: none, by design. What is in memory when the process stops — jobs waiting, waiting
 * for a retry, or still running when {@link close}'s grace period ends (those are abandoned: their
 * `signal` is aborted and their outcome ignored) — is not run again by this queue, nor by the
 * next process. Postgres is the truth: the sweeper finds their sessions stuck in QUEUED or
 * PROCESSING after `SWEEPER_STUCK_MINUTES` and re-enqueues them (DESIGN.md "Jobs").
 */
export class InProcessJobQueue implements JobQueue {
  readonly backend = 'in-process' as const;
  readonly name: string;
  private readonly live = new Map<string, Entry>();
  private readonly waiting: Entry[] = [];
  private readonly active = new Set<Entry>();
  private readonly failed = new Map<string, FailedJob>();
  private readonly logger: QueueLogger;
  private running = false;
  private closing = false;
  private closed?: Promise<void>;

  constructor(
    private readonly registry: JobHandlerRegistry,
    private readonly options: InProcessJobQueueOptions,
  ) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error('concurrency must be an integer ≥ 1');
    }
    if (!Number.isInteger(options.attempts) || options.attempts < 1) throw new Error('attempts must be an integer ≥ 1');
    this.name = options.name ?? 'jobs';
    this.logger = options.logger ?? new Logger('JobQueue');
  }

  /** The adapter configured from the environment (`QUEUE_*`, `SHUTDOWN_GRACE_SECONDS`). */
  static fromConfig(config: AppConfig, registry: JobHandlerRegistry, logger?: QueueLogger): InProcessJobQueue {
    return new InProcessJobQueue(registry, {
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
    const { jobId } = options;
    if (this.live.has(jobId)) return { jobId, created: false };
    this.failed.delete(jobId);
    const entry: Entry = { id: jobId, name, data: parsed, attemptsMade: 0, state: 'waiting' };
    this.live.set(jobId, entry);
    this.waiting.push(entry);
    this.pump();
    return { jobId, created: true };
  }

  async start({ runWorker }: StartOptions): Promise<void> {
    if (this.closing) throw new QueueClosedError();
    if (!runWorker) {
      this.logger.warn(
        'RUN_WORKER=false with the in-process queue (no REDIS_URL): jobs enqueued by this process are never run. ' +
          'Set REDIS_URL to share a BullMQ queue with a worker process.',
      );
      return;
    }
    this.registry.assertComplete();
    this.running = true;
    this.pump();
  }

  async counts(): Promise<JobCounts> {
    let delayed = 0;
    for (const entry of this.live.values()) if (entry.state === 'delayed') delayed += 1;
    return { waiting: this.waiting.length, active: this.active.size, delayed, failed: this.failed.size };
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    const dropped: string[] = [];
    for (const entry of this.live.values()) {
      if (entry.state === 'active') continue;
      if (entry.retryTimer) clearTimeout(entry.retryTimer);
      dropped.push(entry.id);
    }
    const running = [...this.active];
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(running.map((entry) => entry.done)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.options.shutdownGraceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const released = [...this.active];
    for (const entry of released) {
      entry.released = true;
      entry.abort?.abort(new Error('The job queue closed before this run finished.'));
    }
    this.active.clear();
    this.live.clear();
    this.waiting.length = 0;
    if (released.length > 0 || dropped.length > 0) {
      this.logger.warn(
        { released: released.map((entry) => entry.id), notStarted: dropped },
        'in-process queue closed with unfinished jobs: they will not run again here; the sweeper re-enqueues their sessions',
      );
    }
  }

  private pump(): void {
    while (this.running && !this.closing && this.active.size < this.options.concurrency) {
      const entry = this.waiting.shift();
      if (!entry) return;
      this.run(entry);
    }
  }

  private run(entry: Entry): void {
    const attempt = entry.attemptsMade + 1;
    const abort = new AbortController();
    entry.state = 'active';
    entry.abort = abort;
    this.active.add(entry);
    entry.done = (async () => {
      let failure: Error | undefined;
      try {
        await executeJob(this.registry, {
          id: entry.id,
          name: entry.name,
          data: entry.data,
          attempt,
          maxAttempts: this.options.attempts,
          signal: abort.signal,
        });
      } catch (error) {
        failure = asError(error);
      }
      if (entry.released) return;
      entry.attemptsMade = attempt;
      if (!failure) {
        this.live.delete(entry.id);
      } else {
        await this.handleFailure(entry, failure, attempt);
      }
      this.active.delete(entry);
      this.pump();
    })();
  }

  private async handleFailure(entry: Entry, error: Error, attempt: number): Promise<void> {
    const unrecoverable = error instanceof UnrecoverableJobError;
    if (!unrecoverable && attempt < this.options.attempts) {
      if (this.closing) {
        // The retry would outlive the process; the sweeper re-enqueues the session.
        this.live.delete(entry.id);
        return;
      }
      entry.state = 'delayed';
      entry.retryTimer = setTimeout(
        () => {
          entry.retryTimer = undefined;
          if (this.closing || this.live.get(entry.id) !== entry) return;
          entry.state = 'waiting';
          this.waiting.push(entry);
          this.pump();
        },
        backoffDelayMs(this.options.backoffMs, attempt),
      );
      entry.retryTimer.unref();
      return;
    }
    this.live.delete(entry.id);
    const failed: FailedJob = {
      id: entry.id,
      name: entry.name,
      data: entry.data,
      attemptsMade: attempt,
      maxAttempts: this.options.attempts,
      error,
      unrecoverable,
    };
    this.failed.delete(entry.id);
    this.failed.set(entry.id, failed);
    const limit = this.options.failedJobsKept ?? IN_PROCESS_FAILED_JOBS_KEPT;
    while (this.failed.size > limit) {
      const oldest = this.failed.keys().next().value as string;
      this.failed.delete(oldest);
    }
    await notifyFailed(this.registry, failed, this.logger);
  }
}
