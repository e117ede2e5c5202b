import { requestContext } from '../../common/http/request-context.js';
import type { JobHandlerRegistry } from './job-handler.registry.js';
import { isJobName } from './job-names.js';
import { UnrecoverableJobError, parseJobData, type FailedJob, type QueueLogger } from './job-queue.port.js';

/** One run to execute, as both adapters describe it. */
export interface JobRun {
  id: string;
  name: string;
  /** The stored payload (parsed again here). */
  data: unknown;
  /** 1-based. */
  attempt: number;
  maxAttempts: number;
  signal: AbortSignal;
}

/**
 * Runs one job with its registered handler, shared by both adapters so they behave alike:
 * the data is parsed with the job's schema, and the handler runs in a fresh request context
 * (`requestId` = `job:<name>:<id>` on every log line; never the context of the request that
 * enqueued it, whose transaction is long gone).
 *
 * @throws UnrecoverableJobError when the name has no handler or the data does not parse;
 *   otherwise whatever the handler throws.
 */
export async function executeJob(registry: JobHandlerRegistry, run: JobRun): Promise<void> {
  const { name } = run;
  const handler = registry.handlerFor(name);
  if (!handler || !isJobName(name)) {
    throw new UnrecoverableJobError(`No handler is registered for job "${name}".`);
  }
  let data;
  try {
    data = parseJobData(name, run.data);
  } catch (error) {
    throw new UnrecoverableJobError((error as Error).message, { cause: error });
  }
  await requestContext.run({ requestId: `job:${name}:${run.id}` }, () =>
    handler({
      id: run.id,
      name,
      data,
      attempt: run.attempt,
      maxAttempts: run.maxAttempts,
      signal: run.signal,
    }),
  );
}

/** Calls every failure listener of the job's name once; their errors are logged, never thrown. */
export async function notifyFailed(registry: JobHandlerRegistry, job: FailedJob, logger: QueueLogger): Promise<void> {
  logger.warn(
    {
      jobId: job.id,
      jobName: job.name,
      attemptsMade: job.attemptsMade,
      unrecoverable: job.unrecoverable,
      err: job.error,
    },
    'job failed for good',
  );
  for (const listener of registry.failedListenersFor(job.name)) {
    try {
      await requestContext.run({ requestId: `job:${job.name}:${job.id}:failed` }, async () => listener(job));
    } catch (error) {
      logger.error({ jobId: job.id, jobName: job.name, err: error }, 'failed-job listener threw');
    }
  }
}

/** Wraps a non-Error thrown value so listeners always get an Error. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
