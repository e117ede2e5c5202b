import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreditsService } from '../../src/modules/credits/credits.service.js';
import { BULLMQ_QUEUE_NAME } from '../../src/modules/queue/bullmq-job.queue.js';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const VIDEO = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/videos/shelf-pan.mp4');

/** This machine's Redis (CI exports TEST_REDIS_URL); without it this file is reported as skipped. */
const REDIS_URL = process.env.TEST_REDIS_URL;

/**
 * Issue 5 with the production queue (DESIGN.md "Jobs": BullMQ on Redis when REDIS_URL is set):
 * an API process that runs no worker queues the session's job in Redis after the upload, and a
 * separate worker process (same database, same Redis) takes it and brings the session to READY.
 * Keys live under a fresh QUEUE_PREFIX (and rate-limit prefix) per run, deleted afterwards.
 */
describe.skipIf(!REDIS_URL)('video pipeline through BullMQ (TEST_REDIS_URL)', () => {
  const prefix = `mi-test-video-${randomBytes(6).toString('hex')}`;
  let redis: Redis;
  let database: TestDatabase;
  let api: TestApp;
  let worker: TestApp | undefined;
  let dataDir: string;
  let owner: SignedIn;
  let storeId: string;

  const env = (runWorker: boolean) => ({
    DATA_DIR: dataDir,
    REDIS_URL: REDIS_URL!,
    QUEUE_PREFIX: prefix,
    RATE_LIMIT_REDIS_PREFIX: `${prefix}:rl:`,
    RUN_WORKER: String(runWorker),
    UPLOAD_MAX_BYTES: String(50 * 1024 * 1024),
    QUEUE_BACKOFF_MS: '50',
    SWEEPER_INTERVAL_SECONDS: '3600',
  });

  beforeAll(async () => {
    redis = new Redis(REDIS_URL!, { maxRetriesPerRequest: null });
    dataDir = mkdtempSync(join(tmpdir(), 'miinventario-video-bullmq-'));
    database = await createTestDatabase();
    api = await createTestApp(database, { listen: true, env: env(false) });
    owner = await signIn(api, uniquePhone());
    const store = await api.inject({
      method: 'POST',
      url: '/api/v1/stores',
      headers: bearer(owner),
      payload: { name: 'Abarrotes La Cola', giro: 'abarrotes' },
    });
    expect(store.statusCode, store.body).toBe(201);
    storeId = store.json().id;
    const credits = api.app.get(CreditsService);
    await credits.grant({
      walletId: await credits.walletForUser(owner.user.id),
      type: 'PURCHASE',
      credits: 2,
      referenceId: randomUUID(),
      idempotencyKey: `test-purchase:${owner.user.id}`,
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await database?.drop();
    if (redis) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function getSession(id: string): Promise<{ state: string; failureCode: string | null }> {
    const response = await api.inject({
      method: 'GET',
      url: `/api/v1/inventory-sessions/${id}`,
      headers: bearer(owner),
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  }

  it('queues the job in Redis from an API-only process; a separate worker takes it to READY', async () => {
    const created = await api.inject({
      method: 'POST',
      url: `/api/v1/stores/${storeId}/inventory-sessions`,
      headers: bearer(owner),
      payload: {},
    });
    expect(created.statusCode, created.body).toBe(201);
    const sessionId = created.json().id as string;
    const original = readFileSync(VIDEO);
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(original, {
        endpoint: `${api.baseUrl}/api/v1/uploads`,
        headers: bearer(owner),
        metadata: { sessionId, filename: 'shelf-pan.mp4', filetype: 'video/mp4' },
        chunkSize: 256 * 1024,
        retryDelays: null,
        onError: reject,
        onSuccess: () => resolve(),
      });
      upload.start();
    });
    expect((await getSession(sessionId)).state).toBe('QUEUED');

    // The job waits in Redis, under this run's prefix, with the session id as its id.
    const queue = new Queue(BULLMQ_QUEUE_NAME, { connection: redis, prefix });
    try {
      const job = await queue.getJob(sessionId);
      expect(job?.name).toBe('process-session');
      expect(job?.data).toEqual({ sessionId });
      expect(await job?.getState()).toBe('waiting');

      worker = await createTestApp(database, { env: env(true) });
      const deadline = Date.now() + 120_000;
      let session = await getSession(sessionId);
      while (session.state !== 'READY' && session.state !== 'FAILED' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        session = await getSession(sessionId);
      }
      expect(session.state, JSON.stringify(session)).toBe('READY');
      const rows = await database.adminQuery<{ type: string }>(
        `SELECT type FROM billing.credit_transactions WHERE reference_id = $1::text ORDER BY seq`,
        [sessionId],
      );
      expect(rows.map((row) => row.type)).toEqual(['HOLD', 'HOLD_COMMIT']);
      const frames = await database.adminQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM media.frames f JOIN media.videos v ON v.id = f.video_id
          WHERE v.session_id = $1 AND f.kept`,
        [sessionId],
      );
      expect(frames[0]!.n).toBeGreaterThan(0);
      // Completed jobs are removed; nothing is left waiting, running or failed.
      expect(await queue.getJob(sessionId)).toBeUndefined();
      expect(await queue.getJobCounts('waiting', 'active', 'delayed', 'failed')).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 0,
      });
    } finally {
      await queue.close();
    }
  }, 180_000);
});
