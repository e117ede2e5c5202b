import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { FileStore } from '@tus/file-store';
import { S3Store } from '@tus/s3-store';
import type { DataStore } from '@tus/utils';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';

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

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const expirationPeriodInMilliseconds = Math.round(config.UPLOAD_EXPIRY_HOURS * 3600 * 1000);
    if (config.S3_ENDPOINT) {
      this.directory = null;
      this.datastore = new S3Store({
        partSize: 8 * 1024 * 1024,
        expirationPeriodInMilliseconds,
        s3ClientConfig: {
          bucket: config.S3_BUCKET,
          region: config.S3_REGION,
          endpoint: config.S3_ENDPOINT,
          forcePathStyle: config.S3_FORCE_PATH_STYLE,
          credentials: { accessKeyId: config.S3_ACCESS_KEY_ID!, secretAccessKey: config.S3_SECRET_ACCESS_KEY! },
        },
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

  /** Deletes the bytes and tus bookkeeping of an upload; an absent upload is ignored. */
  async remove(uploadId: string): Promise<void> {
    try {
      await this.datastore.remove(uploadId);
    } catch (error) {
      this.logger.debug({ err: error, uploadId }, 'upload already gone');
    }
  }
}
