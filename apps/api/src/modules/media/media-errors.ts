import type { FailureCode } from '../inventory/session-state.js';

/** The failure codes a video can be rejected with by validation (a subset of `FAILURE_CODES`). */
export type VideoRejectionCode = Extract<
  FailureCode,
  'VIDEO_EMPTY' | 'VIDEO_UNREADABLE' | 'UNSUPPORTED_FORMAT' | 'NO_VIDEO_STREAM' | 'VIDEO_TOO_SHORT' | 'VIDEO_TOO_LONG'
>;

/**
 * The uploaded file is not a usable video: bad input, final (retrying cannot help). The pipeline
 * FAILS the session with {@link failureCode} (issue 5 "Validation"; codes from
 * `inventory/session-state.ts` FAILURE_CODES).
 */
export class VideoRejectedError extends Error {
  constructor(
    readonly failureCode: VideoRejectionCode,
    /** English detail for logs and admins; owners see a Spanish text chosen by the code. */
    readonly detail: string,
    /** Normalised container when ffprobe identified one (see `normalizeContainer`), else null. */
    readonly container: string | null = null,
  ) {
    super(detail);
    this.name = 'VideoRejectedError';
  }
}

/**
 * ffmpeg/ffprobe could not do its job for a reason that is not the file's fault (binary missing,
 * killed, timed out, too much output, disk full) or the file failed mid-decode. Retryable: the
 * pipeline retries the job and, after its last attempt, FAILS the session with PROCESSING_ERROR.
 */
export class MediaToolError extends Error {
  constructor(
    message: string,
    /** The tool's exit code (null when it did not exit normally). */
    readonly exitCode: number | null = null,
    /** The end of the tool's stderr (at most a few KB). */
    readonly stderr = '',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MediaToolError';
  }
}
