import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { makeContactSheet, makeThumbnail, type ContactSheetOptions, type ImageArtifact } from './artifacts.js';
import { resolveMediaTools, type MediaTools } from './ffmpeg-binaries.js';
import { extractFrames, type ExtractedFrame, type LumaFrame } from './frame-extractor.js';
import {
  measureFrames,
  measureGreyPixels,
  selectFrames,
  type FrameDecision,
  type FrameMeasure,
  type SelectableFrame,
} from './frame-selector.js';
import {
  probeVideo,
  validateVideo,
  type ExtractionProbe,
  type VideoProbe,
  type VideoValidation,
} from './video-probe.js';

/**
 * The media steps of the video pipeline with the configuration applied (issue 5 "Validation",
 * "Frame extraction and selection"; DESIGN.md "Video pipeline"). Stateless; the Nest-free
 * functions behind it are exported by `media/index.ts` for scripts and benchmarks.
 *
 * Configuration: FFMPEG_PATH / FFPROBE_PATH (else the npm binaries), UPLOAD_ALLOWED_CONTAINERS,
 * VIDEO_MIN_SECONDS, VIDEO_MAX_SECONDS, FRAME_SAMPLE_FPS, FRAME_MAX_SIDE_PX, FRAME_BLUR_THRESHOLD,
 * FRAME_DUPLICATE_MAX_DISTANCE, FRAME_MAX_PER_MINUTE.
 */
@Injectable()
export class MediaProcessingService {
  private resolvedTools: MediaTools | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** ffmpeg and ffprobe paths, resolved on first use (the API boots even where they are missing). */
  get tools(): MediaTools {
    this.resolvedTools ??= resolveMediaTools(this.config);
    return this.resolvedTools;
  }

  /**
   * What ffprobe says about a local video file (see `probeVideo`).
   *
   * @throws VideoRejectedError VIDEO_EMPTY | VIDEO_UNREADABLE | UNSUPPORTED_FORMAT | NO_VIDEO_STREAM.
   * @throws MediaToolError when ffprobe cannot run (retryable).
   */
  probe(path: string, options: { signal?: AbortSignal } = {}): Promise<VideoProbe> {
    return probeVideo(path, { ffprobePath: this.tools.ffprobePath, signal: options.signal });
  }

  /**
   * Validates an uploaded video: `{ ok: true, probe }`, or `{ ok: false, failureCode, detail, probe }`
   * with VIDEO_EMPTY, VIDEO_UNREADABLE, UNSUPPORTED_FORMAT (not in UPLOAD_ALLOWED_CONTAINERS, or
   * not a video), NO_VIDEO_STREAM, VIDEO_TOO_SHORT (< VIDEO_MIN_SECONDS), VIDEO_TOO_LONG
   * (> VIDEO_MAX_SECONDS); last, the first picture is decoded with ffmpeg (no decoder for the
   * codec: UNSUPPORTED_FORMAT; damaged picture data: VIDEO_UNREADABLE). Bad input is a result,
   * never an exception.
   *
   * @throws MediaToolError when ffprobe or ffmpeg cannot run (retryable).
   */
  validate(path: string, options: { signal?: AbortSignal } = {}): Promise<VideoValidation> {
    return validateVideo(
      path,
      {
        allowedContainers: this.config.UPLOAD_ALLOWED_CONTAINERS,
        minSeconds: this.config.VIDEO_MIN_SECONDS,
        maxSeconds: this.config.VIDEO_MAX_SECONDS,
      },
      { ffprobePath: this.tools.ffprobePath, ffmpegPath: this.tools.ffmpegPath, signal: options.signal },
    );
  }

  /**
   * Samples FRAME_SAMPLE_FPS upright JPEG frames per second (long side ≤ FRAME_MAX_SIDE_PX) into
   * `outDir`, in time order. Pass the validation's `probe` to skip probing again, and `onLuma` to
   * receive each frame's greyscale pixels while ffmpeg is still decoding (see `extractFrames`).
   *
   * @throws VideoRejectedError when the probe run here rejects the file.
   * @throws MediaToolError when ffmpeg fails (retryable); the error of `onLuma` when it fails.
   */
  extract(
    path: string,
    outDir: string,
    options: {
      probe?: ExtractionProbe;
      signal?: AbortSignal;
      onLuma?: (frame: LumaFrame) => void | Promise<void>;
    } = {},
  ): Promise<ExtractedFrame[]> {
    return extractFrames(path, outDir, {
      fps: this.config.FRAME_SAMPLE_FPS,
      maxSidePx: this.config.FRAME_MAX_SIDE_PX,
      probe: options.probe,
      signal: options.signal,
      onLuma: options.onLuma,
      ffmpegPath: this.tools.ffmpegPath,
      ffprobePath: this.tools.ffprobePath,
    });
  }

  /** Sharpness and perceptual hash of every frame, in order, each frame's other fields kept. */
  measure<T extends { path: string }>(frames: readonly T[]): Promise<(T & FrameMeasure)[]> {
    return measureFrames(frames);
  }

  /**
   * Sharpness and perceptual hash of one frame from its measuring copy's pixels (as `extract`'s
   * `onLuma` streams them: grey, long side 512 px), the same as `measure` from the file.
   *
   * @throws RangeError when `data` holds fewer than width × height bytes.
   */
  measureCopy(copy: { data: Uint8Array; width: number; height: number }): Promise<FrameMeasure> {
    return measureGreyPixels(copy.data, copy.width, copy.height);
  }

  /**
   * Keeps the sharp, distinct frames (FRAME_BLUR_THRESHOLD, FRAME_DUPLICATE_MAX_DISTANCE) and caps
   * them per minute: one decision per frame, in the given order (see `selectFrames`).
   *
   * @param options.durationMs the video's duration, milliseconds.
   * @param options.maxPerMinute default FRAME_MAX_PER_MINUTE (meant for paid cloud providers); null
   *   for no cap (e.g. the offline barcode provider).
   */
  select(
    frames: readonly SelectableFrame[],
    options: { durationMs: number; maxPerMinute?: number | null },
  ): FrameDecision[] {
    return selectFrames(frames, {
      blurThreshold: this.config.FRAME_BLUR_THRESHOLD,
      duplicateMaxDistance: this.config.FRAME_DUPLICATE_MAX_DISTANCE,
      maxPerMinute: options.maxPerMinute === undefined ? this.config.FRAME_MAX_PER_MINUTE : options.maxPerMinute,
      durationMs: options.durationMs,
    });
  }

  /** JPEG thumbnail of a frame (long side ≤ 320 px) with its size in pixels. */
  thumbnail(framePath: string): Promise<ImageArtifact> {
    return makeThumbnail(framePath);
  }

  /** JPEG grid of the given frames (5 per row, 256 px tiles by default) with its size in pixels. */
  contactSheet(framePaths: readonly string[], options: ContactSheetOptions = {}): Promise<ImageArtifact> {
    return makeContactSheet(framePaths, options);
  }
}
