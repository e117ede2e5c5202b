import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionSweeperService } from '../../src/modules/videos/session-sweeper.service.js';
import { bearer, type SignedIn } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-test-server.js';
import { ownerWithStore } from '../support/store-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const VIDEO = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/videos/shelf-pan.mp4');

/** An S3 multipart upload the proxy saw created, with the parts s3rver acknowledged. */
interface MultipartUpload {
  bucket: string;
  key: string;
  parts: Map<number, { etag: string; size: number; lastModified: Date }>;
}

/** The proxy of {@link startMultipartProxy}. */
interface MultipartProxy {
  /** `http://127.0.0.1:<port>`: use as S3_ENDPOINT. */
  endpoint: string;
  /** ListParts calls answered so far. */
  listPartsCalls(): number;
  /** Keys of the multipart uploads created and neither completed nor aborted. */
  openUploads(): string[];
  close(): Promise<void>;
}

const xml = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function s3Error(res: ServerResponse, status: number, code: string, message: string, uploadId: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
      `<UploadId>${xml(uploadId)}</UploadId></Error>`,
  );
}

/**
 * s3rver 3.7.1 implements CreateMultipartUpload, UploadPart and CompleteMultipartUpload but not
 * ListParts (`GET /{bucket}/{key}?uploadId=…`) nor AbortMultipartUpload (`DELETE …?uploadId=…`):
 * its router (lib/routes.js) answers both 405 MethodNotAllowed. `@tus/s3-store` calls ListParts
 * on every POST, HEAD and PATCH to learn an upload's offset (S3Store.getUpload → retrieveParts),
 * so against s3rver alone every tus request fails with 500.
 *
 * This proxy in front of the S3 test server forwards every request unchanged (the Host header
 * too, so SigV4 presigned URLs still verify there) and answers those two calls as S3 documents
 * them (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html), from what s3rver
 * acknowledged through it: the UploadId of each CreateMultipartUpload, and the number, ETag and
 * size of each UploadPart. After CompleteMultipartUpload or AbortMultipartUpload the upload is gone
 * (ListParts → 404 NoSuchUpload, which tus reads as "complete").
 */
async function startMultipartProxy(target: string): Promise<MultipartProxy> {
  const upstream = new URL(target);
  const uploads = new Map<string, MultipartUpload>();
  let listParts = 0;

  function listPartsOf(res: ServerResponse, uploadId: string, query: URLSearchParams): void {
    const upload = uploads.get(uploadId);
    if (!upload) return s3Error(res, 404, 'NoSuchUpload', 'The specified upload does not exist.', uploadId);
    listParts += 1;
    const marker = Number(query.get('part-number-marker') ?? 0);
    const max = Math.min(Number(query.get('max-parts') ?? 1000), 1000);
    const all = [...upload.parts.entries()].filter(([n]) => n > marker).sort(([a], [b]) => a - b);
    const page = all.slice(0, max);
    const truncated = all.length > page.length;
    const last = page.length > 0 ? page[page.length - 1]![0] : marker;
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<Bucket>${xml(upload.bucket)}</Bucket><Key>${xml(upload.key)}</Key><UploadId>${xml(uploadId)}</UploadId>` +
        `<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${last}</NextPartNumberMarker>` +
        `<MaxParts>${max}</MaxParts><IsTruncated>${truncated}</IsTruncated>` +
        page
          .map(
            ([number, part]) =>
              `<Part><PartNumber>${number}</PartNumber><LastModified>${part.lastModified.toISOString()}</LastModified>` +
              `<ETag>${xml(part.etag)}</ETag><Size>${part.size}</Size></Part>`,
          )
          .join('') +
        `</ListPartsResult>`,
    );
  }

  function forward(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const [, bucket = '', ...keyParts] = url.pathname.split('/');
    const key = decodeURIComponent(keyParts.join('/'));
    const uploadId = url.searchParams.get('uploadId');
    const partNumber = url.searchParams.get('partNumber');
    let sent = 0;
    req.on('data', (chunk: Buffer) => (sent += chunk.length));
    const proxied = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const body: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => body.push(chunk));
        answer.on('end', () => {
          if (answer.statusCode !== 200) return;
          if (req.method === 'POST' && url.searchParams.has('uploads')) {
            const created = /<UploadId>([^<]+)<\/UploadId>/.exec(Buffer.concat(body).toString())?.[1];
            if (created) uploads.set(created, { bucket, key, parts: new Map() });
          } else if (req.method === 'PUT' && uploadId && partNumber) {
            const decoded = req.headers['x-amz-decoded-content-length'];
            uploads.get(uploadId)?.parts.set(Number(partNumber), {
              etag: String(answer.headers.etag ?? ''),
              size: decoded ? Number(decoded) : sent,
              lastModified: new Date(),
            });
          } else if (req.method === 'POST' && uploadId) {
            uploads.delete(uploadId);
          }
        });
        answer.pipe(res);
      },
    );
    proxied.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(proxied);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const uploadId = url.searchParams.get('uploadId');
    if (uploadId && req.method === 'GET') {
      req.resume();
      return listPartsOf(res, uploadId, url.searchParams);
    }
    if (uploadId && req.method === 'DELETE') {
      req.resume();
      if (!uploads.delete(uploadId)) {
        return s3Error(res, 404, 'NoSuchUpload', 'The specified upload does not exist.', uploadId);
      }
      res.writeHead(204);
      return res.end();
    }
    forward(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    listPartsCalls: () => listParts,
    openUploads: () => [...uploads.values()].map((upload) => upload.key),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Issue 5 on S3 (DESIGN.md "Storage and uploads"): with `S3_ENDPOINT` set, tus writes the upload
 * with `@tus/s3-store` (a multipart upload; PATCHes smaller than a part wait in an
 * "incomplete part" object) and frames, thumbnail and contact sheet go to the bucket through
 * the S3 object storage; the session's media are presigned GetObject URLs. Against s3rver on
 * loopback (support/s3-test-server.ts), which also checks the presigned signatures, behind
 * {@link startMultipartProxy} (s3rver has no ListParts). The app's clock is moved by hand for
 * the expiry case.
 */
describe('video pipeline on S3 storage', () => {
  const clock = new FakeClock();
  let s3: S3TestServer;
  let proxy: MultipartProxy;
  let bucket: S3Client;
  let database: TestDatabase;
  let api: TestApp;
  let dataDir: string;
  let owner: SignedIn;
  let storeId: string;

  beforeAll(async () => {
    s3 = await startS3TestServer();
    proxy = await startMultipartProxy(s3.endpoint);
    bucket = new S3Client({
      endpoint: s3.endpoint,
      region: s3.env.S3_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.env.S3_ACCESS_KEY_ID!, secretAccessKey: s3.env.S3_SECRET_ACCESS_KEY! },
    });
    dataDir = mkdtempSync(join(tmpdir(), 'miinventario-video-s3-'));
    database = await createTestDatabase();
    api = await createTestApp(database, {
      listen: true,
      clock,
      env: {
        ...s3.env,
        S3_ENDPOINT: proxy.endpoint,
        DATA_DIR: dataDir,
        UPLOAD_MAX_BYTES: String(50 * 1024 * 1024),
        // 36 s, the smallest value accepted: the expiry case moves the app's clock past it.
        UPLOAD_EXPIRY_HOURS: '0.01',
        QUEUE_BACKOFF_MS: '50',
        SWEEPER_INTERVAL_SECONDS: '3600',
      },
    });
    ({ owner, storeId } = await ownerWithStore(api, 'Abarrotes La Nube', 5));
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await database?.drop();
    bucket?.destroy();
    await proxy?.close();
    await s3?.close();
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

  async function waitFinal(id: string, timeoutMs = 90_000): Promise<{ state: string; failureCode: string | null }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const session = await getSession(id);
      if (session.state === 'READY' || session.state === 'FAILED') return session;
      if (Date.now() > deadline) throw new Error(`session ${id} still ${session.state}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Creates the tus upload of `sessionId` (POST) and sends `body` from offset 0 (one PATCH). */
  async function uploadPart(sessionId: string, length: number, body: Buffer): Promise<{ url: URL; id: string }> {
    const created = await fetch(`${api.baseUrl}/api/v1/uploads`, {
      method: 'POST',
      headers: {
        ...bearer(owner),
        'tus-resumable': '1.0.0',
        'upload-length': String(length),
        'upload-metadata': `sessionId ${Buffer.from(sessionId).toString('base64')},filetype ${Buffer.from('video/mp4').toString('base64')}`,
      },
    });
    expect(created.status, await created.text()).toBe(201);
    const url = new URL(created.headers.get('location')!, api.baseUrl);
    const patched = await fetch(url, {
      method: 'PATCH',
      headers: {
        ...bearer(owner),
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body,
    });
    expect(patched.status, await patched.text()).toBe(204);
    return { url, id: url.pathname.split('/').pop()! };
  }

  /** Keys of the bucket that start with `prefix`. */
  async function keys(prefix: string): Promise<string[]> {
    const listed = await bucket.send(new ListObjectsV2Command({ Bucket: s3.env.S3_BUCKET, Prefix: prefix }));
    return (listed.Contents ?? []).map((item) => item.Key!).sort();
  }

  async function holdRows(sessionId: string): Promise<string[]> {
    const rows = await database.adminQuery<{ type: string }>(
      `SELECT type FROM billing.credit_transactions WHERE reference_id = $1::text ORDER BY seq`,
      [sessionId],
    );
    return rows.map((row) => row.type);
  }

  it('uploads with tus in several PATCHes to the bucket, processes the video to READY and serves its frames from presigned URLs', async () => {
    const original = readFileSync(VIDEO);
    const sessionId = await startSession();

    // Chunks far below the 8 MiB part size: every PATCH but the last goes to the incomplete part.
    const chunkSize = 128 * 1024;
    let uploadUrl = '';
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(original, {
        endpoint: `${api.baseUrl}/api/v1/uploads`,
        headers: bearer(owner),
        metadata: { sessionId, filename: 'shelf-pan.mp4', filetype: 'video/mp4' },
        chunkSize,
        retryDelays: null,
        onError: reject,
        onSuccess: () => {
          uploadUrl = upload.url!;
          resolve();
        },
      });
      upload.start();
    });
    const uploadId = new URL(uploadUrl).pathname.split('/').pop()!;
    // tus learnt the offset from ListParts (S3Store.getUpload) on its requests.
    expect(proxy.listPartsCalls()).toBeGreaterThan(0);
    // S3 calls of this upload: a multipart upload created, the PATCHes before the last kept in the
    // incomplete-part object, then one part (the file is under the part size) and the completion.
    const calls = s3.requests.filter((line) => line.includes(`/${uploadId}`));
    expect(calls.filter((line) => /^POST \S+\?uploads/.test(line))).toHaveLength(1);
    expect(calls.filter((line) => /^PUT \S+\.part\?/.test(line))).toHaveLength(
      Math.ceil(original.length / chunkSize) - 1,
    );
    expect(calls.filter((line) => /^PUT \S+\?partNumber=1&uploadId=/.test(line))).toHaveLength(1);
    expect(calls.filter((line) => /^POST \S+\?uploadId=/.test(line))).toHaveLength(1);

    // The stored object is the file, byte for byte; nothing of the upload was written to DATA_DIR.
    const [video] = await database.adminQuery<{ storage_backend: string; storage_key: string; size_bytes: string }>(
      `SELECT storage_backend, storage_key, size_bytes FROM media.videos WHERE session_id = $1`,
      [sessionId],
    );
    expect(video).toMatchObject({ storage_backend: 's3', storage_key: uploadId, size_bytes: String(original.length) });
    const object = await bucket.send(new GetObjectCommand({ Bucket: s3.env.S3_BUCKET, Key: uploadId }));
    const stored = Buffer.from(await object.Body!.transformToByteArray());
    expect(createHash('sha256').update(stored).digest('hex')).toBe(createHash('sha256').update(original).digest('hex'));
    expect(readdirSync(dataDir)).not.toContain('uploads');

    const final = await waitFinal(sessionId);
    expect(final.state, JSON.stringify(final)).toBe('READY');
    expect(await holdRows(sessionId)).toEqual(['HOLD', 'HOLD_COMMIT']);

    const media = await api.inject({
      method: 'GET',
      url: `/api/v1/inventory-sessions/${sessionId}/media`,
      headers: bearer(owner),
    });
    expect(media.statusCode, media.body).toBe(200);
    const body = media.json();
    expect(body.frames.length).toBeGreaterThan(0);
    // Presigned S3 URLs on the bucket's endpoint (S3_ENDPOINT), served by the S3 server itself.
    for (const url of [body.frames[0].url as string, body.thumbnailUrl as string]) {
      expect(url.startsWith(`${proxy.endpoint}/${s3.env.S3_BUCKET}/`)).toBe(true);
      expect(new URL(url).searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      const frame = await fetch(url);
      expect(frame.status).toBe(200);
      expect(frame.headers.get('content-type')).toMatch(/image\/jpeg/);
      const bytes = Buffer.from(await frame.arrayBuffer());
      expect(bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).toBe(true);
    }
    // A tampered signature is refused.
    const tampered = new URL(body.frames[0].url as string);
    tampered.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    expect((await fetch(tampered)).status).toBe(403);
  }, 180_000);

  it('deletes from the bucket the bytes of an upload that is not a video and of an expired one', async () => {
    // Not a video: the session FAILS and the upload's objects go (5 s after the last PATCH is answered).
    const invalidSession = await startSession();
    const junk = readFileSync(join(dirname(VIDEO), 'random-bytes.mp4'));
    const invalid = await uploadPart(invalidSession, junk.length, junk);
    expect(await getSession(invalidSession)).toMatchObject({ state: 'FAILED', failureCode: 'VIDEO_UNREADABLE' });
    expect(await keys(invalid.id)).toEqual([invalid.id, `${invalid.id}.info`]);

    // Unfinished: half of a video, kept in the incomplete-part object, then the client goes away.
    const original = readFileSync(VIDEO);
    const staleSession = await startSession();
    const stale = await uploadPart(staleSession, original.length, original.subarray(0, 100_000));
    expect(await keys(stale.id)).toEqual([`${stale.id}.info`, `${stale.id}.part`]);
    expect(proxy.openUploads()).toContain(stale.id);
    clock.advance(37);
    const swept = await api.app.get(SessionSweeperService).sweep();
    expect(swept.expiredUploads).toBe(1);
    expect(await getSession(staleSession)).toMatchObject({ state: 'FAILED', failureCode: 'UPLOAD_EXPIRED' });
    expect(await holdRows(staleSession)).toEqual(['HOLD', 'HOLD_VOID']);
    // The multipart upload is aborted and no object of the upload is left.
    expect(proxy.openUploads()).not.toContain(stale.id);
    expect(await keys(stale.id)).toEqual([]);
    expect([404, 410]).toContain(
      (await fetch(stale.url, { method: 'HEAD', headers: { ...bearer(owner), 'tus-resumable': '1.0.0' } })).status,
    );

    const deadline = Date.now() + 30_000;
    while ((await keys(invalid.id)).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(await keys(invalid.id)).toEqual([]);
  }, 120_000);
});
