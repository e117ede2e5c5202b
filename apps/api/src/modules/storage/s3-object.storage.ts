import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { OnApplicationShutdown } from '@nestjs/common';
import type { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/env.schema.js';
import { assertValidObjectKey, assertValidObjectPrefix, attachmentDisposition } from './object-key.js';
import {
  ObjectNotFoundException,
  resolveTtlSeconds,
  type ObjectStat,
  type ObjectStorage,
  type SignedUrlOptions,
} from './object-storage.port.js';

/** Part size of multipart uploads, bytes (S3 minimum 5 MiB; at most 10 000 parts → 80 GB objects). */
export const S3_PART_SIZE_BYTES = 8 * 1024 * 1024;
/** Parts uploaded at once; memory held by one upload is at most this × {@link S3_PART_SIZE_BYTES}. */
export const S3_UPLOAD_QUEUE_SIZE = 4;

/** True when an AWS SDK error means "no such key / bucket" (404), whatever the operation named it. */
function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return (
    error.name === 'NoSuchKey' ||
    error.name === 'NotFound' ||
    error.name === 'NoSuchBucket' ||
    error.$metadata?.httpStatusCode === 404
  );
}

/**
 * The S3 connection settings of {@link AppConfig} as `S3Client` options. Path-style
 * addressing (`S3_FORCE_PATH_STYLE`, default on) is what MinIO needs. Checksums are only
 * sent where an operation requires one (`WHEN_REQUIRED`): S3-compatible servers (MinIO
 * releases before 2025, s3rver, Ceph) reject or mangle the CRC32 trailers the SDK sends
 * by default since 3.729; AWS accepts both.
 */
export function s3ClientOptions(
  config: Pick<
    AppConfig,
    'S3_ENDPOINT' | 'S3_REGION' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'S3_FORCE_PATH_STYLE'
  >,
): S3ClientConfig {
  return {
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials:
      config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
        : undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

/**
 * {@link ObjectStorage} on S3 or an S3-compatible server (MinIO), `@aws-sdk/client-s3`, with
 * the bucket, endpoint, region, credentials and path style of the `S3_*` configuration.
 * Files and streams upload through `@aws-sdk/lib-storage`'s `Upload`: one PutObject up to
 * {@link S3_PART_SIZE_BYTES}, a multipart upload above (aborted on failure, so a failed
 * upload leaves no object and no orphaned parts). Signed URLs are SigV4 presigned GetObject
 * URLs (`@aws-sdk/s3-request-presigner`), signed at the injected clock's time.
 *
 * The presigned URL names `S3_ENDPOINT`'s host: it must be reachable by the phones and
 * browsers that load it.
 */
export class S3ObjectStorage implements ObjectStorage, OnApplicationShutdown {
  readonly backend = 's3' as const;
  readonly bucket: string;
  private readonly client: S3Client;

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.bucket = config.S3_BUCKET;
    this.client = new S3Client(s3ClientOptions(config));
  }

  /**
   * Makes sure the bucket exists (HeadBucket; CreateBucket when it is missing), at startup.
   * Outside us-east-1 the bucket is created in `S3_REGION` (LocationConstraint).
   *
   * @throws Error naming the bucket and endpoint (the SDK's error as `cause`) when the server is
   *   unreachable or the credentials may not use the bucket (403).
   */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (!isNotFound(error)) {
        const status = (error as S3ServiceException).$metadata?.httpStatusCode;
        throw new Error(
          `S3 bucket ${this.bucket} at ${this.config.S3_ENDPOINT} cannot be used: ${(error as Error).name}` +
            `${status ? ` (HTTP ${status}; check S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY and the bucket policy)` : ''}`,
          { cause: error },
        );
      }
    }
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          CreateBucketConfiguration:
            this.config.S3_REGION === 'us-east-1' ? undefined : { LocationConstraint: this.config.S3_REGION as never },
        }),
      );
    } catch (error) {
      // Another replica created it meanwhile.
      if (!(error instanceof S3ServiceException && error.name === 'BucketAlreadyOwnedByYou')) throw error;
    }
  }

  async putFile(key: string, localPath: string, contentType: string): Promise<void> {
    assertValidObjectKey(key);
    const body = createReadStream(localPath);
    // Open first, so a missing file fails before any request (and with the fs error).
    await new Promise<void>((resolveOpen, rejectOpen) => {
      body.once('open', () => resolveOpen());
      body.once('error', rejectOpen);
    });
    await this.upload(key, body, contentType);
  }

  async putBuffer(key: string, body: Buffer | Uint8Array, contentType: string): Promise<void> {
    assertValidObjectKey(key);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }

  async putStream(key: string, body: Readable, contentType: string): Promise<void> {
    assertValidObjectKey(key);
    await this.upload(key, body, contentType);
  }

  async getStream(key: string): Promise<Readable> {
    assertValidObjectKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = output.Body;
      if (body instanceof Readable) return body;
      if (body && 'transformToWebStream' in body) {
        return Readable.fromWeb(body.transformToWebStream() as Parameters<typeof Readable.fromWeb>[0]);
      }
      throw new Error(`GetObject ${key} returned no body`);
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundException(key);
      throw error;
    }
  }

  async downloadToFile(key: string, localPath: string): Promise<void> {
    const source = await this.getStream(key);
    const target = resolve(localPath);
    await mkdir(dirname(target), { recursive: true });
    const temporary = join(dirname(target), `.${basename(target)}.${randomUUID()}.part`);
    try {
      await pipeline(source, createWriteStream(temporary, { flags: 'wx' }));
      await rename(temporary, target);
    } catch (error) {
      source.destroy();
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async stat(key: string): Promise<ObjectStat | null> {
    assertValidObjectKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        sizeBytes: head.ContentLength ?? 0,
        contentType: head.ContentType ?? 'application/octet-stream',
      };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidObjectKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /**
   * Lists the prefix page by page (ListObjectsV2, 1000 keys) and deletes each page with one
   * DeleteObjects call (Content-MD5, which S3 documents as required and MinIO enforces).
   *
   * @throws Error naming the first key S3 refused to delete.
   */
  async deletePrefix(prefix: string): Promise<number> {
    assertValidObjectPrefix(prefix);
    let removed = 0;
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: continuationToken }),
      );
      const keys = (page.Contents ?? []).flatMap((item) => (item.Key ? [{ Key: item.Key }] : []));
      if (keys.length > 0) {
        const result = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: keys, Quiet: true },
            ChecksumAlgorithm: 'MD5',
          }),
        );
        const failure = result.Errors?.[0];
        if (failure) throw new Error(`S3 refused to delete ${failure.Key}: ${failure.Code} ${failure.Message}`);
        removed += keys.length;
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return removed;
  }

  async signedUrl(key: string, options: SignedUrlOptions = {}): Promise<string> {
    assertValidObjectKey(key);
    const ttl = resolveTtlSeconds(options.ttlSeconds, this.config.OBJECT_URL_TTL_SECONDS);
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseCacheControl: `private, max-age=${ttl}`,
      ResponseContentDisposition:
        options.downloadName === undefined ? undefined : attachmentDisposition(options.downloadName),
    });
    return getSignedUrl(this.client, command, { expiresIn: ttl, signingDate: this.clock.now() });
  }

  /** Closes the client's sockets. */
  onApplicationShutdown(): void {
    this.client.destroy();
  }

  private async upload(key: string, body: Readable, contentType: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
      partSize: S3_PART_SIZE_BYTES,
      queueSize: S3_UPLOAD_QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      throw error;
    }
  }
}
