import { JOB_DATA_SCHEMAS, isJobName, type JobData, type JobName } from './job-names.js';

/** One run of a job, as its handler sees it. */
export interface JobContext<N extends JobName = JobName> {
  /** The job id given to `enqueue` (for PROCESS_SESSION: the session id). */
  readonly id: string;
  readonly name: N;
  /** The payload, already checked against the job's schema. */
  readonly data: JobData<N>;
  /** This run's number, 1-based: 1 on the first run, 2 on the first retry… */
  readonly attempt: number;
  /** Runs allowed before the job fails for good (`QUEUE_ATTEMPTS`). */
  readonly maxAttempts: number;
  /**
   * Aborted when the queue gives the run up: shutdown past `SHUTDOWN_GRACE_SECONDS`, or (BullMQ)
   * the job's lock was lost. A handler that starts child processes (ffmpeg) should stop them.
   */
  readonly signal: AbortSignal;
}

/**
 * Does the work of one job run. Resolve to complete the job. Throw {@link UnrecoverableJobError}
 * to fail it at once (bad data, a session that can never succeed); any other error is retried
 * after `QUEUE_BACKOFF_MS × 2^(attempt−1)` ms, up to `QUEUE_ATTEMPTS` runs in all.
 *
 * Handlers must be idempotent and keyed by the entity id (CONVENTIONS #7): a job can run again
 * after a crash (BullMQ's stalled check) or be re-enqueued by the sweeper.
 */
export type JobHandler<N extends JobName = JobName> = (job: JobContext<N>) => Promise<void>;

/** A job that failed for good: after its last attempt, or at once on {@link UnrecoverableJobError}. */
export interface FailedJob<N extends JobName = JobName> {
  readonly id: string;
  readonly name: N;
  /** The payload as stored (it may not match the schema when that is why it failed). */
  readonly data: unknown;
  /** Runs made, the failing one included. */
  readonly attemptsMade: number;
  readonly maxAttempts: number;
  /** The handler's error (for an UnrecoverableJobError, that error itself). */
  readonly error: Error;
  /** True when it failed because of an {@link UnrecoverableJobError} (or bad data), not by running out of attempts. */
  readonly unrecoverable: boolean;
}

/**
 * Called once when a job fails for good, in the worker process where it failed (the pipeline
 * marks the session FAILED here). Errors it throws are logged and dropped: the Postgres sweeper
 * is the safety net, so listeners must be idempotent too.
 */
export type FailedJobListener<N extends JobName = JobName> = (job: FailedJob<N>) => Promise<void> | void;

/** Options of {@link JobQueue.enqueue}. */
export interface EnqueueOptions {
  /**
   * The job id: the id of the entity the job is about (for PROCESS_SESSION, the session id).
   * 1–128 characters of `A–Z a–z 0–9 . _ -`, not all digits (BullMQ reserves numeric ids).
   * Ids are unique across all job names: give other jobs on the same entity a prefixed id.
   */
  jobId: string;
}

/** What {@link JobQueue.enqueue} did. */
export interface EnqueueResult {
  jobId: string;
  /** False when a job with this id was already waiting, delayed or running (nothing was added). */
  created: boolean;
}

/** Jobs by state, for metrics and the admin. */
export interface JobCounts {
  /** Ready to run, not started. */
  waiting: number;
  /** Running now (in any worker). */
  active: number;
  /** Waiting for a retry's backoff delay to pass. */
  delayed: number;
  /** Failed for good and kept for inspection (bounded: see each adapter). */
  failed: number;
}

/** Options of {@link JobQueue.start}. */
export interface StartOptions {
  /** `RUN_WORKER`: run handlers in this process. False: an API-only process that only enqueues. */
  runWorker: boolean;
}

/**
 * The job queue port (DESIGN.md "Jobs", CONVENTIONS #6 and #7). Postgres is the source of
 * truth; the queue only carries work: enqueue after the commit, one job per entity id,
 * idempotent handlers, and a sweeper that re-enqueues stuck sessions.
 *
 * Two adapters chosen by configuration, passing the same contract suite
 * (test/integration/job-queue-contract.spec.ts): BullMQ on Redis when `REDIS_URL` is set,
 * and the in-process queue (the embedded default) otherwise. Handlers and failure listeners
 * are registered on the `JobHandlerRegistry` the adapter was built with.
 *
 * Inject with `@Inject(JOB_QUEUE) queue: JobQueue`.
 */
export interface JobQueue {
  /** Which adapter is active. */
  readonly backend: 'in-process' | 'bullmq';
  /** The queue's name (the `queue` label of the `queue_jobs_*` metrics). */
  readonly name: string;

  /**
   * Adds a job unless one with the same id is already waiting, delayed or running; then nothing
   * is added and `created` is false. When the only job with that id has completed or failed for
   * good, it is replaced by a new one (fresh attempts), so re-enqueueing a session whose job died
   * works. Works in an API-only process (no worker) too.
   *
   * @throws InvalidJobError for an unknown job name, a malformed id, or data that does not
   *   match the job's schema (nothing is stored); QueueClosedError after {@link close}.
   */
  enqueue<N extends JobName>(name: N, data: JobData<N>, options: EnqueueOptions): Promise<EnqueueResult>;

  /**
   * Startup (called once at application bootstrap). With `runWorker`, checks that every job
   * name has a handler and starts running jobs (at most `QUEUE_CONCURRENCY` at once).
   *
   * @throws MissingJobHandlerError naming the jobs without a handler (the app must not start).
   */
  start(options: StartOptions): Promise<void>;

  /** Jobs by state (all workers, for BullMQ). */
  counts(): Promise<JobCounts>;

  /**
   * Graceful stop: takes no new job, waits up to `SHUTDOWN_GRACE_SECONDS` for running ones,
   * then releases those still running (their `signal` is aborted and their outcome ignored).
   * Idempotent. See each adapter for what becomes of released jobs.
   */
  close(): Promise<void>;
}

/** Injection token of the {@link JobQueue}. */
export const JOB_QUEUE = Symbol('JOB_QUEUE');

/**
 * Thrown by a handler to fail its job at once, without retries, e.g. when the session no
 * longer exists or its video is unreadable. Maps to BullMQ's `UnrecoverableError`.
 */
export class UnrecoverableJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnrecoverableJobError';
  }
}

/** A programming error in a call to {@link JobQueue.enqueue}: unknown name, bad id or bad data. */
export class InvalidJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidJobError';
  }
}

/** {@link JobQueue.enqueue} after {@link JobQueue.close}. */
export class QueueClosedError extends Error {
  constructor() {
    super('The job queue is closed (the process is shutting down); the job was not enqueued.');
    this.name = 'QueueClosedError';
  }
}

/** The startup check (CONVENTIONS #7): a worker process with a job name that has no handler. */
export class MissingJobHandlerError extends Error {
  constructor(readonly jobNames: readonly string[]) {
    super(
      `No handler is registered for job ${jobNames.map((name) => `"${name}"`).join(', ')}: a worker (RUN_WORKER=true) ` +
        'refuses to start. Register one with JobHandlerRegistry.register in the owning module (onModuleInit), ' +
        'or run this process with RUN_WORKER=false.',
    );
    this.name = 'MissingJobHandlerError';
  }
}

/** Job ids both adapters accept (BullMQ refuses numeric ids and `:`). */
const JOB_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Checks an enqueue call the same way for every adapter and returns the parsed data (a JSON
 * copy, so the caller's object is never shared with the job).
 *
 * @throws InvalidJobError naming what is wrong.
 */
export function validateEnqueue<N extends JobName>(name: N, data: unknown, options: EnqueueOptions): JobData<N> {
  if (!isJobName(name)) throw new InvalidJobError(`Unknown job name ${JSON.stringify(name)}.`);
  const jobId = (options as Partial<EnqueueOptions> | undefined)?.jobId;
  if (typeof jobId !== 'string' || !JOB_ID_PATTERN.test(jobId) || /^\d+$/.test(jobId)) {
    throw new InvalidJobError(
      `Job id ${JSON.stringify(jobId)} is not valid: 1–128 characters of A–Z a–z 0–9 . _ -, not all digits.`,
    );
  }
  return parseJobData(name, data);
}

/**
 * Parses a job's data with its schema (a JSON round trip first, as a Redis-backed queue stores it).
 *
 * @throws InvalidJobError listing the invalid fields.
 */
export function parseJobData<N extends JobName>(name: N, data: unknown): JobData<N> {
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(data ?? null)) as unknown;
  } catch (error) {
    throw new InvalidJobError(`Data of job "${name}" is not JSON-serialisable: ${(error as Error).message}`);
  }
  const result = JOB_DATA_SCHEMAS[name].safeParse(copy);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(data)'}: ${issue.message}`);
    throw new InvalidJobError(`Data of job "${name}" is not valid: ${issues.join('; ')}`);
  }
  return result.data as JobData<N>;
}

/**
 * Delay before the retry that follows failed run `attempt` (1-based), in ms:
 * `baseMs × 2^(attempt−1)`, BullMQ's `exponential` backoff (docs.bullmq.io/guide/retrying-failing-jobs).
 */
export function backoffDelayMs(baseMs: number, attempt: number): number {
  return Math.round(baseMs * 2 ** (attempt - 1));
}

/** Minimal logger both adapters write to (Nest's `Logger` fits; tests pass a recorder). */
export interface QueueLogger {
  log(message: unknown, ...params: unknown[]): void;
  warn(message: unknown, ...params: unknown[]): void;
  error(message: unknown, ...params: unknown[]): void;
}
