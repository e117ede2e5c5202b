import { Module } from '@nestjs/common';
import { MediaProcessingService } from './media-processing.service.js';

/**
 * Media: ffprobe validation, ffmpeg frame extraction, frame measuring and selection, thumbnails
 * and contact sheets (issue 5). No database, no HTTP: processing of local files for the videos
 * module's intake and pipeline. Exports its service only (CONVENTIONS #2); uses the global
 * APP_CONFIG.
 */
@Module({
  providers: [MediaProcessingService],
  exports: [MediaProcessingService],
})
export class MediaModule {}
