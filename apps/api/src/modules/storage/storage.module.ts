import { Global, Module } from '@nestjs/common';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { LocalObjectStorage } from './local-object.storage.js';
import { OBJECT_STORAGE, type ObjectStorage } from './object-storage.port.js';
import { ObjectsController } from './objects.controller.js';
import { S3ObjectStorage } from './s3-object.storage.js';

/**
 * The adapter the configuration chooses: S3 when `S3_ENDPOINT` is set (its bucket checked,
 * or created, before the app starts), the local filesystem under `${DATA_DIR}/objects`
 * otherwise (DESIGN.md "Storage and uploads").
 */
export async function createObjectStorage(config: AppConfig, clock: Clock): Promise<ObjectStorage> {
  if (!config.S3_ENDPOINT) return new LocalObjectStorage(config, clock);
  const storage = new S3ObjectStorage(config, clock);
  await storage.ensureBucket();
  return storage;
}

/**
 * Object storage (issue 5): provides {@link OBJECT_STORAGE} to every module (global) and
 * the signed-URL route of the local adapter (`/api/v1/objects/*`, see ObjectsController).
 * Inject with `@Inject(OBJECT_STORAGE) storage: ObjectStorage`.
 */
@Global()
@Module({
  controllers: [ObjectsController],
  providers: [
    {
      provide: OBJECT_STORAGE,
      inject: [APP_CONFIG, CLOCK],
      useFactory: (config: AppConfig, clock: Clock) => createObjectStorage(config, clock),
    },
  ],
  exports: [OBJECT_STORAGE],
})
export class StorageModule {}
