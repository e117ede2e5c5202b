import { z } from 'zod';

/**
 * Every background job of MiInventario, by name (CONVENTIONS #7: job names are an enum).
 *
 * Adding a job: add its name here and its data schema to {@link JOB_DATA_SCHEMAS}, then
 * register its handler with `JobHandlerRegistry.register` in the owning module's
 * `onModuleInit`. A worker process (RUN_WORKER=true) refuses to start while a name here has
 * no handler.
 */
export const JobName = {
  /** Runs the video pipeline of one inventory session. Data `{ sessionId }`; job id = the session id. */
  PROCESS_SESSION: 'process-session',
} as const;

/** One of the {@link JobName} values (`'process-session'`). */
export type JobName = (typeof JobName)[keyof typeof JobName];

/** Every job name, in declaration order. */
export const ALL_JOB_NAMES: readonly JobName[] = Object.freeze(Object.values(JobName));

/**
 * The data each job carries, as zod schemas (strict: unknown keys are refused). Checked when a
 * job is enqueued (a bad payload throws before anything is stored) and again when a worker
 * picks it up (a payload that no longer parses fails the job at once, without retries).
 * Payloads are JSON: ids, never entities (Postgres is the source of truth, DESIGN.md "Jobs").
 */
export const JOB_DATA_SCHEMAS = {
  [JobName.PROCESS_SESSION]: z.strictObject({ sessionId: z.uuid() }),
} as const satisfies Record<JobName, z.ZodType>;

/** The data of job `N` (`JobData<'process-session'>` is `{ sessionId: string }`). */
export type JobData<N extends JobName> = z.infer<(typeof JOB_DATA_SCHEMAS)[N]>;

/** True when `name` is one of the {@link JobName} values. */
export function isJobName(name: unknown): name is JobName {
  return typeof name === 'string' && (ALL_JOB_NAMES as readonly string[]).includes(name);
}
