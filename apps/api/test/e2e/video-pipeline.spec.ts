import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreditsService } from '../../src/modules/credits/credits.service.js';
import { SessionSweeperService } from '../../src/modules/videos/session-sweeper.service.js';
import { InventorySessionService } from '../../src/modules/inventory/inventory-session.service.js';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const VIDEOS = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/videos');
const video = (name: string) => join(VIDEOS, name);

interface SessionBody {
  id: string;
  state: string;
  failureCode: string | null;
  progress: number;
}

/**
 * Issue 5 end to end on the embedded-style default (in-process queue, local files): tus upload
 * (with a cut connection and resume), validation of bad videos, frame extraction, the session's
 * media, SSE, access rules, and crash recovery by the sweeper.
 */
describe('video pipeline', () => {
  let database: TestDatabase;
  let api: TestApp;
  let dataDir: string;
  let owner: SignedIn;
  let stranger: SignedIn;
  let storeId: string;

  const env = () => ({
    DATA_DIR: dataDir,
    UPLOAD_MAX_BYTES: String(50 * 1024 * 1024),
    QUEUE_BACKOFF_MS: '50',
    SWEEPER_INTERVAL_SECONDS: '3600',
    SWEEPER_STUCK_MINUTES: '0.01',
    SWEEPER_MAX_REQUEUES: '2',
  });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'miinventario-video-e2e-'));
    database = await createTestDatabase();
    api = await createTestApp(database, { listen: true, env: env() });
    owner = await signIn(api, uniquePhone());
    stranger = await signIn(api, uniquePhone());
    const store = await api.inject({
      method: 'POST',
      url: '/api/v1/stores',
      headers: bearer(owner),
      payload: { name: 'Abarrotes La Esperanza', giro: 'abarrotes' },
    });
    expect(store.statusCode, store.body).toBe(201);
    storeId = store.json().id;
    // Enough credits for every session of this file (a purchase, as the payments issue grants them).
    const credits = api.app.get(CreditsService);
    await credits.grant({
      walletId: await credits.walletForUser(owner.user.id),
      type: 'PURCHASE',
      credits: 30,
      referenceId: randomUUID(),
      idempotencyKey: `test-purchase:${owner.user.id}`,
    });
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function startSession(who: SignedIn = owner): Promise<string> {
    const response = await api.inject({
      method: 'POST',
      url: `/api/v1/stores/${storeId}/inventory-sessions`,
      headers: bearer(who),
      payload: {},
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id;
  }

  async function getSession(id: string, who: SignedIn = owner): Promise<SessionBody> {
    const response = await api.inject({ method: 'GET', url: `/api/v1/inventory-sessions/${id}`, headers: bearer(who) });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  }

  async function waitFinal(id: string, timeoutMs = 90_000): Promise<SessionBody> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const session = await getSession(id);
      if (session.state === 'READY' || session.state === 'FAILED') return session;
      if (Date.now() > deadline) throw new Error(`session ${id} still ${session.state}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Ledger rows of a session's hold, by type. */
  async function holdRows(sessionId: string): Promise<Record<string, number>> {
    const rows = await database.adminQuery<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM billing.credit_transactions
        WHERE reference_id = $1::text GROUP BY type`,
      [sessionId],
    );
    return Object.fromEntries(rows.map((row) => [row.type, row.n]));
  }

  /** Uploads `body` in one go with tus over loopback HTTP (POST + PATCH). */
  async function injectUpload(
    sessionId: string,
    body: Buffer,
    meta: { filename: string; filetype: string },
    who: SignedIn = owner,
  ) {
    const metadata = [
      `sessionId ${Buffer.from(sessionId).toString('base64')}`,
      `filename ${Buffer.from(meta.filename).toString('base64')}`,
      `filetype ${Buffer.from(meta.filetype).toString('base64')}`,
    ].join(',');
    const post = await fetch(`${api.baseUrl}/api/v1/uploads`, {
      method: 'POST',
      headers: {
        ...bearer(who),
        'tus-resumable': '1.0.0',
        'upload-length': String(body.length),
        'upload-metadata': metadata,
      },
    });
    const created = {
      statusCode: post.status,
      headers: Object.fromEntries(post.headers.entries()),
      body: await post.text(),
      json: function () {
        return JSON.parse(this.body) as { code: string };
      },
    };
    if (created.statusCode !== 201 || body.length === 0) return { created, patched: null };
    const patch = await fetch(new URL(created.headers.location!, api.baseUrl), {
      method: 'PATCH',
      headers: {
        ...bearer(who),
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body,
    });
    return { created, patched: { statusCode: patch.status, body: await patch.text() } };
  }

  it('uploads a real video with tus-js-client through a connection cut at ~50 %, resumes, and processes it to stored frames', async () => {
    const file = video('shelf-pan.mp4');
    const original = readFileSync(file);
    const sessionId = await startSession();

    // A loopback proxy that counts request bytes and cuts the first connection half-way.
    const target = new URL(api.baseUrl);
    let bytesUp = 0;
    let cut = false;
    const sockets = new Set<Socket>();
    const proxy: Server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      sockets.add(client);
      sockets.add(upstream);
      client.on('data', (chunk: Buffer) => {
        bytesUp += chunk.length;
        if (!cut && bytesUp > original.length / 2) {
          cut = true;
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => client.write(chunk));
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', close);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as { port: number }).port;
    try {
      await new Promise<void>((resolve, reject) => {
        const upload = new tus.Upload(original, {
          endpoint: `http://127.0.0.1:${port}/api/v1/uploads`,
          headers: bearer(owner),
          metadata: { sessionId, filename: 'shelf-pan.mp4', filetype: 'video/mp4' },
          chunkSize: 256 * 1024,
          retryDelays: [0, 100, 200, 400],
          onError: reject,
          onSuccess: () => resolve(),
        });
        upload.start();
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
    expect(cut).toBe(true);
    // Request bytes include headers; the body bytes sent stay within 110 % of the file.
    expect(bytesUp).toBeLessThanOrEqual(original.length * 1.1 + 64 * 1024);

    const [stored] = await database.adminQuery<{ upload_id: string; size_bytes: string; status: string }>(
      `SELECT upload_id, size_bytes, status FROM media.videos WHERE session_id = $1`,
      [sessionId],
    );
    const storedBytes = readFileSync(join(dataDir, 'uploads', stored!.upload_id));
    expect(createHash('sha256').update(storedBytes).digest('hex')).toBe(
      createHash('sha256').update(original).digest('hex'),
    );
    expect(Number(stored!.size_bytes)).toBe(original.length);

    const final = await waitFinal(sessionId);
    expect(final.state, JSON.stringify(final)).toBe('READY');
    const media = await api.inject({
      method: 'GET',
      url: `/api/v1/inventory-sessions/${sessionId}/media`,
      headers: bearer(owner),
    });
    expect(media.statusCode, media.body).toBe(200);
    const body = media.json();
    expect(body.video.durationMs).toBeGreaterThan(5000);
    expect(body.frames.length).toBeGreaterThan(0);
    expect(body.framesSampled).toBeGreaterThanOrEqual(body.framesKept);
    expect(body.thumbnailUrl).toMatch(/^http/);
    // A kept frame is served from its signed URL as a JPEG.
    const signed = new URL(body.frames[0].url as string);
    const frame = await api.inject({ method: 'GET', url: `${signed.pathname}${signed.search}` });
    expect(frame.statusCode).toBe(200);
    expect(frame.headers['content-type']).toMatch(/image\/jpeg/);
    expect(await holdRows(sessionId)).toEqual({ HOLD: 1, HOLD_COMMIT: 1 });
  }, 180_000);

  it('answers 409 to a PATCH at a wrong offset and keeps the stored offset', async () => {
    const sessionId = await startSession();
    const body = readFileSync(video('shelf-pan.mp4'));
    const created = await api.inject({
      method: 'POST',
      url: '/api/v1/uploads',
      headers: {
        ...bearer(owner),
        'tus-resumable': '1.0.0',
        'upload-length': String(body.length),
        'upload-metadata': `sessionId ${Buffer.from(sessionId).toString('base64')},filetype ${Buffer.from('video/mp4').toString('base64')}`,
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const location = created.headers.location as string;
    const wrong = await api.inject({
      method: 'PATCH',
      url: location,
      headers: {
        ...bearer(owner),
        'tus-resumable': '1.0.0',
        'upload-offset': '1000',
        'content-type': 'application/offset+octet-stream',
      },
      payload: body.subarray(1000, 5000),
    });
    expect(wrong.statusCode).toBe(409);
    expect(wrong.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(wrong.json()).toMatchObject({ code: 'UPLOAD_OFFSET_CONFLICT', status: 409 });
    expect(wrong.headers['x-request-id']).toBeTruthy();
    const head = await api.inject({
      method: 'HEAD',
      url: location,
      headers: { ...bearer(owner), 'tus-resumable': '1.0.0' },
    });
    expect(head.statusCode).toBe(200);
    expect(head.headers['upload-offset']).toBe('0');
    expect((await getSession(sessionId)).state).toBe('UPLOADING');
  });

  const badVideos: Array<[string, string, string, string]> = [
    ['an empty file', 'empty.mp4', 'video/mp4', 'VIDEO_EMPTY'],
    ['random bytes named .mp4', 'random-bytes.mp4', 'video/mp4', 'VIDEO_UNREADABLE'],
    ['an audio-only file', 'audio-only.mp4', 'video/mp4', 'NO_VIDEO_STREAM'],
    ['a 2 s video', 'two-seconds.mp4', 'video/mp4', 'VIDEO_TOO_SHORT'],
    ['a 200 s video', 'two-hundred-seconds.mp4', 'video/mp4', 'VIDEO_TOO_LONG'],
  ];
  for (const [label, name, type, code] of badVideos) {
    it(`fails ${label} with ${code}, voids the hold and queues nothing`, async () => {
      const sessionId = await startSession();
      const body = statSync(video(name)).size === 0 ? Buffer.alloc(0) : readFileSync(video(name));
      const { created, patched } = await injectUpload(sessionId, body, { filename: name, filetype: type });
      expect(created.statusCode, created.body).toBe(201);
      if (patched) expect(patched.statusCode, patched.body).toBe(204);
      const final = await waitFinal(sessionId);
      expect(final.state).toBe('FAILED');
      expect(final.failureCode).toBe(code);
      expect(await holdRows(sessionId)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
    }, 60_000);
  }

  it('fails a truncated video whose header still names the full length (VIDEO_UNREADABLE), voiding the hold', async () => {
    // The sample has its index at the front (faststart): a cut file still probes as 25 s.
    const whole = readFileSync(join(VIDEOS, '../../../../../eval/videos/sample-shelf.mp4'));
    const sessionId = await startSession();
    const { created, patched } = await injectUpload(sessionId, whole.subarray(0, Math.floor(whole.length * 0.6)), {
      filename: 'cortado.mp4',
      filetype: 'video/mp4',
    });
    expect(created.statusCode).toBe(201);
    expect(patched?.statusCode).toBe(204);
    const final = await waitFinal(sessionId);
    expect(final).toMatchObject({ state: 'FAILED', failureCode: 'VIDEO_UNREADABLE' });
    expect(await holdRows(sessionId)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
  }, 120_000);

  it('refuses control characters in the upload metadata with 400 UPLOAD_INVALID and keeps the session CREATED', async () => {
    const sessionId = await startSession();
    const { created } = await injectUpload(sessionId, readFileSync(video('shelf-pan.mp4')), {
      filename: 'a\u0000b.mp4',
      filetype: 'video/mp4',
    });
    expect(created.statusCode).toBe(400);
    expect(created.json().code).toBe('UPLOAD_INVALID');
    expect((await getSession(sessionId)).state).toBe('CREATED');
  });

  it('refuses a .txt upload with 415 problem+json, failing the session with UNSUPPORTED_FORMAT', async () => {
    const sessionId = await startSession();
    const { created } = await injectUpload(sessionId, readFileSync(video('notes.txt')), {
      filename: 'notes.txt',
      filetype: 'text/plain',
    });
    expect(created.statusCode).toBe(415);
    expect(created.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(created.json().code).toBe('UNSUPPORTED_VIDEO_FORMAT');
    const session = await getSession(sessionId);
    expect(session.state).toBe('FAILED');
    expect(session.failureCode).toBe('UNSUPPORTED_FORMAT');
    expect(await holdRows(sessionId)).toEqual({ HOLD: 1, HOLD_VOID: 1 });
    const queued = await database.adminQuery(
      `SELECT id FROM inventory.inventory_sessions WHERE store_id = $1 AND state IN ('QUEUED', 'PROCESSING')`,
      [storeId],
    );
    expect(queued).toEqual([]);
  });

  it('hides a session from a user of another store: no upload, no read, no stream (404)', async () => {
    const sessionId = await startSession();
    const { created } = await injectUpload(
      sessionId,
      readFileSync(video('shelf-pan.mp4')),
      { filename: 'a.mp4', filetype: 'video/mp4' },
      stranger,
    );
    expect(created.statusCode).toBe(404);
    expect(created.json().code).toBe('NOT_FOUND');
    // The owner creates the upload; the stranger cannot HEAD or PATCH it.
    const mine = await api.inject({
      method: 'POST',
      url: '/api/v1/uploads',
      headers: {
        ...bearer(owner),
        'tus-resumable': '1.0.0',
        'upload-length': '100',
        'upload-metadata': `sessionId ${Buffer.from(sessionId).toString('base64')}`,
      },
    });
    expect(mine.statusCode, mine.body).toBe(201);
    const location = mine.headers.location as string;
    for (const method of ['HEAD', 'PATCH'] as const) {
      const response = await api.inject({
        method,
        url: location,
        headers: {
          ...bearer(stranger),
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
        ...(method === 'PATCH' ? { payload: Buffer.alloc(100) } : {}),
      });
      expect(response.statusCode, `${method} ${response.body}`).toBe(404);
    }
    for (const url of [`/api/v1/inventory-sessions/${sessionId}`, `/api/v1/inventory-sessions/${sessionId}/media`]) {
      const response = await api.inject({ method: 'GET', url, headers: bearer(stranger) });
      expect(response.statusCode).toBe(404);
    }
    const stream = await fetch(`${api.baseUrl}/api/v1/inventory-sessions/${sessionId}/events`, {
      headers: bearer(stranger),
    });
    expect(stream.status).toBe(404);
    expect(stream.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('streams each state change over SSE until READY', async () => {
    const sessionId = await startSession();
    const response = await fetch(`${api.baseUrl}/api/v1/inventory-sessions/${sessionId}/events`, {
      headers: { ...bearer(owner), accept: 'text/event-stream' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const states: string[] = [];
    const reading = (async () => {
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let split;
        while ((split = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type === 'state' && data) {
            const state = (JSON.parse(data) as { state: string }).state;
            if (states[states.length - 1] !== state) states.push(state);
          }
        }
      }
    })();
    // The first event is the current state.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { created, patched } = await injectUpload(sessionId, readFileSync(video('shelf-pan.mp4')), {
      filename: 'shelf.mp4',
      filetype: 'video/mp4',
    });
    expect(created.statusCode).toBe(201);
    expect(patched?.statusCode).toBe(204);
    await Promise.race([
      reading,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`SSE stalled at ${states.join(',')}`)), 90_000)),
    ]);
    expect(states[0]).toBe('CREATED');
    expect(states).toEqual(expect.arrayContaining(['UPLOADING', 'UPLOADED', 'QUEUED', 'PROCESSING', 'READY']));
    expect(states[states.length - 1]).toBe('READY');
  }, 120_000);

  it('recovers a session whose worker died in PROCESSING: the sweeper finishes it exactly once', async () => {
    // An API-only process (no worker): the session stays QUEUED, then a "worker" takes it and dies.
    const apiOnly = await createTestApp(database, { listen: true, env: { ...env(), RUN_WORKER: 'false' } });
    let worker: TestApp | null = null;
    try {
      const sessionId = (
        await apiOnly.inject({
          method: 'POST',
          url: `/api/v1/stores/${storeId}/inventory-sessions`,
          headers: bearer(owner),
          payload: {},
        })
      ).json().id as string;
      const body = readFileSync(video('shelf-pan.mp4'));
      const metadata = `sessionId ${Buffer.from(sessionId).toString('base64')},filetype ${Buffer.from('video/mp4').toString('base64')}`;
      const created = await fetch(`${apiOnly.baseUrl}/api/v1/uploads`, {
        method: 'POST',
        headers: {
          ...bearer(owner),
          'tus-resumable': '1.0.0',
          'upload-length': String(body.length),
          'upload-metadata': metadata,
        },
      });
      expect(created.status).toBe(201);
      const patched = await fetch(new URL(created.headers.get('location')!, apiOnly.baseUrl), {
        method: 'PATCH',
        headers: {
          ...bearer(owner),
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
        body,
      });
      expect(patched.status).toBe(204);
      const sessions = apiOnly.app.get(InventorySessionService);
      expect((await sessions.getForWorker(sessionId))!.state).toBe('QUEUED');
      // The crashed worker: it took the session (PROCESSING) and never reported again.
      await sessions.transition(sessionId, 'PROCESSING');
      await new Promise((resolve) => setTimeout(resolve, 1200)); // > SWEEPER_STUCK_MINUTES (0.6 s)

      worker = await createTestApp(database, { env: env() });
      const sweeper = worker.app.get(SessionSweeperService);
      const first = await sweeper.sweep();
      expect(first.requeued).toBeGreaterThanOrEqual(1);
      const deadline = Date.now() + 90_000;
      let state = '';
      while (Date.now() < deadline) {
        state = (await worker.app.get(InventorySessionService).getForWorker(sessionId))!.state;
        if (state === 'READY' || state === 'FAILED') break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(state).toBe('READY');
      // Sweeping again changes nothing; the hold was committed once.
      await sweeper.sweep();
      expect(await holdRows(sessionId)).toEqual({ HOLD: 1, HOLD_COMMIT: 1 });
    } finally {
      await worker?.close();
      await apiOnly.close();
    }
  }, 180_000);
});
