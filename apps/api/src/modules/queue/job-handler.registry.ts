import { Injectable } from '@nestjs/common';
import { ALL_JOB_NAMES, isJobName, type JobName } from './job-names.js';
import { MissingJobHandlerError, type FailedJobListener, type JobHandler } from './job-queue.port.js';

/**
 * Where modules register what runs each job (CONVENTIONS #7), read by the queue adapters.
 * One handler per job name; any number of failure listeners.
 *
 * Register in `onModuleInit` (every module's `onModuleInit` runs before the queue's startup
 * check at application bootstrap):
 *
 * ```ts
 * constructor(private readonly jobs: JobHandlerRegistry, …) {}
 * onModuleInit(): void {
 *   this.jobs.register(JobName.PROCESS_SESSION, (job) => this.pipeline.run(job.data.sessionId, job.signal));
 *   this.jobs.onFailed(JobName.PROCESS_SESSION, (job) => this.sessions.markFailed(job.id, job.error));
 * }
 * ```
 */
@Injectable()
export class JobHandlerRegistry {
  private readonly handlers = new Map<JobName, JobHandler>();
  private readonly failedListeners = new Map<JobName, FailedJobListener[]>();

  /**
   * Sets the handler of job `name`.
   *
   * @throws Error for an unknown job name or a second handler for the same name.
   */
  register<N extends JobName>(name: N, handler: JobHandler<N>): void {
    this.assertKnown(name);
    if (this.handlers.has(name)) throw new Error(`A handler for job "${name}" is already registered.`);
    this.handlers.set(name, handler as unknown as JobHandler);
  }

  /**
   * Adds a listener called once when a job `name` fails for good (after its last attempt, or at
   * once on UnrecoverableJobError), in the worker process where it failed.
   *
   * @throws Error for an unknown job name.
   */
  onFailed<N extends JobName>(name: N, listener: FailedJobListener<N>): void {
    this.assertKnown(name);
    const listeners = this.failedListeners.get(name) ?? [];
    listeners.push(listener as unknown as FailedJobListener);
    this.failedListeners.set(name, listeners);
  }

  /** The handler of `name`, if registered. */
  handlerFor(name: string): JobHandler | undefined {
    return isJobName(name) ? this.handlers.get(name) : undefined;
  }

  /** The failure listeners of `name`, in registration order. */
  failedListenersFor(name: string): readonly FailedJobListener[] {
    return (isJobName(name) ? this.failedListeners.get(name) : undefined) ?? [];
  }

  /** Job names that have no handler yet. */
  missingHandlers(): JobName[] {
    return ALL_JOB_NAMES.filter((name) => !this.handlers.has(name));
  }

  /**
   * The startup check of a worker process: every job name has a handler.
   *
   * @throws MissingJobHandlerError naming the jobs without one.
   */
  assertComplete(): void {
    const missing = this.missingHandlers();
    if (missing.length > 0) throw new MissingJobHandlerError(missing);
  }

  private assertKnown(name: string): void {
    if (!isJobName(name)) throw new Error(`Unknown job name ${JSON.stringify(name)}: add it to job-names.ts first.`);
  }
}
