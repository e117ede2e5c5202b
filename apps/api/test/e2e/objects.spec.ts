import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OBJECT_STORAGE, type ObjectStorage } from '../../src/modules/storage/object-storage.port.js';
import { FakeClock } from '../support/fake-clock.js';
import { startS3TestServer } from '../support/s3-test-server.js';
import { createTestApp, useTestApp } from '../support/test-app.js';
import { createTestDatabase } from '../support/test-database.js';

/** `GET`/`HEAD /api/v1/objects/<key>?expires&signature`: the local adapter's signed URLs, through the real app. */
describe('signed object URLs (local storage)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'miinventario-objects-e2e-'));
  const clock = new FakeClock();
  const context = useTestApp({ env: { DATA_DIR: dataDir }, clock });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  const storage = () => context.app.app.get<ObjectStorage>(OBJECT_STORAGE);
  /** The path and query of a signed URL (the app is reached by injection, not on its public address). */
  const pathOf = (url: string) => {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  };
  const get = (url: string, method: 'GET' | 'HEAD' = 'GET') => context.app.inject({ method, url });
  async function newFrame(bytes = 4096): Promise<{ key: string; body: Buffer }> {
    const key = `stores/${randomUUID()}/sessions/${randomUUID()}/frames/000012.jpg`;
    const body = randomBytes(bytes);
    await storage().putBuffer(key, body, 'image/jpeg');
    return { key, body };
  }

  function expectProblem(response: Awaited<ReturnType<typeof get>>, status: number, code: string): void {
    expect({ status: response.statusCode, code: response.json().code }).toEqual({ status, code });
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json();
    expect(problem.requestId).toBe(response.headers['x-request-id']);
    // The problem names the path, never the signature.
    expect(problem.instance).not.toContain('signature');
  }

  it('signs URLs under PUBLIC_URL (default http://localhost:PORT) with expires = now + OBJECT_URL_TTL_SECONDS', async () => {
    const { key } = await newFrame();
    const url = new URL(await storage().signedUrl(key));
    expect(url.origin).toBe(`http://localhost:${context.app.config.PORT}`);
    expect(url.pathname).toBe(`/api/v1/objects/${key}`);
    expect(Number(url.searchParams.get('expires'))).toBe(
      Math.floor(clock.now().getTime() / 1000) + context.app.config.OBJECT_URL_TTL_SECONDS,
    );
    expect(url.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('200: streams the object without a token, with its type, length and cache headers', async () => {
    const { key, body } = await newFrame(5000);
    const response = await get(pathOf(await storage().signedUrl(key, { ttlSeconds: 120 })));
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload.equals(body)).toBe(true);
    expect(response.headers).toMatchObject({
      'content-type': 'image/jpeg',
      'content-length': '5000',
      'cache-control': 'private, max-age=120',
      'x-content-type-options': 'nosniff',
      'cross-origin-resource-policy': 'cross-origin',
    });
    expect(response.headers['content-disposition']).toBeUndefined();
  });

  it('200 HEAD: the headers with the real length and no body', async () => {
    const { key } = await newFrame(777);
    const response = await get(pathOf(await storage().signedUrl(key)), 'HEAD');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe('777');
    expect(response.headers['content-type']).toBe('image/jpeg');
    expect(response.rawPayload.length).toBe(0);
  });

  it('200 with Content-Disposition when minted with a download name; the type follows the extension', async () => {
    const key = `stores/${randomUUID()}/sessions/${randomUUID()}/report.pdf`;
    await storage().putBuffer(key, Buffer.from('%PDF-1.7\n'), 'application/pdf');
    const response = await get(pathOf(await storage().signedUrl(key, { downloadName: 'inventario-2025-01.pdf' })));
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/pdf');
    expect(response.headers['content-disposition']).toBe(
      `attachment; filename="inventario-2025-01.pdf"; filename*=UTF-8''inventario-2025-01.pdf`,
    );
  });

  it('403 OBJECT_URL_INVALID: missing, malformed, repeated or forged parameters, or a bad key', async () => {
    const { key } = await newFrame();
    const url = new URL(await storage().signedUrl(key));
    const variants: Record<string, (u: URL) => void> = {
      'no signature': (u) => u.searchParams.delete('signature'),
      'no expires': (u) => u.searchParams.delete('expires'),
      'empty signature': (u) => u.searchParams.set('signature', ''),
      'forged signature': (u) => u.searchParams.set('signature', 'A'.repeat(43)),
      'signature of another length': (u) => u.searchParams.set('signature', `${u.searchParams.get('signature')}AA`),
      'repeated signature': (u) => u.searchParams.append('signature', u.searchParams.get('signature')!),
      'later expires': (u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600)),
      'non-numeric expires': (u) => u.searchParams.set('expires', '1e12'),
      'added download name': (u) => u.searchParams.set('download', 'x.html'),
      'another key': (u) => (u.pathname = u.pathname.replace('000012.jpg', '000013.jpg')),
    };
    for (const [label, change] of Object.entries(variants)) {
      const forged = new URL(url);
      change(forged);
      const response = await get(pathOf(forged.toString()));
      expect({ label, status: response.statusCode }).toEqual({ label, status: 403 });
      expectProblem(response, 403, 'OBJECT_URL_INVALID');
    }
    // Keys that are not keys: traversal (slashes encoded, so no client or URL parser resolves the
    // dots before the route sees them), a hidden name, none at all.
    for (const path of ['stores%2F..%2F..%2Fsecrets.json', 'stores/x/..%2F..%2F..%2Fobject-url-secret', '.tmp/x', '']) {
      expectProblem(await get(`/api/v1/objects/${path}${url.search}`), 403, 'OBJECT_URL_INVALID');
    }
    // The genuine URL still works: nothing above changed anything.
    expect((await get(pathOf(url.toString()))).statusCode).toBe(200);
  });

  it('403 OBJECT_URL_EXPIRED once the ttl has passed (GET and HEAD)', async () => {
    const { key } = await newFrame();
    const path = pathOf(await storage().signedUrl(key, { ttlSeconds: 60 }));
    clock.advance(59);
    expect((await get(path)).statusCode).toBe(200);
    clock.advance(1);
    expectProblem(await get(path), 403, 'OBJECT_URL_EXPIRED');
    expect((await get(path, 'HEAD')).statusCode).toBe(403);
  });

  it('404 NOT_FOUND for a valid URL whose object is gone (GET and HEAD)', async () => {
    const { key } = await newFrame();
    const path = pathOf(await storage().signedUrl(key));
    await storage().delete(key);
    const response = await get(path);
    expectProblem(response, 404, 'NOT_FOUND');
    expect(response.json().detail).not.toContain(key);
    expect((await get(path, 'HEAD')).statusCode).toBe(404);
  });
});

describe('signed object URLs with S3 storage', () => {
  it('leaves the route unanswered (404 ROUTE_NOT_FOUND): URLs point at S3', async () => {
    const server = await startS3TestServer();
    const database = await createTestDatabase();
    const app = await createTestApp(database, { env: server.env });
    try {
      const storage = app.app.get<ObjectStorage>(OBJECT_STORAGE);
      expect(storage.backend).toBe('s3');
      const key = `stores/${randomUUID()}/sessions/${randomUUID()}/frames/000001.jpg`;
      await storage.putBuffer(key, randomBytes(100), 'image/jpeg');
      const presigned = new URL(await storage.signedUrl(key));
      expect(presigned.origin).toBe(server.endpoint);
      expect((await fetch(presigned)).status).toBe(200);

      const response = await app.inject({ method: 'GET', url: `/api/v1/objects/${key}?expires=1&signature=x` });
      expect({ status: response.statusCode, code: response.json().code }).toEqual({
        status: 404,
        code: 'ROUTE_NOT_FOUND',
      });
    } finally {
      await app.close();
      await database.drop();
      await server.close();
    }
  });
});
