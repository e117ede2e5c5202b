import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { FileStore } from '@tus/file-store';
import { S3Store } from '@tus/s3-store';
import type { DataStore } from '@tus/utils';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../storage/object-storage.port.js';
import { s3ClientOptions } from '../storage/s3-object.storage.js';

/**
 * Where tus writes upload bytes (issue 5 "Resumable upload"): `@tus/file-store` under
 * `DATA_DIR/uploads` by default, `@tus/s3-store` in the S3 bucket (object key = upload id) when
 * `S3_ENDPOINT` is set. Incomplete uploads carry an expiry of UPLOAD_EXPIRY_HOURS.
 */
@Injectable()
export class UploadStoreService {
  private readonly logger = new Logger('UploadStore');
  readonly datastore: DataStore;
  /** Directory of the file store; null with S3. */
  private readonly directory: string | null;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(OBJECT_STORAGE) private readonly objects: ObjectStorage,
  ) {
    const expirationPeriodInMilliseconds = Math.round(config.UPLOAD_EXPIRY_HOURS * 3600 * 1000);
    if (config.S3_ENDPOINT) {
      this.directory = null;
      this.datastore = new S3Store({
        partSize: 8 * 1024 * 1024,
        expirationPeriodInMilliseconds,
        // The object storage's client options: path style, and checksums only where required. With
        // the SDK's default, every part and incomplete-part PutObject is sent `aws-chunked` with a
        // CRC32 trailer, which S3-compatible servers that do not decode it (s3rver, MinIO before
        // 2025) store framing and all: offsets then no longer match and every resume gets 409.
        s3ClientConfig: { bucket: config.S3_BUCKET, ...s3ClientOptions(config) },
      });
    } else {
      this.directory = resolve(config.DATA_DIR, 'uploads');
      mkdirSync(this.directory, { recursive: true });
      this.datastore = new FileStore({ directory: this.directory, expirationPeriodInMilliseconds });
    }
  }

  /** Backend holding the bytes (`media.videos.storage_backend`). */
  get backend(): 'local' | 's3' {
    return this.directory ? 'local' : 's3';
  }

  /** `media.videos.storage_key` of an upload: `uploads/{id}` under DATA_DIR, or the bucket key `{id}`. */
  storageKey(uploadId: string): string {
    return this.directory ? `uploads/${uploadId}` : uploadId;
  }

  /** Local path of upload `uploadId` (file store only). */
  localPath(uploadId: string): string {
    if (!this.directory) throw new Error('uploads are not stored on local disk');
    return join(this.directory, uploadId);
  }

  /**
   * Deletes the bytes and tus bookkeeping of an upload, finished or not; an absent upload is
   * ignored. Never throws: a failure is logged (the sweeper and the invalid-upload timer call it).
   *
   * With S3, `@tus/s3-store`'s `remove` aborts an unfinished multipart upload and deletes the
   * object and its `.info`, but it never deletes the incomplete-part object (`.part`, the bytes of
   * PATCHes smaller than a part), and for a finished upload it throws at the abort (S3 answers
   * NoSuchUpload) before deleting anything. So the three objects (`{id}`, `{id}.info`,
   * `{id}.part`; the keys of @tus/s3-store 2.x) are deleted here too, in the same bucket, through
   * the object storage (deleting a missing key is a no-op in S3).
   */
  async remove(uploadId: string): Promise<void> {
    try {
      await this.datastore.remove(uploadId);
    } catch (error) {
      this.logger.debug({ err: error, uploadId }, 'upload already gone');
    }
    if (this.directory) return;
    for (const key of [uploadId, `${uploadId}.info`, `${uploadId}.part`]) {
      try {
        await this.objects.delete(key);
      } catch (error) {
        this.logger.warn({ err: error, uploadId, key }, 'could not delete an object of the upload');
      }
    }
  }
}
