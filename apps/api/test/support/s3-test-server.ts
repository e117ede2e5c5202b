import { randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import S3rver from 's3rver';

/** The only credentials s3rver knows. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';
const REGION = 'us-east-1';

/** A real S3-compatible server on loopback (s3rver over a temporary folder). */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** The `S3_*` variables that point the API at it (bucket name unique per server). */
  env: Record<string, string>;
  /** `METHOD /path?query` of every request received, oldest first (to check which S3 calls a client made). */
  requests: string[];
  /** Stops the server and removes its folder. */
  close(): Promise<void>;
}

type PresignRequest = Parameters<S3RequestPresigner['presign']>[0];

/** `20240101T000000Z` → Date. */
function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match;
  return new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
}

/**
 * Starts s3rver 3.7 on an ephemeral loopback port. s3rver checks the expiry of SigV4
 * presigned URLs but not their signature ("Signature version 4 calculation is
 * unimplemented", lib/middleware/authentication.js), so a tampered URL would be served.
 * The server in front of it checks the `X-Amz-Signature` of presigned requests as S3 does
 * (recomputed with the SDK's own SigV4 presigner from the request's method, host, path and
 * query) and answers 403 SignatureDoesNotMatch on a mismatch; other requests go straight to
 * s3rver.
 */
export async function startS3TestServer(): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'miinventario-s3-'));
  const s3rver = new S3rver({ silent: true, directory, vhostBuckets: false });
  const handle = s3rver.callback();
  const credentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };
  const hashing = new S3Client({ region: REGION, credentials });
  const presigner = new S3RequestPresigner({ credentials, region: REGION, sha256: hashing.config.sha256 });

  async function signatureMatches(request: IncomingMessage): Promise<boolean> {
    const url = new URL(request.url ?? '/', `http://${request.headers.host}`);
    const provided = url.searchParams.get('X-Amz-Signature');
    if (provided === null) return true;
    const signingDate = parseAmzDate(url.searchParams.get('X-Amz-Date') ?? '');
    const expiresIn = Number(url.searchParams.get('X-Amz-Expires'));
    if (!signingDate || !Number.isInteger(expiresIn)) return false;
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) {
      if (name === 'X-Amz-Signature') continue;
      if (name in query) return false;
      query[name] = value;
    }
    const toSign: PresignRequest = {
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers: { host: request.headers.host ?? '' },
    };
    const expected = (await presigner.presign(toSign, { signingDate, expiresIn })).query?.['X-Amz-Signature'];
    return (
      typeof expected === 'string' &&
      expected.length === provided.length &&
      timingSafeEqual(Buffer.from(expected), Buffer.from(provided))
    );
  }

  const requests: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push(`${request.method} ${request.url}`);
    signatureMatches(request).then(
      (matches) => {
        if (matches) return handle(request, response);
        response.writeHead(403, { 'content-type': 'application/xml' });
        response.end(
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
            '<Message>The request signature we calculated does not match the signature you provided.</Message></Error>',
        );
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(String(error));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    env: {
      S3_ENDPOINT: endpoint,
      S3_REGION: REGION,
      S3_BUCKET: `test-${randomUUID().slice(0, 8)}`,
      S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      S3_FORCE_PATH_STYLE: 'true',
    },
    requests,
    async close() {
      hashing.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(directory, { recursive: true, force: true });
    },
  };
}
