import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { TransactionService } from '../../database/transaction.service.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import type { FailureCode } from '../inventory/session-state.js';
import { MediaProcessingService } from '../media/media-processing.service.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../storage/object-storage.port.js';
import { VideoIntakeService } from './video-intake.service.js';
import {
  VideosRepository,
  type FrameRow,
  type NewArtifact,
  type NewFrame,
  type VideoRow,
} from './videos.repository.js';

/** The frames of a session after extraction and selection, handed to the analysis step. */
export interface ExtractedSession {
  sessionId: string;
  storeId: string;
  video: VideoRow;
  /** Temporary directory holding every sampled frame (removed after the job). */
  directory: string;
  /** Every sampled frame, in order, with its stored row (storage_key set for kept frames). */
  frames: { row: FrameRow; path: string }[];
  durationMs: number;
}

/**
 * The step after extraction (issue 6: vision provider, fusion, report, READY). It receives the
 * frames and must leave the session READY or throw. Registered by the analysis module.
 */
export interface SessionAnalyzer {
  analyze(session: ExtractedSession, onProgress: (percent: number) => Promise<void>): Promise<void>;
}

/** Thrown when the worker lost its session (the sweeper re-queued it, or it ended meanwhile). */
export class SessionLostError extends Error {
  constructor(sessionId: string) {
    super(`inventory session ${sessionId} is no longer PROCESSING here`);
    this.name = 'SessionLostError';
  }
}

/** A failure that no retry can fix; the session FAILS with `failureCode`. */
export class PipelineFailure extends Error {
  constructor(
    readonly failureCode: FailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'PipelineFailure';
  }
}

/**
 * The `process-session` job (issue 5 "Frame extraction and selection"; DESIGN.md "Video
 * pipeline"): QUEUED → PROCESSING, extract frames (ffmpeg, rotation applied, FRAME_SAMPLE_FPS,
 * long side ≤ FRAME_MAX_SIDE_PX), measure sharpness and perceptual hash, keep the sharp and
 * distinct ones (capped at FRAME_MAX_PER_MINUTE per minute of video for paid providers), store
 * the kept frames, a thumbnail and a contact sheet, then run the analysis step.
 *
 * Idempotent per session (the job id is the session id): a re-run replaces the frames and
 * artifacts it wrote before; a session already READY or FAILED is left alone. Progress is
 * reported (10 % extracted, 30 % measured, 40 % stored; the analysis reports the rest) and
 * doubles as the heartbeat the sweeper watches.
 */
@Injectable()
export class VideoPipelineService {
  private readonly logger = new Logger('VideoPipeline');
  private analyzer: SessionAnalyzer | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactions: TransactionService,
    private readonly sessions: InventorySessionService,
    private readonly videos: VideosRepository,
    private readonly media: MediaProcessingService,
    private readonly intake: VideoIntakeService,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /** Plugs in the step that turns frames into a report (the analysis module does, at init). */
  setAnalyzer(analyzer: SessionAnalyzer): void {
    this.analyzer = analyzer;
  }

  /**
   * Runs the job for `sessionId`. Returns quietly when there is nothing to do (unknown, READY,
   * FAILED, or not yet QUEUED).
   *
   * @throws PipelineFailure for bad input (the queue must not retry; the caller FAILS the
   *   session); SessionLostError when the session was taken away; anything else is retryable.
   */
  async process(sessionId: string): Promise<void> {
    const start = await this.transactions.runAsSystem(async () => {
      const session = await this.sessions.getForWorker(sessionId);
      if (!session) return null;
      if (session.state === 'QUEUED') await this.sessions.transition(sessionId, 'PROCESSING');
      else if (session.state !== 'PROCESSING') return null;
      const video = await this.videos.findBySession(sessionId);
      return video ? { session, video } : null;
    });
    if (!start) return;
    const { session, video } = start;
    const directory = await mkdtemp(join(tmpdir(), `miinventario-${sessionId}-`));
    try {
      const progress = async (percent: number) => {
        if (!(await this.sessions.reportProgress(sessionId, percent))) throw new SessionLostError(sessionId);
      };
      await progress(1);
      const extracted = await this.intake.withLocalVideo(video, (path) =>
        this.media.extract(path, join(directory, 'frames')),
      );
      if (extracted.length === 0) throw new PipelineFailure('NO_USABLE_FRAMES', 'ffmpeg produced no frame');
      await progress(10);
      const measured = await this.media.measure(extracted);
      await progress(30);
      const durationMs = video.duration_ms ?? extracted[extracted.length - 1]!.timestampMs + 1;
      const decisions = this.media.select(measured, { durationMs });
      const kept = decisions.filter((decision) => decision.kept);
      if (kept.length === 0) {
        throw new PipelineFailure('NO_USABLE_FRAMES', `all ${decisions.length} sampled frames were blurred`);
      }
      const prefix = `stores/${session.storeId}/sessions/${sessionId}`;
      // Re-runs overwrite the same keys; stale frames of an earlier run are removed first.
      await this.storage.deletePrefix(`${prefix}/frames/`);
      const rows: NewFrame[] = [];
      for (let i = 0; i < decisions.length; i += 1) {
        const decision = decisions[i]!;
        const frame = measured[i]!;
        const storageKey = decision.kept ? `${prefix}/frames/${String(frame.index).padStart(5, '0')}.jpg` : null;
        if (storageKey) await this.storage.putFile(storageKey, frame.path, 'image/jpeg');
        rows.push({
          index: frame.index,
          timestampMs: frame.timestampMs,
          storageKey,
          width: frame.width,
          height: frame.height,
          sharpness: frame.sharpness,
          phash: frame.phash,
          kept: decision.kept,
          rejectedReason: decision.rejectedReason,
        });
      }
      const artifacts = await this.storeArtifacts(
        prefix,
        kept.map((decision) => measured[decisions.indexOf(decision)]!),
      );
      const frameRows = await this.transactions.runAsSystem(async () => {
        const inserted = await this.videos.replaceFrames({ id: video.id, storeId: session.storeId }, rows, artifacts);
        await this.sessions.recordFrameCounts(sessionId, {
          sampled: rows.length,
          kept: kept.length,
          used: kept.length,
        });
        return inserted;
      });
      await progress(40);
      if (!this.analyzer) throw new Error('no analysis step is registered');
      const byIndex = new Map(measured.map((frame) => [frame.index, frame.path]));
      await this.analyzer.analyze(
        {
          sessionId,
          storeId: session.storeId,
          video,
          directory,
          frames: frameRows.map((row) => ({ row, path: byIndex.get(row.frame_index)! })),
          durationMs,
        },
        progress,
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  /**
   * FAILS a session for good (after the last attempt, or a failure no retry can fix), voiding
   * its credit hold once. A session already READY or FAILED is left as it is.
   */
  async fail(sessionId: string, failureCode: FailureCode, detail: string): Promise<void> {
    const session = await this.sessions.getForWorker(sessionId);
    if (!session || session.state === 'READY' || session.state === 'FAILED') return;
    await this.sessions.transition(sessionId, 'FAILED', { failureCode, failureDetail: detail });
  }

  /**
   * A retryable failure: puts a PROCESSING session back to QUEUED so the queue's next attempt
   * (or the sweeper) can take it again.
   */
  async requeueAfterError(sessionId: string): Promise<void> {
    const session = await this.sessions.getForWorker(sessionId);
    if (session?.state === 'PROCESSING') await this.sessions.transition(sessionId, 'QUEUED');
  }

  /** Thumbnail (first kept frame) and contact sheet (every kept frame) of a session. */
  private async storeArtifacts(
    prefix: string,
    kept: readonly { path: string; index: number }[],
  ): Promise<NewArtifact[]> {
    const artifacts: NewArtifact[] = [];
    const thumbnail = await this.media.thumbnail(kept[0]!.path);
    await this.storage.putBuffer(`${prefix}/thumbnail.jpg`, thumbnail.data, 'image/jpeg');
    artifacts.push({
      kind: 'THUMBNAIL',
      storageKey: `${prefix}/thumbnail.jpg`,
      contentType: 'image/jpeg',
      sizeBytes: thumbnail.data.length,
      width: thumbnail.width,
      height: thumbnail.height,
      metadata: { frameIndex: kept[0]!.index },
    });
    const sheet = await this.media.contactSheet(kept.map((frame) => frame.path));
    await this.storage.putBuffer(`${prefix}/contact-sheet.jpg`, sheet.data, 'image/jpeg');
    artifacts.push({
      kind: 'CONTACT_SHEET',
      storageKey: `${prefix}/contact-sheet.jpg`,
      contentType: 'image/jpeg',
      sizeBytes: sheet.data.length,
      width: sheet.width,
      height: sheet.height,
      metadata: { frames: kept.map((frame) => frame.index) },
    });
    return artifacts;
  }
}
