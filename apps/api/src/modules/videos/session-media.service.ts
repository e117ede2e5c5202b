import { Inject, Injectable } from '@nestjs/common';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../storage/object-storage.port.js';
import type { SessionMediaView } from './session-media.dto.js';
import { VideosRepository } from './videos.repository.js';

/**
 * What a member sees of a session's video (issue 5 "Done when": "see its kept frames"): the
 * probe facts, the kept frames, the thumbnail and the contact sheet, as signed URLs minted only
 * after the caller's access to the session was checked.
 */
@Injectable()
export class SessionMediaService {
  constructor(
    private readonly sessions: InventorySessionService,
    private readonly videos: VideosRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /**
   * @throws NOT_FOUND (404) unknown session, or one of a store the caller is not a member of.
   */
  async forSession(userId: string, sessionId: string): Promise<SessionMediaView> {
    const session = await this.sessions.get(userId, sessionId);
    const video = await this.videos.findBySession(session.id);
    if (!video) {
      return {
        sessionId: session.id,
        video: null,
        framesSampled: null,
        framesKept: null,
        thumbnailUrl: null,
        contactSheetUrl: null,
        frames: [],
      };
    }
    const [all, artifacts] = await Promise.all([
      this.videos.listFrames(video.id, false),
      this.videos.listArtifacts(video.id),
    ]);
    const kept = all.filter((frame) => frame.kept && frame.storage_key);
    const url = (key: string | undefined) => (key ? this.storage.signedUrl(key) : Promise.resolve(null));
    return {
      sessionId: session.id,
      video: {
        status: video.status,
        sizeBytes: video.size_bytes === null ? null : Number(video.size_bytes),
        container: video.container,
        videoCodec: video.video_codec,
        durationMs: video.duration_ms,
        width: video.width,
        height: video.height,
        rotation: video.rotation,
      },
      framesSampled: all.length > 0 ? all.length : null,
      framesKept: all.length > 0 ? kept.length : null,
      thumbnailUrl: await url(artifacts.find((artifact) => artifact.kind === 'THUMBNAIL')?.storage_key),
      contactSheetUrl: await url(artifacts.find((artifact) => artifact.kind === 'CONTACT_SHEET')?.storage_key),
      frames: await Promise.all(
        kept.map(async (frame) => ({
          id: frame.id,
          index: frame.frame_index,
          timestampMs: frame.timestamp_ms,
          width: frame.width,
          height: frame.height,
          sharpness: frame.sharpness,
          url: await this.storage.signedUrl(frame.storage_key!),
        })),
      ),
    };
  }
}
