import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type Mock } from 'vitest';
import { currentContext, requestContext } from '../../src/common/http/request-context.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/env.schema.js';
import { MetricsModule } from '../../src/metrics/metrics.module.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import {
  BullMqJobQueue,
  checkRedisEvictionPolicy,
  type BullMqJobQueueOptions,
} from '../../src/modules/queue/bullmq-job.queue.js';
import { InProcessJobQueue } from '../../src/modules/queue/in-process-job.queue.js';
import { JobHandlerRegistry } from '../../src/modules/queue/job-handler.registry.js';
import { JobName } from '../../src/modules/queue/job-names.js';
import {
  InvalidJobError,
  JOB_QUEUE,
  MissingJobHandlerError,
  QueueClosedError,
  UnrecoverableJobError,
  type FailedJob,
  type JobContext,
  type JobQueue,
  type QueueLogger,
} from '../../src/modules/queue/job-queue.port.js';
import { QueueModule } from '../../src/modules/queue/queue.module.js';

/** This machine's Redis (CI exports TEST_REDIS_URL); without it the BullMQ cases are reported as skipped. */
const REDIS_URL = process.env.TEST_REDIS_URL;

/** Settings a test may change; the rest are the defaults below (small backoff, generous grace). */
interface QueueSettings {
  concurrency: number;
  attempts: number;
  backoffMs: number;
  shutdownGraceMs: number;
  /** BullMQ only. */
  stalledIntervalMs?: number;
  /** BullMQ only. */
  lockDurationMs?: number;
}

const DEFAULTS: QueueSettings = { concurrency: 1, attempts: 3, backoffMs: 20, shutdownGraceMs: 5000 };

type LogMethod = (message: unknown, ...params: unknown[]) => void;

/** A QueueLogger whose calls the test can read. */
function recordingLogger(): { [K in keyof QueueLogger]: Mock<LogMethod> } {
  return { log: vi.fn<LogMethod>(), warn: vi.fn<LogMethod>(), error: vi.fn<LogMethod>() };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; fails the test after `timeoutMs` (a deadline, not a speed assertion). */
async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A promise with its resolve function. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const idle = async (queue: JobQueue) => {
  const counts = await queue.counts();
  return counts.waiting + counts.active + counts.delayed === 0;
};

interface AdapterCase {
  name: 'in-process' | 'bullmq';
  enabled: boolean;
}

const ADAPTERS: AdapterCase[] = [
  { name: 'in-process', enabled: true },
  { name: 'bullmq', enabled: Boolean(REDIS_URL) },
];

describe.each(ADAPTERS)('JobQueue contract: $name adapter', (adapter) => {
  describe.skipIf(!adapter.enabled)(`${adapter.name}`, () => {
    /** Every queue a test created (closed after it) and every gate (opened after it). */
    let created: JobQueue[] = [];
    let gates: Array<{ open: () => void }> = [];
    /** BullMQ: a fresh key prefix per test, so tests and reruns never share a queue. */
    let prefix = '';
    let redis: Redis | undefined;

    beforeAll(() => {
      if (adapter.name === 'bullmq') redis = new Redis(REDIS_URL!);
    });

    afterAll(async () => {
      await redis?.quit();
    });

    beforeEach(() => {
      prefix = `mi-test-queue-${randomBytes(6).toString('hex')}`;
    });

    afterEach(async () => {
      for (const item of gates) item.open();
      await Promise.all(created.map((queue) => queue.close()));
      created = [];
      gates = [];
      if (redis) {
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
      }
    });

    const makeQueue = (
      registry: JobHandlerRegistry,
      settings: Partial<QueueSettings> = {},
      logger: QueueLogger = recordingLogger(),
    ): JobQueue => {
      const options = { ...DEFAULTS, ...settings, logger };
      const queue =
        adapter.name === 'bullmq'
          ? new BullMqJobQueue(registry, { ...options, redisUrl: REDIS_URL!, prefix } satisfies BullMqJobQueueOptions)
          : new InProcessJobQueue(registry, options);
      created.push(queue);
      return queue;
    };

    const newGate = () => {
      const item = gate();
      gates.push(item);
      return item;
    };

    const enqueue = (queue: JobQueue, sessionId: string) =>
      queue.enqueue(JobName.PROCESS_SESSION, { sessionId }, { jobId: sessionId });

    it('runs a job once however often its id is enqueued while it waits or runs', async () => {
      const registry = new JobHandlerRegistry();
      const runs: JobContext[] = [];
      const release = newGate();
      registry.register(JobName.PROCESS_SESSION, async (job) => {
        runs.push(job);
        await release.promise;
      });
      const queue = makeQueue(registry);
      const id = randomUUID();

      const first = await Promise.all([enqueue(queue, id), enqueue(queue, id)]);
      const third = await enqueue(queue, id);
      expect([...first, third].map((result) => result.created).sort()).toEqual([false, false, true]);
      expect(third).toEqual({ jobId: id, created: false });
      expect(await queue.counts()).toMatchObject({ waiting: 1, active: 0 });

      await queue.start({ runWorker: true });
      await waitFor(() => runs.length === 1, undefined, 'the first run');
      // While it runs, the same id is still one job.
      expect(await enqueue(queue, id)).toEqual({ jobId: id, created: false });
      expect(await queue.counts()).toMatchObject({ waiting: 0, active: 1 });

      release.open();
      await waitFor(() => idle(queue), undefined, 'the queue to drain');
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({
        id,
        name: 'process-session',
        data: { sessionId: id },
        attempt: 1,
        maxAttempts: 3,
      });
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    });

    it('runs the handler in a fresh request context, never the enqueuing request’s', async () => {
      const registry = new JobHandlerRegistry();
      const seen: Array<ReturnType<typeof currentContext>> = [];
      registry.register(JobName.PROCESS_SESSION, async () => {
        seen.push(currentContext());
      });
      const queue = makeQueue(registry);
      await queue.start({ runWorker: true });
      const id = randomUUID();
      await requestContext.run({ requestId: 'http-request-1', identity: { userId: id, role: 'OWNER' } }, () =>
        enqueue(queue, id),
      );
      await waitFor(() => seen.length === 1, undefined, 'the run');
      expect(seen[0]).toEqual({ requestId: `job:process-session:${id}` });
    });

    it('enqueues a completed job’s id anew: it runs again', async () => {
      const registry = new JobHandlerRegistry();
      let runs = 0;
      registry.register(JobName.PROCESS_SESSION, async () => {
        runs += 1;
      });
      const queue = makeQueue(registry);
      await queue.start({ runWorker: true });
      const id = randomUUID();

      expect(await enqueue(queue, id)).toEqual({ jobId: id, created: true });
      await waitFor(async () => runs === 1 && (await idle(queue)), undefined, 'the first run');
      expect(await enqueue(queue, id)).toEqual({ jobId: id, created: true });
      await waitFor(async () => runs === 2 && (await idle(queue)), undefined, 'the second run');
      expect(runs).toBe(2);
    });

    it('retries a failing job with exponential backoff, then succeeds', async () => {
      const registry = new JobHandlerRegistry();
      const starts: Array<{ attempt: number; maxAttempts: number; at: number }> = [];
      const failed = vi.fn();
      registry.register(JobName.PROCESS_SESSION, async (job) => {
        starts.push({ attempt: job.attempt, maxAttempts: job.maxAttempts, at: Date.now() });
        if (job.attempt < 3) throw new Error(`transient failure ${job.attempt}`);
      });
      registry.onFailed(JobName.PROCESS_SESSION, failed);
      const queue = makeQueue(registry, { attempts: 3, backoffMs: 20 });
      await queue.start({ runWorker: true });
      await enqueue(queue, randomUUID());

      await waitFor(async () => starts.length === 3 && (await idle(queue)), undefined, 'three attempts');
      expect(starts.map((start) => [start.attempt, start.maxAttempts])).toEqual([
        [1, 3],
        [2, 3],
        [3, 3],
      ]);
      // Backoff 20 ms, then 40 ms (lower bounds, with 3 ms for clock granularity).
      expect(starts[1]!.at - starts[0]!.at).toBeGreaterThanOrEqual(17);
      expect(starts[2]!.at - starts[1]!.at).toBeGreaterThanOrEqual(37);
      expect(failed).not.toHaveBeenCalled();
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    });

    it('fails a job for good after its last attempt, tells the listeners once, and takes it again when re-enqueued', async () => {
      const registry = new JobHandlerRegistry();
      let attempts = 0;
      let healthy = false;
      const failures: FailedJob[] = [];
      registry.register(JobName.PROCESS_SESSION, async () => {
        attempts += 1;
        if (!healthy) throw new Error('provider down');
      });
      registry.onFailed(JobName.PROCESS_SESSION, (job) => {
        failures.push(job);
      });
      const queue = makeQueue(registry, { attempts: 2, backoffMs: 10 });
      await queue.start({ runWorker: true });
      const id = randomUUID();
      await enqueue(queue, id);

      await waitFor(() => failures.length === 1, undefined, 'the failure listener');
      expect(attempts).toBe(2);
      expect(failures[0]).toMatchObject({
        id,
        name: 'process-session',
        data: { sessionId: id },
        attemptsMade: 2,
        maxAttempts: 2,
        unrecoverable: false,
      });
      expect(failures[0]!.error.message).toBe('provider down');
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 1 });

      // The job died: enqueueing its id again replaces it with a fresh job (fresh attempts).
      healthy = true;
      expect(await enqueue(queue, id)).toEqual({ jobId: id, created: true });
      await waitFor(async () => attempts === 3 && (await idle(queue)), undefined, 'the new job');
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
      expect(failures).toHaveLength(1);
    });

    it('fails a job at once on UnrecoverableJobError: one attempt, listeners once, kept as failed', async () => {
      const registry = new JobHandlerRegistry();
      let attempts = 0;
      const failures: FailedJob[] = [];
      registry.register(JobName.PROCESS_SESSION, async () => {
        attempts += 1;
        throw new UnrecoverableJobError('[VIDEO_UNREADABLE] not a video');
      });
      registry.onFailed(JobName.PROCESS_SESSION, (job) => {
        failures.push(job);
      });
      const queue = makeQueue(registry, { attempts: 3, backoffMs: 10 });
      await queue.start({ runWorker: true });
      const id = randomUUID();
      await enqueue(queue, id);

      await waitFor(() => failures.length === 1, undefined, 'the failure listener');
      // Longer than every backoff of the 3 attempts it would have had: no second run comes.
      await sleep(150);
      expect(attempts).toBe(1);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ id, attemptsMade: 1, maxAttempts: 3, unrecoverable: true });
      expect(failures[0]!.error).toBeInstanceOf(UnrecoverableJobError);
      expect(failures[0]!.error.message).toBe('[VIDEO_UNREADABLE] not a video');
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 1 });
    });

    // The in-process queue only ever holds data that passed the schema at enqueue time.
    it.runIf(adapter.name === 'bullmq')(
      'fails a job whose stored data no longer matches its schema, without calling the handler',
      async () => {
        const registry = new JobHandlerRegistry();
        const handler = vi.fn(async () => undefined);
        const failures: FailedJob[] = [];
        registry.register(JobName.PROCESS_SESSION, handler);
        registry.onFailed(JobName.PROCESS_SESSION, (job) => {
          failures.push(job);
        });
        const queue = makeQueue(registry) as BullMqJobQueue;
        await queue.start({ runWorker: true });
        const id = randomUUID();
        // Written around the port, as an older release or Bull Board's "add job" could.
        await queue.queue.add(JobName.PROCESS_SESSION, { sessionId: 42 }, { jobId: id });

        await waitFor(() => failures.length === 1, undefined, 'the failure listener');
        expect(handler).not.toHaveBeenCalled();
        expect(failures[0]).toMatchObject({ id, attemptsMade: 1, unrecoverable: true, data: { sessionId: 42 } });
        expect(failures[0]!.error.message).toMatch(/sessionId/);
      },
    );

    it('never runs more than QUEUE_CONCURRENCY jobs at once', async () => {
      const registry = new JobHandlerRegistry();
      let running = 0;
      let most = 0;
      let done = 0;
      registry.register(JobName.PROCESS_SESSION, async () => {
        running += 1;
        most = Math.max(most, running);
        await sleep(100);
        running -= 1;
        done += 1;
      });
      const queue = makeQueue(registry, { concurrency: 2 });
      for (let index = 0; index < 6; index += 1) await enqueue(queue, randomUUID());
      await queue.start({ runWorker: true });

      await waitFor(async () => done === 6 && (await idle(queue)), undefined, 'six jobs');
      expect(most).toBe(2);
    });

    it('close() waits for a running job within the grace period, then takes no more jobs', async () => {
      const registry = new JobHandlerRegistry();
      const started = gate();
      let finished = false;
      let signal: AbortSignal | undefined;
      registry.register(JobName.PROCESS_SESSION, async (job) => {
        signal = job.signal;
        started.open();
        await sleep(300);
        finished = true;
      });
      const queue = makeQueue(registry, { shutdownGraceMs: 10_000 });
      await queue.start({ runWorker: true });
      const id = randomUUID();
      await enqueue(queue, id);
      await started.promise;

      await queue.close();
      expect(finished).toBe(true);
      expect(signal?.aborted).toBe(false);
      await expect(enqueue(queue, randomUUID())).rejects.toBeInstanceOf(QueueClosedError);
      if (adapter.name === 'bullmq') {
        // The job completed in Redis (and was removed): another process sees nothing left.
        const peer = makeQueue(new JobHandlerRegistry());
        expect(await peer.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
      }
    });

    it('close() also lets the failure listeners of a job failing during the grace period finish', async () => {
      const registry = new JobHandlerRegistry();
      const started = gate();
      let listened = false;
      registry.register(JobName.PROCESS_SESSION, async () => {
        started.open();
        await sleep(200);
        throw new UnrecoverableJobError('gave up');
      });
      registry.onFailed(JobName.PROCESS_SESSION, async () => {
        await sleep(200);
        listened = true;
      });
      const queue = makeQueue(registry, { shutdownGraceMs: 10_000 });
      await queue.start({ runWorker: true });
      await enqueue(queue, randomUUID());
      await started.promise;

      await queue.close();
      expect(listened).toBe(true);
    });

    it.runIf(adapter.name === 'bullmq')(
      'a closing worker takes no new job: one arriving during the grace period is left, unattempted, for another worker',
      async () => {
        const registry = new JobHandlerRegistry();
        const release = newGate();
        const firstStarted = gate();
        const ran: string[] = [];
        const first = randomUUID();
        registry.register(JobName.PROCESS_SESSION, async (job) => {
          ran.push(job.id);
          if (job.id === first) {
            firstStarted.open();
            await release.promise;
          }
        });
        // Concurrency 2: while the first job runs, the worker is already waiting for a second one.
        const closing = makeQueue(registry, { concurrency: 2, shutdownGraceMs: 10_000 });
        await closing.start({ runWorker: true });
        await enqueue(closing, first);
        await firstStarted.promise;
        const closed = closing.close();
        const producer = makeQueue(new JobHandlerRegistry()); // an API process enqueueing meanwhile
        const second = randomUUID();
        expect(await enqueue(producer, second)).toEqual({ jobId: second, created: true });
        await sleep(300);
        release.open();
        await closed;
        expect(ran).toEqual([first]);

        const nextRegistry = new JobHandlerRegistry();
        const runs: JobContext[] = [];
        nextRegistry.register(JobName.PROCESS_SESSION, async (job) => {
          runs.push(job);
        });
        const next = makeQueue(nextRegistry);
        await next.start({ runWorker: true });
        await waitFor(async () => runs.length === 1 && (await idle(next)), undefined, 'the second job');
        expect(runs[0]).toMatchObject({ id: second, attempt: 1 });
      },
    );

    it.runIf(adapter.name === 'bullmq')(
      'a job released at close by a dying worker is run by another worker exactly once (stalled check)',
      async () => {
        const timing = { lockDurationMs: 1000, stalledIntervalMs: 300 };
        const hung = newGate();
        const firstRegistry = new JobHandlerRegistry();
        let firstSignal: AbortSignal | undefined;
        const firstStarted = gate();
        firstRegistry.register(JobName.PROCESS_SESSION, async (job) => {
          firstSignal = job.signal;
          firstStarted.open();
          await hung.promise; // never finishes on its own: the worker "crashes" with it
        });
        const dying = makeQueue(firstRegistry, { ...timing, shutdownGraceMs: 0 });
        await dying.start({ runWorker: true });
        const id = randomUUID();
        await enqueue(dying, id);
        await firstStarted.promise;
        await dying.close();
        expect(firstSignal?.aborted).toBe(true);

        const secondRegistry = new JobHandlerRegistry();
        const runs: JobContext[] = [];
        secondRegistry.register(JobName.PROCESS_SESSION, async (job) => {
          runs.push(job);
        });
        const survivor = makeQueue(secondRegistry, timing);
        await survivor.start({ runWorker: true });
        await waitFor(async () => runs.length === 1 && (await idle(survivor)), 20_000, 'the stalled job');
        // The first worker's run finishing late changes nothing in Redis.
        hung.open();
        // Several lock durations and stalled checks later, still exactly one run.
        await sleep(2 * timing.lockDurationMs);
        expect(runs).toHaveLength(1);
        expect(runs[0]).toMatchObject({ id, attempt: 1, data: { sessionId: id } });
        expect(await survivor.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
      },
    );

    it.runIf(adapter.name === 'in-process')(
      'a job released at close is not run again by the queue (the Postgres sweeper re-enqueues it)',
      async () => {
        const hung = newGate();
        const registry = new JobHandlerRegistry();
        let signal: AbortSignal | undefined;
        const started = gate();
        let finishedLate = false;
        registry.register(JobName.PROCESS_SESSION, async (job) => {
          signal = job.signal;
          started.open();
          await hung.promise;
          finishedLate = true;
        });
        const failed = vi.fn();
        registry.onFailed(JobName.PROCESS_SESSION, failed);
        const logger = recordingLogger();
        const dying = makeQueue(registry, { shutdownGraceMs: 0 }, logger);
        await dying.start({ runWorker: true });
        const id = randomUUID();
        await enqueue(dying, id);
        await started.promise;
        await dying.close();
        expect(signal?.aborted).toBe(true);
        expect(logger.warn).toHaveBeenCalledWith(
          expect.objectContaining({ released: [id] }),
          expect.stringContaining('sweeper'),
        );
        expect(await dying.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });

        // A new process starts with an empty memory: nothing runs until the sweeper enqueues again.
        const nextRegistry = new JobHandlerRegistry();
        const runs = vi.fn(async () => undefined);
        nextRegistry.register(JobName.PROCESS_SESSION, runs);
        const next = makeQueue(nextRegistry);
        await next.start({ runWorker: true });
        hung.open();
        await waitFor(() => finishedLate, undefined, 'the released run to end');
        await sleep(50);
        expect(runs).not.toHaveBeenCalled();
        expect(failed).not.toHaveBeenCalled();
        expect(await next.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
        // What the sweeper does: enqueue the session again; the new process runs it.
        expect(await enqueue(next, id)).toEqual({ jobId: id, created: true });
        await waitFor(() => runs.mock.calls.length === 1, undefined, 'the re-enqueued job');
      },
    );

    it('rejects an unknown job name, a malformed id and bad data, storing nothing', async () => {
      const registry = new JobHandlerRegistry();
      registry.register(JobName.PROCESS_SESSION, async () => undefined);
      const queue = makeQueue(registry);
      const id = randomUUID();

      await expect(queue.enqueue('no-such-job' as JobName, { sessionId: id }, { jobId: id })).rejects.toThrow(
        new InvalidJobError('Unknown job name "no-such-job".'),
      );
      for (const jobId of ['', '12345', 'a:b', 'x'.repeat(129), 'with space']) {
        await expect(queue.enqueue(JobName.PROCESS_SESSION, { sessionId: id }, { jobId })).rejects.toBeInstanceOf(
          InvalidJobError,
        );
      }
      await expect(queue.enqueue(JobName.PROCESS_SESSION, { sessionId: 'not-a-uuid' }, { jobId: id })).rejects.toThrow(
        /Data of job "process-session" is not valid: sessionId/,
      );
      await expect(
        queue.enqueue(JobName.PROCESS_SESSION, { sessionId: id, extra: 1 } as never, { jobId: id }),
      ).rejects.toBeInstanceOf(InvalidJobError);
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
      // And a good call afterwards still works.
      expect(await enqueue(queue, id)).toEqual({ jobId: id, created: true });
    });

    it('startup check: a worker without a handler for a job name refuses to start, naming it', async () => {
      const registry = new JobHandlerRegistry();
      const queue = makeQueue(registry);
      await expect(queue.start({ runWorker: true })).rejects.toThrow(MissingJobHandlerError);
      await expect(queue.start({ runWorker: true })).rejects.toThrow(/"process-session"/);

      // An API-only process (RUN_WORKER=false) needs no handler and can still enqueue.
      const apiOnly = makeQueue(new JobHandlerRegistry());
      await apiOnly.start({ runWorker: false });
      const id = randomUUID();
      expect(await enqueue(apiOnly, id)).toEqual({ jobId: id, created: true });
      expect(await apiOnly.counts()).toMatchObject({ waiting: 1, active: 0 });
    });
  });
});

describe('JobHandlerRegistry', () => {
  it('refuses unknown job names and a second handler for one name', () => {
    const registry = new JobHandlerRegistry();
    expect(() => registry.register('no-such-job' as JobName, async () => undefined)).toThrow(/Unknown job name/);
    expect(() => registry.onFailed('no-such-job' as JobName, () => undefined)).toThrow(/Unknown job name/);
    registry.register(JobName.PROCESS_SESSION, async () => undefined);
    expect(() => registry.register(JobName.PROCESS_SESSION, async () => undefined)).toThrow(/already registered/);
    expect(registry.missingHandlers()).toEqual([]);
  });
});

describe('QueueModule (in-process adapter, Nest lifecycle)', () => {
  const config = (env: Record<string, string> = {}) => loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env });

  it('stops the application at bootstrap when a job name has no handler (RUN_WORKER=true)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config()), MetricsModule, QueueModule],
    }).compile();
    await expect(moduleRef.init()).rejects.toThrow(/No handler is registered for job "process-session"/);
    await moduleRef.close();
  });

  it('starts an API-only process (RUN_WORKER=false) without handlers', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config({ RUN_WORKER: 'false' })), MetricsModule, QueueModule],
    }).compile();
    await moduleRef.init();
    expect(moduleRef.get<JobQueue>(JOB_QUEUE).backend).toBe('in-process');
    await moduleRef.close();
  });

  it('runs handlers registered in onModuleInit and publishes the queue depth as metrics', async () => {
    const runs: string[] = [];

    @Injectable()
    class ProbeJobs implements OnModuleInit {
      constructor(private readonly registry: JobHandlerRegistry) {}
      onModuleInit(): void {
        this.registry.register(JobName.PROCESS_SESSION, async (job) => {
          runs.push(job.data.sessionId);
        });
      }
    }
    @Module({ providers: [ProbeJobs] })
    class ProbeModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config()), MetricsModule, QueueModule, ProbeModule],
    }).compile();
    await moduleRef.init();
    try {
      const queue = moduleRef.get<JobQueue>(JOB_QUEUE);
      const id = randomUUID();
      await queue.enqueue(JobName.PROCESS_SESSION, { sessionId: id }, { jobId: id });
      await waitFor(() => runs.length === 1, undefined, 'the job');
      expect(runs).toEqual([id]);
      const { body } = await moduleRef.get(MetricsService).render();
      expect(body).toContain('queue_jobs_waiting{queue="jobs"} 0');
      expect(body).toContain('queue_jobs_failed{queue="jobs"} 0');
    } finally {
      await moduleRef.close();
    }
  });
});

describe('Redis maxmemory-policy check', () => {
  it('logs an error explaining the risk when the policy is not noeviction', async () => {
    const logger = recordingLogger();
    const policy = await checkRedisEvictionPolicy({ config: async () => ['maxmemory-policy', 'allkeys-lru'] }, logger);
    expect(policy).toBe('allkeys-lru');
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(String(logger.error.mock.calls[0]![1])).toMatch(/"allkeys-lru", not "noeviction".*delete BullMQ keys/);
  });

  it('tolerates a Redis where CONFIG is disabled, with a warning', async () => {
    const logger = recordingLogger();
    const policy = await checkRedisEvictionPolicy(
      {
        config: async () => {
          throw new Error("ERR unknown command 'CONFIG'");
        },
      },
      logger,
    );
    expect(policy).toBeNull();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it.skipIf(!REDIS_URL)('reads noeviction from this machine’s Redis and stays quiet', async () => {
    const redis = new Redis(REDIS_URL!);
    try {
      const logger = recordingLogger();
      expect(await checkRedisEvictionPolicy(redis, logger)).toBe('noeviction');
      expect(logger.warn).not.toHaveBeenCalled();
      expect(logger.error).not.toHaveBeenCalled();
    } finally {
      await redis.quit();
    }
  });
});
