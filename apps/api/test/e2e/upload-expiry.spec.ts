import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionSweeperService } from '../../src/modules/videos/session-sweeper.service.js';
import { bearer, type SignedIn } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { ownerWithStore } from '../support/store-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const VIDEO = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/videos/shelf-pan.mp4');

/** UPLOAD_EXPIRY_HOURS of this file: 0.01 h = 36 s, the smallest value env.schema.ts accepts. */
const EXPIRY_HOURS = 0.01;
const EXPIRY_SECONDS = EXPIRY_HOURS * 3600;

/**
 * Issue 5 "Sweeper": an upload started and not finished within UPLOAD_EXPIRY_HOURS is deleted
 * and its session FAILS with UPLOAD_EXPIRED, releasing the credit hold exactly once. The app
 * runs on a clock the test moves (no sleeping); the sweeper is called directly. Real HTTP on
 * loopback: tus PATCH bodies never reach tus through `inject`.
 */
describe('upload expiry', () => {
  const clock = new FakeClock();
  let database: TestDatabase;
  let api: TestApp;
  let dataDir: string;
  let owner: SignedIn;
  let storeId: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'miinventario-upload-expiry-'));
    database = await createTestDatabase();
    api = await createTestApp(database, {
      listen: true,
      clock,
      env: {
        DATA_DIR: dataDir,
        UPLOAD_EXPIRY_HOURS: String(EXPIRY_HOURS),
        UPLOAD_MAX_BYTES: String(50 * 1024 * 1024),
        // Nothing processes a finished upload (it stays QUEUED) and the sweeper runs only when called.
        RUN_WORKER: 'false',
        SWEEPER_INTERVAL_SECONDS: '3600',
      },
    });
    ({ owner, storeId } = await ownerWithStore(api, 'Abarrotes El Reloj', 5));
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await database?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function startSession(): Promise<string> {
    const response = await api.inject({
      method: 'POST',
      url: `/api/v1/stores/${storeId}/inventory-sessions`,
      headers: bearer(owner),
      payload: {},
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id;
  }

  async function getSession(id: string): Promise<{ state: string; failureCode: string | null }> {
    const response = await api.inject({
      method: 'GET',
      url: `/api/v1/inventory-sessions/${id}`,
      headers: bearer(owner),
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  }

  /** Creates the tus upload of `sessionId` for `length` bytes; returns its URL and id. */
  async function createUpload(sessionId: string, length: number): Promise<{ url: URL; id: string }> {
    const metadata = [
      `sessionId ${Buffer.from(sessionId).toString('base64')}`,
      `filename ${Buffer.from('estante.mp4').toString('base64')}`,
      `filetype ${Buffer.from('video/mp4').toString('base64')}`,
    ].join(',');
    const response = await fetch(`${api.baseUrl}/api/v1/uploads`, {
      method: 'POST',
      headers: {
        ...bearer(owner),
        'tus-resumable': '1.0.0',
        'upload-length': String(length),
        'upload-metadata': metadata,
      },
    });
    expect(response.status, await response.text()).toBe(201);
    const url = new URL(response.headers.get('location')!, api.baseUrl);
    return { url, id: url.pathname.split('/').pop()! };
  }

  async function patch(url: URL, offset: number, body: Buffer): Promise<Response> {
    return fetch(url, {
      method: 'PATCH',
      headers: {
        ...bearer(owner),
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
      },
      body,
    });
  }

  async function head(url: URL): Promise<Response> {
    return fetch(url, { method: 'HEAD', headers: { ...bearer(owner), 'tus-resumable': '1.0.0' } });
  }

  async function holdRows(sessionId: string): Promise<Record<string, number>> {
    const rows = await database.adminQuery<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM billing.credit_transactions
        WHERE reference_id = $1::text GROUP BY type`,
      [sessionId],
    );
    return Object.fromEntries(rows.map((row) => [row.type, row.n]));
  }

  async function videoStatus(sessionId: string): Promise<string | undefined> {
    const [row] = await database.adminQuery<{ status: string }>(
      `SELECT status FROM media.videos WHERE session_id = $1`,
      [sessionId],
    );
    return row?.status;
  }

  async function wallet(): Promise<{ balance: number; held: number; available: number }> {
    const response = await api.inject({ method: 'GET', url: '/api/v1/credits/wallet', headers: bearer(owner) });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  }

  it('expires an unfinished upload past UPLOAD_EXPIRY_HOURS and leaves an unexpired one and a finished one alone', async () => {
    const video = readFileSync(VIDEO);
    const half = Math.floor(video.length / 2);
    const uploads = join(dataDir, 'uploads');

    // A finished upload (valid video: QUEUED, nothing processes it here).
    const finishedSession = await startSession();
    const finished = await createUpload(finishedSession, video.length);
    expect((await patch(finished.url, 0, video)).status).toBe(204);
    expect((await getSession(finishedSession)).state).toBe('QUEUED');

    // The upload that will expire: half of the bytes, then the client goes away.
    const staleSession = await startSession();
    const stale = await createUpload(staleSession, video.length);
    const sent = await patch(stale.url, 0, video.subarray(0, half));
    expect(sent.status).toBe(204);
    expect(sent.headers.get('upload-offset')).toBe(String(half));
    expect(statSync(join(uploads, stale.id)).size).toBe(half);
    expect((await getSession(staleSession)).state).toBe('UPLOADING');
    expect(await holdRows(staleSession)).toEqual({ HOLD: 1 });

    // The expiry passes; then another upload starts (its own expiry is still ahead).
    clock.advance(EXPIRY_SECONDS + 1);
    const freshSession = await startSession();
    const fresh = await createUpload(freshSession, video.length);
    expect((await patch(fresh.url, 0, video.subarray(0, 1000))).status).toBe(204);
    const before = await wallet();
    expect(before.held).toBe(3);

    const sweeper = api.app.get(SessionSweeperService);
    const result = await sweeper.sweep();
    expect(result.expiredUploads).toBe(1);

    // The stale one: session FAILED with UPLOAD_EXPIRED, hold voided, video EXPIRED, bytes gone.
    const failed = await getSession(staleSession);
    expect(failed).toMatchObject({ state: 'FAILED', failureCode: 'UPLOAD_EXPIRED' });
    expect(await holdRows(staleSession)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
    expect(await videoStatus(staleSession)).toBe('EXPIRED');
    expect(existsSync(join(uploads, stale.id))).toBe(false);
    expect(existsSync(join(uploads, `${stale.id}.json`))).toBe(false);
    expect(await wallet()).toMatchObject({ balance: before.balance, held: before.held - 1 });
    // Resuming it is refused: 410 Gone (tus 1.0 "Expiration") for HEAD and PATCH, nothing written.
    expect((await head(stale.url)).status).toBe(410);
    expect((await patch(stale.url, half, video.subarray(half))).status).toBe(410);
    expect(existsSync(join(uploads, stale.id))).toBe(false);

    // The unexpired one: untouched, and it can still be finished.
    expect((await getSession(freshSession)).state).toBe('UPLOADING');
    expect(await holdRows(freshSession)).toEqual({ HOLD: 1 });
    expect(await videoStatus(freshSession)).toBe('UPLOADING');
    const resumed = await head(fresh.url);
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get('upload-offset')).toBe('1000');
    expect((await patch(fresh.url, 1000, video.subarray(1000))).status).toBe(204);
    expect((await getSession(freshSession)).state).toBe('QUEUED');

    // The finished one: its bytes stay, its session and hold are unchanged.
    expect(statSync(join(uploads, finished.id)).size).toBe(video.length);
    expect((await getSession(finishedSession)).state).toBe('QUEUED');
    expect(await holdRows(finishedSession)).toEqual({ HOLD: 1 });

    // Sweeping again (later still) voids nothing twice.
    clock.advance(EXPIRY_SECONDS + 1);
    expect((await sweeper.sweep()).expiredUploads).toBe(0);
    expect(await holdRows(staleSession)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
    expect((await getSession(staleSession)).failureCode).toBe('UPLOAD_EXPIRED');
  }, 120_000);

  it('fails a session that never got an upload once the upload expiry has passed, releasing its credit once', async () => {
    const sweeper = api.app.get(SessionSweeperService);
    const abandoned = await startSession();
    clock.advance(EXPIRY_SECONDS + 1);
    const young = await startSession();
    const result = await sweeper.sweep();
    expect(result.expiredUploads).toBe(1);
    expect(await getSession(abandoned)).toMatchObject({ state: 'FAILED', failureCode: 'UPLOAD_EXPIRED' });
    expect(await holdRows(abandoned)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
    expect((await getSession(young)).state).toBe('CREATED');
    expect(await holdRows(young)).toEqual({ HOLD: 1 });
    expect((await sweeper.sweep()).expiredUploads).toBe(0);
    expect(await holdRows(abandoned)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
  });
});
