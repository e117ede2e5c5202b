import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { TransactionService } from '../../database/transaction.service.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import type { FailureCode } from '../inventory/session-state.js';
import type { LumaFrame } from '../media/frame-extractor.js';
import type { FrameMeasure } from '../media/frame-selector.js';
import { MediaProcessingService } from '../media/media-processing.service.js';
import { storedExtractionProbe } from '../media/video-probe.js';
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
  /** `performance.now()` when the job started (the session's `processing_ms` is measured from it). */
  startedAt: number;
}

/**
 * Wall-clock milliseconds of each step of one `process-session` job, in order; their sum is the
 * job's time (issue 6 benchmark: "processing time … split by step"). Logged at info with the
 * message `session processed` (see {@link VideoPipelineService.process}).
 */
export interface PipelineStepTimings {
  /** ffmpeg sampling the video into frames. */
  extract: number;
  /** Sharpness and perceptual hash measured, frames selected. */
  select: number;
  /** Kept frames, thumbnail and contact sheet stored, frame rows written. */
  store: number;
  /** The vision provider on the frames it is given. */
  detect: number;
  /** Fusion of the detections across frames. */
  fuse: number;
  /** Evidence frames stored, catalogue matching, and the report transaction (lines, COGS, READY). */
  write: number;
}

/** The steps the analysis times (see {@link PipelineStepTimings}). */
export type AnalysisTimings = Pick<PipelineStepTimings, 'detect' | 'fuse' | 'write'>;

/**
 * The step after extraction (issue 6: vision provider, fusion, report, READY), registered by the
 * analysis module. `start` is called once per job before extraction (it picks the provider);
 * the returned {@link SessionAnalysis} gets the frames.
 */
export interface SessionAnalyzer {
  start(sessionId: string): Promise<SessionAnalysis>;
}

/** One job's analysis, started before extraction (see {@link SessionAnalyzer}). */
export interface SessionAnalysis {
  /**
   * Set when the active provider reads pixels on this machine (the offline barcode provider):
   * the pipeline hands it every sampled frame's greyscale pixels as ffmpeg produces them, before
   * selection, so reading overlaps decoding; a returned promise holds the next frame back.
   */
  readonly onFrame: ((frame: LumaFrame) => Promise<void> | void) | null;
  /** Turns the extracted frames into the report; must leave the session READY or throw. */
  analyze(session: ExtractedSession, onProgress: (percent: number) => Promise<void>): Promise<AnalysisTimings>;
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
 *
 * Speed (issue 6 benchmark, bench/pipeline.md): the probe stored at validation is reused (no
 * second ffprobe); with the offline barcode provider, ffmpeg also streams each sampled frame's
 * greyscale pixels and measuring copy, so the codes are read and the frames measured while the
 * video is still decoding, and selection follows extraction at once. Each job logs one
 * `session processed` info line with its wall-clock milliseconds per step
 * ({@link PipelineStepTimings}: extract, select, store, detect, fuse, write; `totalMs`) and frame
 * counts; the session's `processing_ms` holds the same total.
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
      return video ? { session, video, probe: storedExtractionProbe(await this.videos.findProbe(video.id)) } : null;
    });
    if (!start) return;
    const { session, video, probe } = start;
    const startedAt = performance.now();
    let mark = startedAt;
    /** Milliseconds since the previous call (the step that just ended). */
    const lap = (): number => {
      const now = performance.now();
      const elapsed = now - mark;
      mark = now;
      return elapsed;
    };
    if (!this.analyzer) throw new Error('no analysis step is registered');
    const directory = await mkdtemp(join(tmpdir(), `miinventario-${sessionId}-`));
    // The sweeper's sign of life: the current progress, re-reported at least every third of
    // SWEEPER_STUCK_MINUTES (at most every 30 s) however long a step takes, so a slow step is
    // never mistaken for a dead worker.
    let current = 0;
    let lost = false;
    const heartbeatMs = Math.max(200, Math.min(30_000, (this.config.SWEEPER_STUCK_MINUTES * 60_000) / 3));
    const heartbeat = setInterval(() => {
      this.sessions
        .reportProgress(sessionId, current)
        .then((alive) => {
          if (!alive) lost = true;
        })
        .catch((error: unknown) => this.logger.warn({ err: error, sessionId }, 'heartbeat failed'));
    }, heartbeatMs);
    heartbeat.unref();
    try {
      const progress = async (percent: number) => {
        current = percent;
        if (lost || !(await this.sessions.reportProgress(sessionId, percent))) throw new SessionLostError(sessionId);
      };
      await progress(1);
      const analysis = await this.analyzer.start(sessionId);
      // When the provider takes frames during extraction, each frame is also measured as it
      // arrives (from its streamed measuring copy), so selection can follow extraction at once.
      const early = new Map<number, Promise<FrameMeasure>>();
      const { onFrame } = analysis;
      const onLuma = onFrame
        ? (frame: LumaFrame) => {
            if (frame.measureCopy) {
              const measure = this.media.measureCopy(frame.measureCopy);
              // Awaited after extraction; a failure there falls back to measuring the files.
              measure.catch(() => undefined);
              early.set(frame.index, measure);
            }
            return onFrame(frame);
          }
        : undefined;
      const extracted = await this.intake.withLocalVideo(video, (path) =>
        this.media.extract(path, join(directory, 'frames'), { probe: probe ?? undefined, onLuma }),
      );
      if (extracted.length === 0) throw new PipelineFailure('NO_USABLE_FRAMES', 'ffmpeg produced no frame');
      // A truncated or damaged file can pass the probe (its header names the full duration) and
      // decode only a part: counting that part would charge for a partial inventory.
      const lastMs = extracted[extracted.length - 1]!.timestampMs;
      if (video.duration_ms && lastMs < video.duration_ms - Math.max(2000, video.duration_ms * 0.1)) {
        throw new PipelineFailure(
          'VIDEO_UNREADABLE',
          `the video is truncated or damaged: frames stop at ${(lastMs / 1000).toFixed(1)} s of ${(video.duration_ms / 1000).toFixed(1)} s`,
        );
      }
      const extractMs = lap();
      await progress(10);
      const measured = await this.measureAll(extracted, early);
      await progress(30);
      const durationMs = video.duration_ms ?? extracted[extracted.length - 1]!.timestampMs + 1;
      const decisions = this.media.select(measured, { durationMs });
      const selectMs = lap();
      const kept = decisions.filter((decision) => decision.kept);
      if (kept.length === 0) {
        throw new PipelineFailure('NO_USABLE_FRAMES', `all ${decisions.length} sampled frames were blurred`);
      }
      const prefix = `stores/${session.storeId}/sessions/${sessionId}`;
      // Re-runs overwrite the same keys; stale frames of an earlier run are removed first.
      await this.storage.deletePrefix(`${prefix}/frames/`);
      // The thumbnail and contact sheet are drawn (sharp's threads) while the kept frames are copied.
      const artifactsStored = this.storeArtifacts(
        prefix,
        kept.map((decision) => measured[decisions.indexOf(decision)]!),
      );
      artifactsStored.catch(() => undefined);
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
      const artifacts = await artifactsStored;
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
      const byIndex = new Map(measured.map((frame) => [frame.index, frame.path]));
      const storeMs = lap();
      const analyzed = await analysis.analyze(
        {
          sessionId,
          storeId: session.storeId,
          video,
          directory,
          frames: frameRows.map((row) => ({ row, path: byIndex.get(row.frame_index)! })),
          durationMs,
          startedAt,
        },
        progress,
      );
      const steps: PipelineStepTimings = { extract: extractMs, select: selectMs, store: storeMs, ...analyzed };
      this.logger.log(
        {
          sessionId,
          totalMs: Math.round(performance.now() - startedAt),
          steps: Object.fromEntries(Object.entries(steps).map(([step, ms]) => [step, Math.round(ms)])),
          videoMs: durationMs,
          framesSampled: rows.length,
          framesKept: kept.length,
          framesReadDuringExtraction: onFrame ? extracted.length : 0,
        },
        'session processed',
      );
    } finally {
      clearInterval(heartbeat);
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

  /**
   * Measures of every frame, in order: those taken during extraction when there is one for each
   * frame, else measured now from the files (the measuring copies, or the JPEGs).
   */
  private async measureAll<T extends { index: number; path: string; greyPath: string | null }>(
    frames: readonly T[],
    early: ReadonlyMap<number, Promise<FrameMeasure>>,
  ): Promise<(T & FrameMeasure)[]> {
    if (frames.every((frame) => early.has(frame.index))) {
      try {
        return await Promise.all(frames.map(async (frame) => ({ ...frame, ...(await early.get(frame.index)!) })));
      } catch (error) {
        this.logger.warn({ err: error }, 'measuring during extraction failed; measuring the files');
      }
    }
    return this.media.measure(frames);
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
