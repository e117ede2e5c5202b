import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** Lifecycle of an upload (`media.videos.status`). */
export type VideoStatus = 'PENDING' | 'UPLOADING' | 'UPLOADED' | 'VALID' | 'INVALID' | 'EXPIRED' | 'DELETED';

/** A row of `media.videos` (the columns this module reads). Sizes in bytes, duration in ms. */
export interface VideoRow {
  id: string;
  store_id: string;
  session_id: string;
  created_by: string | null;
  upload_id: string | null;
  status: VideoStatus;
  storage_backend: 'local' | 's3' | null;
  storage_key: string | null;
  original_filename: string | null;
  content_type: string | null;
  size_bytes: string | null;
  uploaded_bytes: string;
  container: string | null;
  video_codec: string | null;
  duration_ms: number | null;
  width: number | null;
  height: number | null;
  rotation: number | null;
  fps: number | null;
  upload_expires_at: Date | null;
  upload_completed_at: Date | null;
  validated_at: Date | null;
  created_at: Date;
}

const VIDEO_COLUMNS = `id, store_id, session_id, created_by, upload_id, status, storage_backend, storage_key,
  original_filename, content_type, size_bytes, uploaded_bytes, container, video_codec, duration_ms, width, height,
  rotation, fps, upload_expires_at, upload_completed_at, validated_at, created_at`;

/** A row of `media.frames`. */
export interface FrameRow {
  id: string;
  store_id: string;
  video_id: string;
  frame_index: number;
  timestamp_ms: number;
  storage_key: string | null;
  width: number | null;
  height: number | null;
  sharpness: number | null;
  phash: string | null;
  kept: boolean;
  rejected_reason: 'BLUR' | 'DUPLICATE' | 'CAP' | null;
}

/** A row of `media.video_artifacts`. */
export interface ArtifactRow {
  id: string;
  video_id: string;
  kind: 'THUMBNAIL' | 'CONTACT_SHEET' | 'FRAME' | 'OTHER';
  storage_key: string;
  content_type: string | null;
  size_bytes: string | null;
  width: number | null;
  height: number | null;
}

/** A frame to insert (see {@link VideosRepository.replaceFrames}). */
export interface NewFrame {
  index: number;
  timestampMs: number;
  storageKey: string | null;
  width: number;
  height: number;
  sharpness: number;
  phash: string;
  kept: boolean;
  rejectedReason: 'BLUR' | 'DUPLICATE' | 'CAP' | null;
}

/** An artifact to insert. */
export interface NewArtifact {
  kind: ArtifactRow['kind'];
  storageKey: string;
  contentType: string;
  sizeBytes: number;
  width: number | null;
  height: number | null;
  metadata?: Record<string, unknown>;
}

/**
 * SQL of `media.videos`, `media.frames` and `media.video_artifacts`. Runs in the caller's
 * transaction: members see the rows of their stores (row-level security); the upload hooks and
 * the pipeline write as SYSTEM.
 */
@Injectable()
export class VideosRepository {
  constructor(private readonly transactions: TransactionService) {}

  /**
   * Inserts the video of a session (one per session: `session_id` is UNIQUE) in status
   * UPLOADING. Returns null when the session already has one (nothing written).
   */
  async insertUploading(input: {
    storeId: string;
    sessionId: string;
    createdBy: string;
    uploadId: string;
    storageBackend: 'local' | 's3';
    storageKey: string;
    originalFilename: string | null;
    contentType: string | null;
    sizeBytes: number;
    expiresAt: Date;
  }): Promise<VideoRow | null> {
    const rows = (await this.transactions.query(
      `INSERT INTO media.videos (store_id, session_id, created_by, upload_id, status, storage_backend, storage_key,
                                 original_filename, content_type, size_bytes, upload_expires_at)
       VALUES ($1, $2, $3, $4, 'UPLOADING', $5, $6, $7, $8, $9, $10)
       ON CONFLICT (session_id) DO NOTHING
       RETURNING ${VIDEO_COLUMNS}`,
      [
        input.storeId,
        input.sessionId,
        input.createdBy,
        input.uploadId,
        input.storageBackend,
        input.storageKey,
        input.originalFilename,
        input.contentType,
        input.sizeBytes,
        input.expiresAt,
      ],
    )) as VideoRow[];
    return rows[0] ?? null;
  }

  /** The video with tus upload id `uploadId`, if visible to the caller. */
  async findByUploadId(uploadId: string): Promise<VideoRow | null> {
    const rows = (await this.transactions.query(`SELECT ${VIDEO_COLUMNS} FROM media.videos WHERE upload_id = $1`, [
      uploadId,
    ])) as VideoRow[];
    return rows[0] ?? null;
  }

  /** The video of session `sessionId`, if any and visible. */
  async findBySession(sessionId: string): Promise<VideoRow | null> {
    const rows = (await this.transactions.query(`SELECT ${VIDEO_COLUMNS} FROM media.videos WHERE session_id = $1`, [
      sessionId,
    ])) as VideoRow[];
    return rows[0] ?? null;
  }

  /** What ffprobe read at validation (`media.videos.probe`, JSON), or null. */
  async findProbe(videoId: string): Promise<unknown> {
    const rows = (await this.transactions.query(`SELECT probe FROM media.videos WHERE id = $1`, [videoId])) as {
      probe: unknown;
    }[];
    return rows[0]?.probe ?? null;
  }

  /** Marks an UPLOADING video UPLOADED with its final size; false when it was not UPLOADING. */
  async markUploaded(id: string, sizeBytes: number, at: Date): Promise<boolean> {
    const rows = await this.transactions.query(
      `UPDATE media.videos SET status = 'UPLOADED', uploaded_bytes = $2, size_bytes = $2, upload_completed_at = $3
        WHERE id = $1 AND status = 'UPLOADING' RETURNING id`,
      [id, sizeBytes, at],
    );
    return rows.length === 1;
  }

  /** Records what ffprobe read and the verdict (VALID or INVALID). */
  async recordValidation(
    id: string,
    input: {
      valid: boolean;
      container: string | null;
      videoCodec: string | null;
      durationMs: number | null;
      width: number | null;
      height: number | null;
      rotation: number | null;
      fps: number | null;
      probe: unknown;
      at: Date;
    },
  ): Promise<void> {
    await this.transactions.query(
      `UPDATE media.videos
          SET status = $2, container = $3, video_codec = $4, duration_ms = $5, width = $6, height = $7,
              rotation = $8, fps = $9, probe = $10, validated_at = $11
        WHERE id = $1`,
      [
        id,
        input.valid ? 'VALID' : 'INVALID',
        input.container,
        input.videoCodec,
        input.durationMs,
        input.width,
        input.height,
        input.rotation,
        input.fps,
        JSON.stringify(input.probe ?? null),
        input.at,
      ],
    );
  }

  /** Sets a video's status (EXPIRED, DELETED…). */
  async setStatus(id: string, status: VideoStatus): Promise<void> {
    await this.transactions.query(`UPDATE media.videos SET status = $2 WHERE id = $1`, [id, status]);
  }

  /**
   * Unfinished uploads (PENDING/UPLOADING) whose expiry passed, oldest first, locked
   * `FOR UPDATE SKIP LOCKED` (SYSTEM; two cleaners never take the same one).
   */
  async lockExpiredUploads(now: Date, limit: number): Promise<VideoRow[]> {
    return (await this.transactions.query(
      `SELECT ${VIDEO_COLUMNS} FROM media.videos
        WHERE status IN ('PENDING', 'UPLOADING') AND upload_expires_at < $1
        ORDER BY upload_expires_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      [now, limit],
    )) as VideoRow[];
  }

  /**
   * Replaces the frames and artifacts of a video (a re-run of the pipeline writes the same
   * rows again, never twice): deletes the old ones, inserts the new ones. Returns the frame
   * rows (with ids) in index order.
   */
  async replaceFrames(
    video: { id: string; storeId: string },
    frames: readonly NewFrame[],
    artifacts: readonly NewArtifact[],
  ): Promise<FrameRow[]> {
    await this.transactions.query(`DELETE FROM media.video_artifacts WHERE video_id = $1`, [video.id]);
    await this.transactions.query(`DELETE FROM media.frames WHERE video_id = $1`, [video.id]);
    let inserted: FrameRow[] = [];
    if (frames.length > 0) {
      inserted = (await this.transactions.query(
        `INSERT INTO media.frames (store_id, video_id, frame_index, timestamp_ms, storage_key, width, height,
                                   sharpness, phash, kept, rejected_reason)
         SELECT $1, $2, f.frame_index, f.timestamp_ms, f.storage_key, f.width, f.height, f.sharpness, f.phash,
                f.kept, f.rejected_reason
           FROM jsonb_to_recordset($3::jsonb) AS f(frame_index int, timestamp_ms int, storage_key text, width int,
                height int, sharpness double precision, phash text, kept boolean, rejected_reason text)
         RETURNING id, store_id, video_id, frame_index, timestamp_ms, storage_key, width, height, sharpness, phash,
                   kept, rejected_reason`,
        [
          video.storeId,
          video.id,
          JSON.stringify(
            frames.map((frame) => ({
              frame_index: frame.index,
              timestamp_ms: Math.round(frame.timestampMs),
              storage_key: frame.storageKey,
              width: frame.width,
              height: frame.height,
              sharpness: frame.sharpness,
              phash: frame.phash,
              kept: frame.kept,
              rejected_reason: frame.rejectedReason,
            })),
          ),
        ],
      )) as FrameRow[];
      inserted.sort((a, b) => a.frame_index - b.frame_index);
    }
    for (const artifact of artifacts) {
      await this.transactions.query(
        `INSERT INTO media.video_artifacts (store_id, video_id, kind, storage_key, content_type, size_bytes, width,
                                            height, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          video.storeId,
          video.id,
          artifact.kind,
          artifact.storageKey,
          artifact.contentType,
          artifact.sizeBytes,
          artifact.width,
          artifact.height,
          JSON.stringify(artifact.metadata ?? {}),
        ],
      );
    }
    return inserted;
  }

  /** Frames of a video in index order; `keptOnly` restricts to the kept ones. */
  async listFrames(videoId: string, keptOnly: boolean): Promise<FrameRow[]> {
    return (await this.transactions.query(
      `SELECT id, store_id, video_id, frame_index, timestamp_ms, storage_key, width, height, sharpness, phash, kept,
              rejected_reason
         FROM media.frames WHERE video_id = $1 AND ($2::boolean IS FALSE OR kept)
        ORDER BY frame_index`,
      [videoId, keptOnly],
    )) as FrameRow[];
  }

  /** Artifacts (thumbnail, contact sheet) of a video. */
  async listArtifacts(videoId: string): Promise<ArtifactRow[]> {
    return (await this.transactions.query(
      `SELECT id, video_id, kind, storage_key, content_type, size_bytes, width, height
         FROM media.video_artifacts WHERE video_id = $1 ORDER BY kind, created_at`,
      [videoId],
    )) as ArtifactRow[];
  }
}
