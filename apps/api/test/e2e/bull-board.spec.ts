import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobName } from '../../src/modules/queue/job-names.js';
import { JOB_QUEUE, type JobQueue } from '../../src/modules/queue/job-queue.port.js';
import { QueueModule } from '../../src/modules/queue/queue.module.js';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** This machine's Redis (CI exports TEST_REDIS_URL); without it these tests are reported as skipped. */
const REDIS_URL = process.env.TEST_REDIS_URL;
const ADMIN = 'queues-admin@miinventario.mx';

describe.skipIf(!REDIS_URL)('Bull Board at /admin/queues (BullMQ, ADMIN only)', () => {
  /** Fresh key prefixes per run, so reruns and parallel files never share a queue or counters. */
  const run = randomBytes(6).toString('hex');
  const queuePrefix = `mi-test-board-${run}`;
  const rateLimitPrefix = `mi-test-board-rl-${run}:`;
  let database: TestDatabase;
  let testApp: TestApp;
  let admin: SignedIn;
  let person: SignedIn;

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, {
      // Already in AppModule once the pipeline registers its handler; importing it twice is harmless.
      extraModules: [QueueModule],
      env: {
        REDIS_URL: REDIS_URL!,
        QUEUE_PREFIX: queuePrefix,
        RATE_LIMIT_REDIS_PREFIX: rateLimitPrefix,
        // An API-only process: the board reads the queue; no job handler is needed here.
        RUN_WORKER: 'false',
        ADMIN_IDENTIFIERS: ADMIN,
      },
    });
    admin = await signIn(testApp, ADMIN);
    person = await signIn(testApp, uniquePhone());
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL!);
    try {
      for (const pattern of [`${queuePrefix}:*`, `${rateLimitPrefix}*`]) {
        const keys = await redis.keys(pattern);
        if (keys.length > 0) await redis.del(...keys);
      }
    } finally {
      await redis.quit();
    }
  });

  const get = (url: string, headers: Record<string, string> = {}) => testApp.inject({ method: 'GET', url, headers });

  const expectProblem = (
    response: Awaited<ReturnType<typeof get>>,
    status: number,
    code: string,
  ): Record<string, unknown> => {
    expect(response.statusCode, response.body).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = response.json();
    expect(body).toMatchObject({ status, code, instance: expect.stringMatching(/^\/admin\/queues/) });
    expect(body.requestId).toBe(response.headers['x-request-id']);
    return body;
  };

  it('answers 401 problem+json without a valid bearer token, on the page, its API and its files', async () => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/images/logo.svg']) {
      const response = await get(url);
      expectProblem(response, 401, 'UNAUTHENTICATED');
      expect(response.headers['www-authenticate']).toBe('Bearer');
    }
    const forged = await get('/admin/queues', { authorization: 'Bearer not.a.jwt' });
    expectProblem(forged, 401, 'UNAUTHENTICATED');
    expect(forged.headers['www-authenticate']).toMatch(/invalid_token/);
  });

  it('answers 403 FORBIDDEN to a signed-in account that is not ADMIN', async () => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
      expectProblem(await get(url, bearer(person)), 403, 'FORBIDDEN');
    }
  });

  it('serves the dashboard to an ADMIN, with a same-origin Content-Security-Policy', async () => {
    const page = await get('/admin/queues', bearer(admin));
    expect(page.statusCode, page.body).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<title>MiInventario</title>');
    expect(page.body).toContain('<base href="/admin/queues/"');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('googleapis');

    // Its bundled script, under the same guard.
    const script = /<script defer src="(static\/js\/main\.[^"]+\.js)"/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    expectProblem(await get(`/admin/queues/${script}`), 401, 'UNAUTHENTICATED');
    const asset = await get(`/admin/queues/${script}`, bearer(admin));
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
  });

  it('shows the application’s own BullMQ queue and its jobs to an ADMIN', async () => {
    const queue = testApp.app.get<JobQueue>(JOB_QUEUE);
    expect(queue.backend).toBe('bullmq');
    const sessionId = randomUUID();
    await queue.enqueue(JobName.PROCESS_SESSION, { sessionId }, { jobId: sessionId });

    const response = await get('/admin/queues/api/queues?activeQueue=jobs&status=waiting&page=1', bearer(admin));
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as {
      queues: Array<{ name: string; counts: Record<string, number>; jobs: Array<{ id: string; data: unknown }> }>;
    };
    const board = body.queues.find((entry) => entry.name.endsWith('jobs'));
    expect(board).toBeDefined();
    expect(board!.counts.waiting).toBe(1);
    expect(board!.jobs.map((job) => [job.id, job.data])).toEqual([[sessionId, { sessionId }]]);
  });

  it('answers 401 SESSION_REVOKED once the session is closed', async () => {
    const other = await signIn(testApp, uniquePhone());
    const logout = await testApp.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(other) });
    expect(logout.statusCode, logout.body).toBeLessThan(300);
    expectProblem(await get('/admin/queues', bearer(other)), 401, 'SESSION_REVOKED');
  });
});
