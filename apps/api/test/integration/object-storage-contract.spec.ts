import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import { loadConfig } from '../../src/config/env.schema.js';
import { LOCAL_OBJECT_URL_SECRET_FILE, LocalObjectStorage } from '../../src/modules/storage/local-object.storage.js';
import { InvalidObjectKeyException } from '../../src/modules/storage/object-key.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../../src/modules/storage/object-storage.port.js';
import type { S3ObjectStorage } from '../../src/modules/storage/s3-object.storage.js';
import { createObjectStorage } from '../../src/modules/storage/storage.module.js';
import { FakeClock } from '../support/fake-clock.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-test-server.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** What each adapter run gives the shared suite. */
interface Harness {
  storage: ObjectStorage;
  /** The clock the adapter signs with (and, for local, the serving app checks expiry with). */
  clock: FakeClock;
  /** Name of the query parameter holding the signature in a signed URL. */
  signatureParam: string;
  /** Problem code the server answers a URL with, when it answers problem+json (local). */
  problemCodes: boolean;
  /** Requests the S3 server received (S3 only). */
  s3Requests?: string[];
}

type Setup = () => Harness;

/**
 * Local adapter under a temporary DATA_DIR; its signed URLs are served by the real app
 * (listening on loopback) sharing that DATA_DIR, so the generated signing key is shared
 * through the folder as between the API and worker processes.
 */
const local: Setup = () => {
  const harness = { clock: new FakeClock(), signatureParam: 'signature', problemCodes: true } as Harness;
  let dataDir: string;
  let database: TestDatabase;
  let app: TestApp;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'miinventario-objects-'));
    database = await createTestDatabase();
    app = await createTestApp(database, { listen: true, clock: harness.clock, env: { DATA_DIR: dataDir } });
    expect(app.app.get<ObjectStorage>(OBJECT_STORAGE).backend).toBe('local');
    harness.storage = new LocalObjectStorage({ ...app.config, PUBLIC_URL: app.baseUrl }, harness.clock);
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  return harness;
};

/** S3 adapter against s3rver on loopback; the bucket does not exist before `ensureBucket`. */
const s3: Setup = () => {
  const harness = { clock: new FakeClock(), signatureParam: 'X-Amz-Signature', problemCodes: false } as Harness;
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startS3TestServer();
    const config = loadConfig({ NODE_ENV: 'test', ...server.env });
    // The module's factory: picks S3 because S3_ENDPOINT is set, and creates the bucket.
    harness.storage = await createObjectStorage(config, harness.clock);
    harness.s3Requests = server.requests;
    expect(server.requests.filter((line) => !line.startsWith('HEAD '))).toEqual([`PUT /${config.S3_BUCKET}/`]);
  });
  afterAll(async () => {
    (harness.storage as S3ObjectStorage | undefined)?.onApplicationShutdown();
    await server?.close();
  });
  return harness;
};

/** Code of the DomainException a promise rejects with ('resolved' when it does not reject). */
async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    if (error instanceof DomainException) return `${error.constructor.name}:${error.code}`;
    throw error;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A fresh session prefix, so tests never see each other's objects. */
const sessionPrefix = () => `stores/${randomUUID()}/sessions/${randomUUID()}`;

/** Stands for a JPEG frame: random bytes (the storage never decodes them). */
const jpeg = (size = 2048) => randomBytes(size);

describe.each([
  ['local', local],
  ['s3', s3],
] as const)('object storage contract: %s adapter', (backend, setup) => {
  const harness = setup();

  it('reports its backend', () => {
    expect(harness.storage.backend).toBe(backend);
  });

  it('stores a buffer, reports its size and type, reads it back, and replaces it on a second put', async () => {
    const { storage } = harness;
    const key = `${sessionPrefix()}/frames/000012.jpg`;
    const first = jpeg(3000);
    await storage.putBuffer(key, first, 'image/jpeg');
    expect(await storage.stat(key)).toEqual({ sizeBytes: 3000, contentType: 'image/jpeg' });
    expect((await readAll(await storage.getStream(key))).equals(first)).toBe(true);

    const second = jpeg(10);
    await storage.putBuffer(key, second, 'image/jpeg');
    expect(await storage.stat(key)).toEqual({ sizeBytes: 10, contentType: 'image/jpeg' });
    expect((await readAll(await storage.getStream(key))).equals(second)).toBe(true);
  });

  it('uploads a file and downloads it to a new nested path, leaving no partial file', async () => {
    const { storage } = harness;
    const work = await mkdtemp(join(tmpdir(), 'miinventario-objects-io-'));
    try {
      const source = join(work, 'report.json');
      const content = Buffer.from(JSON.stringify({ items: [{ sku: '7501055300075', quantity: 12 }] }));
      await writeFile(source, content);
      const key = `${sessionPrefix()}/report.json`;
      await storage.putFile(key, source, 'application/json');
      expect(await storage.stat(key)).toEqual({ sizeBytes: content.length, contentType: 'application/json' });

      const target = join(work, 'nested', 'deeper', 'copy.json');
      await storage.downloadToFile(key, target);
      expect((await readFile(target)).equals(content)).toBe(true);
      expect(await readdir(join(work, 'nested', 'deeper'))).toEqual(['copy.json']);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('answers a missing object with null (stat) or 404 NOT_FOUND (read, download); deleting it is no error', async () => {
    const { storage } = harness;
    const key = `${sessionPrefix()}/frames/000001.jpg`;
    const work = await mkdtemp(join(tmpdir(), 'miinventario-objects-io-'));
    try {
      expect(await storage.stat(key)).toBeNull();
      expect(await rejection(storage.getStream(key))).toBe('ObjectNotFoundException:NOT_FOUND');
      expect(await rejection(storage.downloadToFile(key, join(work, 'x.jpg')))).toBe(
        'ObjectNotFoundException:NOT_FOUND',
      );
      expect(await readdir(work)).toEqual([]);
      await storage.delete(key);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('deletes one object', async () => {
    const { storage } = harness;
    const prefix = sessionPrefix();
    await storage.putBuffer(`${prefix}/thumbnail.jpg`, jpeg(), 'image/jpeg');
    await storage.putBuffer(`${prefix}/contact-sheet.jpg`, jpeg(), 'image/jpeg');
    await storage.delete(`${prefix}/thumbnail.jpg`);
    expect(await storage.stat(`${prefix}/thumbnail.jpg`)).toBeNull();
    expect(await storage.stat(`${prefix}/contact-sheet.jpg`)).not.toBeNull();
  });

  it('deletes by prefix with string-prefix semantics, and nothing outside it', async () => {
    const { storage } = harness;
    const prefix = sessionPrefix();
    const other = sessionPrefix();
    const keys = [
      `${prefix}/frames/000001.jpg`,
      `${prefix}/frames/000002.jpg`,
      `${prefix}/frames/sub/000003.jpg`,
      `${prefix}/frames-index.json`,
      `${prefix}/thumbnail.jpg`,
      `${other}/frames/000001.jpg`,
    ];
    for (const key of keys) await storage.putBuffer(key, jpeg(64), 'image/jpeg');

    expect(await storage.deletePrefix(`${prefix}/frames/`)).toBe(3);
    expect(await storage.stat(`${prefix}/frames/000001.jpg`)).toBeNull();
    expect(await storage.stat(`${prefix}/frames/sub/000003.jpg`)).toBeNull();
    expect(await storage.stat(`${prefix}/frames-index.json`)).not.toBeNull();

    expect(await storage.deletePrefix(`${prefix}/frames`)).toBe(1); // frames-index.json
    expect(await storage.deletePrefix(`${prefix}/`)).toBe(1); // thumbnail.jpg
    expect(await storage.deletePrefix(`${prefix}/`)).toBe(0);
    expect(await storage.stat(`${other}/frames/000001.jpg`)).toEqual({ sizeBytes: 64, contentType: 'image/jpeg' });
    // The key space of the emptied session can be written again.
    await storage.putBuffer(`${prefix}/frames/000001.jpg`, jpeg(8), 'image/jpeg');
    expect(await storage.stat(`${prefix}/frames/000001.jpg`)).toEqual({ sizeBytes: 8, contentType: 'image/jpeg' });
  });

  it('round-trips a 20 MB stream generated on the fly (multipart on S3) with an equal SHA-256', async () => {
    const { storage } = harness;
    const key = `${sessionPrefix()}/video.mp4`;
    const written = createHash('sha256');
    const chunkBytes = 1024 * 1024;
    const totalBytes = 20 * chunkBytes;
    async function* generate() {
      for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
        const chunk = randomBytes(chunkBytes);
        written.update(chunk);
        yield chunk;
      }
    }
    const before = harness.s3Requests?.length ?? 0;
    await storage.putStream(key, Readable.from(generate()), 'video/mp4');
    expect(await storage.stat(key)).toEqual({ sizeBytes: totalBytes, contentType: 'video/mp4' });
    if (harness.s3Requests) {
      // 20 MB in 8 MiB parts: a multipart upload of three parts.
      const parts = harness.s3Requests.slice(before).filter((line) => /^PUT .*[?&]partNumber=\d+/.test(line));
      expect(parts).toHaveLength(3);
    }

    const read = createHash('sha256');
    let readBytes = 0;
    for await (const chunk of await storage.getStream(key)) {
      read.update(chunk as Uint8Array);
      readBytes += (chunk as Uint8Array).length;
    }
    expect(readBytes).toBe(totalBytes);
    expect(read.digest('hex')).toBe(written.digest('hex'));
  });

  it('keeps the previous object when a source stream fails mid-way', async () => {
    const { storage } = harness;
    const key = `${sessionPrefix()}/video.mp4`;
    const original = jpeg(100);
    await storage.putBuffer(key, original, 'video/mp4');
    async function* failing() {
      yield randomBytes(64 * 1024);
      throw new Error('connection reset by the phone');
    }
    await expect(storage.putStream(key, Readable.from(failing()), 'video/mp4')).rejects.toThrow(
      'connection reset by the phone',
    );
    expect((await readAll(await storage.getStream(key))).equals(original)).toBe(true);

    const fresh = `${sessionPrefix()}/video.mp4`;
    await expect(storage.putStream(fresh, Readable.from(failing()), 'video/mp4')).rejects.toThrow();
    expect(await storage.stat(fresh)).toBeNull();
  });

  it.each([
    ['parent segment', 'stores/a/../../etc/passwd'],
    ['leading slash', '/stores/a/frame.jpg'],
    ['NUL', 'stores/a\0/frame.jpg'],
    ['empty segment', 'stores//frame.jpg'],
    ['trailing slash', 'stores/a/'],
    ['dot segment', 'stores/./frame.jpg'],
    ['hidden name', 'stores/a/.secret'],
    ['space', 'stores/a/my frame.jpg'],
    ['non-ASCII', 'stores/a/café.jpg'],
    ['backslash', 'stores\\a\\frame.jpg'],
    [
      'too long',
      `stores/${'a'.repeat(200)}/${'b'.repeat(200)}/${'c'.repeat(200)}/${'d'.repeat(200)}/${'e'.repeat(230)}`,
    ],
    ['empty', ''],
  ])('rejects a bad key (%s) in every operation, touching nothing', async (_label, key) => {
    const { storage } = harness;
    const work = await mkdtemp(join(tmpdir(), 'miinventario-objects-io-'));
    try {
      const source = join(work, 'frame.jpg');
      await writeFile(source, jpeg(16));
      const invalid = 'InvalidObjectKeyException:VALIDATION_FAILED';
      expect(await rejection(storage.putBuffer(key, jpeg(16), 'image/jpeg'))).toBe(invalid);
      expect(await rejection(storage.putFile(key, source, 'image/jpeg'))).toBe(invalid);
      const body = Readable.from([jpeg(16)]);
      expect(await rejection(storage.putStream(key, body, 'image/jpeg'))).toBe(invalid);
      expect(await rejection(storage.getStream(key))).toBe(invalid);
      expect(await rejection(storage.downloadToFile(key, join(work, 'out.jpg')))).toBe(invalid);
      expect(await rejection(storage.stat(key))).toBe(invalid);
      expect(await rejection(storage.delete(key))).toBe(invalid);
      expect(await rejection(storage.signedUrl(key))).toBe(invalid);
      expect(await readdir(work)).toEqual(['frame.jpg']);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('rejects an empty or escaping prefix, so nothing deletes the whole bucket', async () => {
    const { storage } = harness;
    const keep = `${sessionPrefix()}/frames/000001.jpg`;
    await storage.putBuffer(keep, jpeg(), 'image/jpeg');
    for (const prefix of ['', '/', '../', 'stores/../', 'stores//']) {
      await expect(storage.deletePrefix(prefix), prefix).rejects.toBeInstanceOf(InvalidObjectKeyException);
    }
    expect(await storage.stat(keep)).not.toBeNull();
  });

  it('refuses a signed URL ttl outside 1 s – 7 days', async () => {
    const key = `${sessionPrefix()}/thumbnail.jpg`;
    for (const ttlSeconds of [0, -5, 1.5, 7 * 86400 + 1]) {
      expect(await rejection(harness.storage.signedUrl(key, { ttlSeconds }))).toBe('DomainException:VALIDATION_FAILED');
    }
  });

  it('mints a signed URL that plain fetch (no token) reads the bytes from', async () => {
    const { storage } = harness;
    const key = `${sessionPrefix()}/frames/000012.jpg`;
    const body = jpeg(5000);
    await storage.putBuffer(key, body, 'image/jpeg');
    const url = await storage.signedUrl(key);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);

    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(response.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
    expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true);
  });

  it('names the download in Content-Disposition when asked (RFC 6266 / 8187)', async () => {
    const { storage } = harness;
    const key = `${sessionPrefix()}/report.pdf`;
    await storage.putBuffer(key, Buffer.from('%PDF-1.7\n%%EOF\n'), 'application/pdf');
    const response = await fetch(await storage.signedUrl(key, { downloadName: 'Inventario café.pdf' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="Inventario caf_.pdf"; filename*=UTF-8''Inventario%20caf%C3%A9.pdf`,
    );
    expect(await response.text()).toBe('%PDF-1.7\n%%EOF\n');
  });

  it('refuses an expired URL', async () => {
    const { storage, clock } = harness;
    const key = `${sessionPrefix()}/thumbnail.jpg`;
    await storage.putBuffer(key, jpeg(), 'image/jpeg');
    clock.advance(-3600); // minted an hour ago, valid for a minute
    const url = await storage.signedUrl(key, { ttlSeconds: 60 });
    clock.advance(3600);
    const response = await fetch(url);
    expect(response.status).toBe(403);
    if (harness.problemCodes) expect(((await response.json()) as { code: string }).code).toBe('OBJECT_URL_EXPIRED');
  });

  it('refuses a URL whose signature, key or download name was changed', async () => {
    const { storage, signatureParam } = harness;
    const prefix = sessionPrefix();
    const mine = `${prefix}/frames/000001.jpg`;
    const theirs = `${prefix}/frames/000002.jpg`;
    await storage.putBuffer(mine, jpeg(), 'image/jpeg');
    await storage.putBuffer(theirs, jpeg(), 'image/jpeg');
    const url = new URL(await storage.signedUrl(mine, { downloadName: 'frame.jpg' }));
    expect((await fetch(url)).status).toBe(200);

    const forgedSignature = new URL(url);
    const signature = forgedSignature.searchParams.get(signatureParam)!;
    const flipped = signature.endsWith('a') ? 'b' : 'a';
    forgedSignature.searchParams.set(signatureParam, `${signature.slice(0, -1)}${flipped}`);
    const otherKey = new URL(url);
    otherKey.pathname = otherKey.pathname.replace('000001.jpg', '000002.jpg');
    const otherName = new URL(url);
    const dispositionParam = harness.problemCodes ? 'download' : 'response-content-disposition';
    otherName.searchParams.set(dispositionParam, 'evil.html');

    for (const forged of [forgedSignature, otherKey, otherName]) {
      const response = await fetch(forged);
      expect({ url: forged.toString(), status: response.status }).toEqual({ url: forged.toString(), status: 403 });
      if (harness.problemCodes) expect(((await response.json()) as { code: string }).code).toBe('OBJECT_URL_INVALID');
      else await response.arrayBuffer();
    }
  });
});

describe('local adapter on disk', () => {
  let dataDir: string;
  const clock = new FakeClock();
  const make = (env: Record<string, string> = {}) =>
    new LocalObjectStorage(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, ...env }), clock);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'miinventario-objects-disk-'));
  });
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps objects under DATA_DIR/objects, leaves no temporary file behind, and prunes emptied folders', async () => {
    const storage = make();
    const prefix = sessionPrefix();
    const body = jpeg(32);
    await storage.putBuffer(`${prefix}/frames/000001.jpg`, body, 'image/jpeg');
    expect((await readFile(join(dataDir, 'objects', ...prefix.split('/'), 'frames', '000001.jpg'))).equals(body)).toBe(
      true,
    );
    async function* failing() {
      yield jpeg(16);
      throw new Error('source failed');
    }
    await expect(storage.putStream(`${prefix}/video.mp4`, Readable.from(failing()), 'video/mp4')).rejects.toThrow();
    expect(await readdir(join(dataDir, 'objects', '.tmp'))).toEqual([]);

    await storage.deletePrefix(`${prefix}/`);
    const store = prefix.split('/').slice(0, 2);
    await expect(stat(join(dataDir, 'objects', ...store))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(join(dataDir, 'objects'))).sort()).toEqual(['.tmp']);
  });

  it('answers 409 CONFLICT for a key whose folder is an object, keeping that object', async () => {
    const storage = make();
    const prefix = sessionPrefix();
    await storage.putBuffer(`${prefix}/frames`, jpeg(8), 'application/octet-stream');
    expect(await rejection(storage.putBuffer(`${prefix}/frames/000001.jpg`, jpeg(8), 'image/jpeg'))).toBe(
      'DomainException:CONFLICT',
    );
    expect(await storage.stat(`${prefix}/frames`)).toEqual({ sizeBytes: 8, contentType: 'application/octet-stream' });
  });

  it('generates the URL signing key once (mode 0600) and shares it through DATA_DIR; OBJECT_URL_SECRET wins', async () => {
    const key = `${sessionPrefix()}/thumbnail.jpg`;
    const first = await make().signedUrl(key);
    const secretFile = join(dataDir, LOCAL_OBJECT_URL_SECRET_FILE);
    expect((await stat(secretFile)).mode & 0o777).toBe(0o600);
    expect(await make().signedUrl(key)).toBe(first);
    const configured = await make({ OBJECT_URL_SECRET: 'x'.repeat(32) }).signedUrl(key);
    expect(new URL(configured).searchParams.get('signature')).not.toBe(new URL(first).searchParams.get('signature'));
    expect(new URL(first).pathname).toBe(`/api/v1/objects/${key}`);
  });
});
