import { Module } from '@nestjs/common';
import { InventoryModule } from '../inventory/inventory.module.js';
import { MediaModule } from '../media/media.module.js';
import { ProcessSessionJob } from './process-session.job.js';
import { SessionMediaController } from './session-media.controller.js';
import { SessionMediaService } from './session-media.service.js';
import { SessionSweeperService } from './session-sweeper.service.js';
import { UploadStoreService } from './upload-store.service.js';
import { UploadsController } from './uploads.controller.js';
import { UploadsService } from './uploads.service.js';
import { VideoIntakeService } from './video-intake.service.js';
import { VideoPipelineService } from './video-pipeline.service.js';
import { VideosRepository } from './videos.repository.js';

/**
 * Videos (DESIGN.md "API modules": videos; issue 5): the tus upload endpoint, validation,
 * the `process-session` job (frame extraction and selection), the sweeper, and a session's
 * media. The queue and object storage are global ports.
 */
@Module({
  imports: [InventoryModule, MediaModule],
  controllers: [UploadsController, SessionMediaController],
  providers: [
    VideosRepository,
    UploadStoreService,
    UploadsService,
    VideoIntakeService,
    VideoPipelineService,
    ProcessSessionJob,
    SessionSweeperService,
    SessionMediaService,
  ],
  exports: [VideoPipelineService, SessionSweeperService, VideosRepository],
})
export class VideosModule {}
