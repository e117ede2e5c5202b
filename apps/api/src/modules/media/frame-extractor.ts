import { mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultMediaTools } from './ffmpeg-binaries.js';
import { MediaToolError } from './media-errors.js';
import { runTool } from './media-process.js';
import { MEASURE_SIZE_PX } from './frame-selector.js';
import { probeVideo, type ExtractionProbe, type VideoProbe } from './video-probe.js';

/** One frame written by {@link extractFrames}: a JPEG on local disk. */
export interface ExtractedFrame {
  /** Position in the sampled sequence, 0-based, in time order (`media.frames.frame_index`). */
  index: number;
  /** Time of the frame in the video, milliseconds from its start. */
  timestampMs: number;
  /** Absolute path of the JPEG. */
  path: string;
  /** Pixels, upright (rotation applied). */
  width: number;
  height: number;
  /**
   * Absolute path of the frame's measuring copy: the same picture, greyscale, long side
   * {@link MEASURE_SIZE_PX}, as a binary PGM (P5), taken from the frame before JPEG compression;
   * `measureFrames` reads it instead of decoding the JPEG. Null when not written (none asked for,
   * or streamed to `onLuma` instead).
   */
  greyPath: string | null;
}

/**
 * A sampled frame's pixels as 8-bit grey levels (the luma of the frame, before JPEG compression),
 * row-major, `width × height` bytes, handed to {@link ExtractOptions.onLuma} while ffmpeg runs.
 */
export interface LumaFrame {
  /** Same as the {@link ExtractedFrame.index} of the frame's JPEG. */
  index: number;
  /** Pixels, upright (rotation applied): the JPEG's size. */
  width: number;
  height: number;
  data: Buffer;
  /**
   * The frame's measuring copy (see {@link ExtractedFrame.greyPath}: greyscale, long side
   * {@link MEASURE_SIZE_PX}, row-major, `width × height` bytes), streamed with the frame instead of
   * written to a file; null when `measureCopies` is off.
   */
  measureCopy: { width: number; height: number; data: Buffer } | null;
}

/** Options of {@link extractFrames}. */
export interface ExtractOptions {
  /** Frames per second to sample (`FRAME_SAMPLE_FPS`, default 2). */
  fps?: number;
  /** Longest side of a frame, pixels (`FRAME_MAX_SIDE_PX`, default 1280); never upscaled. */
  maxSidePx?: number;
  /** What {@link probeVideo} said about the file (or its stored fields); probed again when absent. */
  probe?: ExtractionProbe;
  /** Also write each frame's greyscale measuring copy (default true; see {@link ExtractedFrame.greyPath}). */
  measureCopies?: boolean;
  /** JPEG quality as ffmpeg's `-q:v` (2 best … 31 worst; default 3). */
  jpegQuality?: number;
  /**
   * Called with each sampled frame's full-size greyscale pixels, in order, as soon as ffmpeg has
   * produced it (the same process writes them to a pipe besides the JPEGs), so that reading and
   * measuring the frames can overlap the decoding of the video; the measuring copies then come
   * with them ({@link LumaFrame.measureCopy}) and no PGM file is written. While a promise it
   * returns is pending, ffmpeg is held back (at most one frame is buffered here). An error it
   * throws fails the extraction.
   */
  onLuma?: (frame: LumaFrame) => void | Promise<void>;
  /** ffmpeg decoding threads (0 = one per core, the default). */
  threads?: number;
  /** Default: 60 s plus 3 × the video's duration. */
  timeoutMs?: number;
  ffmpegPath?: string;
  ffprobePath?: string;
  signal?: AbortSignal;
}

/** Frame file names: `frame-<pts>.jpg` / `grey-<pts>.pgm`, pts counted in 1/fps units by the fps filter. */
const FRAME_PATTERN = /^frame-(\d+)\.jpg$/;

/**
 * Samples a video into JPEG frames on disk with one ffmpeg process (issue 5 "Frame extraction
 * and selection"): `fps` frames per second, upright, long side ≤ `maxSidePx`, never upscaled.
 * Frames stream to `outDir`; the video is never held in memory.
 *
 * Timestamps are exact: the fps filter rounds up (`round=up`), so frame n is the picture on
 * screen at n / fps s (the last decoded frame whose time is ≤ n / fps), and `start_time=0` makes
 * frame 0 the first picture even when another stream starts earlier.
 *
 * Speed (bench/frames.md): decoding is nearly the whole cost, so everything else happens on the
 * sampled frames only. The probe's rotation replaces ffmpeg's autorotate (which would transpose
 * every decoded frame before the fps filter) with a transpose after it; the scale runs on sampled
 * frames; the demuxer ffprobe identified is forced (no second format probe); the output size is
 * computed from the probe (no frame is re-read to learn it); and the same process writes the
 * small greyscale copies the selection measures, so measuring decodes no JPEG.
 *
 * @param outDir created if missing; should be empty (files named `frame-<n>.jpg` are read back).
 * @returns the frames in time order; timestamps are multiples of 1000 / fps ms.
 * @throws RangeError for fps outside (0, 120] or maxSidePx < 16.
 * @throws VideoRejectedError when the probe (run here if `options.probe` is absent) rejects the file.
 * @throws MediaToolError when ffmpeg fails (decode error, timeout, abort, missing binary).
 */
export async function extractFrames(
  videoPath: string,
  outDir: string,
  options: ExtractOptions = {},
): Promise<ExtractedFrame[]> {
  const fps = options.fps ?? 2;
  const maxSidePx = options.maxSidePx ?? 1280;
  if (!(fps > 0 && fps <= 120)) throw new RangeError(`fps must be in (0, 120], got ${fps}`);
  if (!(Number.isInteger(maxSidePx) && maxSidePx >= 16)) {
    throw new RangeError(`maxSidePx must be an integer ≥ 16, got ${maxSidePx}`);
  }
  const file = resolve(videoPath);
  const directory = resolve(outDir);
  const probe: ExtractionProbe =
    options.probe ?? (await probeVideo(file, { ffprobePath: options.ffprobePath, signal: options.signal }));
  const size = outputSize(probe.width, probe.height, maxSidePx);
  // The scale works on the stored (unrotated) picture: swap the target for quarter turns.
  const quarter = probe.rotation === 90 || probe.rotation === 270;
  const frameChain = [
    `fps=fps=${fps}:round=up:start_time=0`,
    `scale=${quarter ? size.height : size.width}:${quarter ? size.width : size.height}:flags=bicubic`,
    'setsar=1',
    ...ROTATE_FILTERS[probe.rotation],
  ].join(',');
  const measureCopies = options.measureCopies ?? true;
  const grey = measureSize(size.width, size.height);
  const { onLuma } = options;
  // Lanczos from the upright frame, as sharp resizes the JPEG in measureFrame.
  const measureChain = `scale=${grey.width}:${grey.height}:flags=lanczos,format=gray`;
  // With `onLuma`, one raw greyscale stream on stdout: each frame, with its measuring copy
  // stacked under it (both padded to the wider of the two), so the two arrive together.
  const stackWidth = Math.max(size.width, grey.width);
  const stream = !onLuma
    ? null
    : measureCopies
      ? {
          labels: '[l][m]',
          chains:
            `[l]format=gray,pad=${stackWidth}:ih[lp];[m]${measureChain},pad=${stackWidth}:ih[mp];` +
            '[lp][mp]vstack=inputs=2[luma]',
        }
      : { labels: '[l]', chains: '[l]format=gray[luma]' };
  const files = !stream && measureCopies ? { labels: '[m]', chains: `[m]${measureChain}[grey]` } : null;
  const branches = [stream, files].filter((branch) => branch !== null);
  const outputs = branches.reduce((count, branch) => count + (branch.labels.match(/\[/g)?.length ?? 0), 1);
  const graph =
    branches.length === 0
      ? `[0:v:0]${frameChain}[frames]`
      : `[0:v:0]${frameChain},split=${outputs}[frames]${branches.map((branch) => branch.labels).join('')};` +
        branches.map((branch) => branch.chains).join(';');
  await mkdir(directory, { recursive: true });

  const demuxer = probe.formatName.split(',')[0];
  const ffmpeg = options.ffmpegPath ?? defaultMediaTools().ffmpegPath;
  const args = [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-protocol_whitelist',
    'file',
    '-noautorotate',
    '-threads',
    String(options.threads ?? 0),
    ...(demuxer ? ['-f', demuxer] : []),
    '-i',
    `file:${file}`,
    '-filter_complex',
    graph,
    // Write exactly the fps filter's frames, named by their pts (units of 1/fps s).
    '-vsync',
    'passthrough',
    '-map',
    '[frames]',
    '-q:v',
    String(options.jpegQuality ?? 3),
    '-f',
    'image2',
    '-frame_pts',
    '1',
    `file:${join(directory, 'frame-%d.jpg')}`,
    ...(files
      ? ['-map', '[grey]', '-c:v', 'pgm', '-f', 'image2', '-frame_pts', '1', `file:${join(directory, 'grey-%d.pgm')}`]
      : []),
    ...(stream ? ['-map', '[luma]', '-c:v', 'rawvideo', '-f', 'rawvideo', 'pipe:1'] : []),
  ];
  const timeoutMs = options.timeoutMs ?? 60_000 + 3 * probe.durationMs;
  const luma = onLuma ? lumaReader(size, measureCopies ? grey : null, onLuma) : null;
  const result = await runTool(ffmpeg, args, {
    timeoutMs,
    signal: options.signal,
    maxStdoutBytes: 64 * 1024,
    onStdout: luma?.push,
  });
  if (result.exitCode !== 0) {
    throw new MediaToolError(
      `ffmpeg could not extract frames (exit ${result.exitCode})`,
      result.exitCode,
      result.stderr.trim(),
    );
  }

  const names = new Set(await readdir(directory));
  const pts = [...names]
    .map((name) => FRAME_PATTERN.exec(name)?.[1])
    .filter((value): value is string => value !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  if (luma && (luma.frames() !== pts.length || luma.leftover() !== 0)) {
    throw new MediaToolError(
      `ffmpeg wrote ${pts.length} frames but ${luma.frames()} greyscale frames (+${luma.leftover()} bytes)`,
      result.exitCode,
      result.stderr.trim(),
    );
  }
  return pts.map((value, index) => ({
    index,
    timestampMs: Math.max(0, Math.round((value * 1000) / fps)),
    path: join(directory, `frame-${value}.jpg`),
    width: size.width,
    height: size.height,
    greyPath: names.has(`grey-${value}.pgm`) ? join(directory, `grey-${value}.pgm`) : null,
  }));
}

/**
 * Cuts ffmpeg's raw greyscale stream into frames (each `size` with, when `copy` is given, its
 * measuring copy stacked under it, both padded to the wider) and hands them to `onLuma` in
 * order, each image in its own buffer; a promise it returns holds the stream (see runTool's
 * `onStdout`).
 */
function lumaReader(
  size: { width: number; height: number },
  copy: { width: number; height: number } | null,
  onLuma: (frame: LumaFrame) => void | Promise<void>,
): { push: (chunk: Buffer) => void | Promise<void>; frames: () => number; leftover: () => number } {
  const stride = Math.max(size.width, copy?.width ?? 0);
  const frameBytes = stride * (size.height + (copy?.height ?? 0));
  const stacked = Buffer.allocUnsafe(frameBytes);
  let filled = 0;
  let index = 0;
  /** Rows `top`… of the stacked frame, `width` bytes each, into a buffer of their own. */
  const region = (top: number, width: number, height: number): Buffer => {
    if (width === stride) return Buffer.from(stacked.subarray(top * stride, (top + height) * stride));
    const out = Buffer.allocUnsafe(width * height);
    for (let y = 0; y < height; y += 1) stacked.copy(out, y * width, (top + y) * stride, (top + y) * stride + width);
    return out;
  };
  const push = (chunk: Buffer): void | Promise<void> => {
    let offset = 0;
    while (offset < chunk.length) {
      const copied = chunk.copy(stacked, filled, offset);
      filled += copied;
      offset += copied;
      if (filled === frameBytes) {
        const done: LumaFrame = {
          index,
          width: size.width,
          height: size.height,
          data: region(0, size.width, size.height),
          measureCopy: copy ? { ...copy, data: region(size.height, copy.width, copy.height) } : null,
        };
        index += 1;
        filled = 0;
        const pending = onLuma(done);
        if (pending) {
          const rest = chunk.subarray(offset);
          return pending.then(() => (rest.length > 0 ? push(rest) : undefined));
        }
      }
    }
  };
  return { push, frames: () => index, leftover: () => filled };
}

/** Size of the measuring copy: long side MEASURE_SIZE_PX (enlarged if smaller), as sharp's `fit: inside`. */
function measureSize(width: number, height: number): { width: number; height: number } {
  const scale = MEASURE_SIZE_PX / Math.max(width, height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Filters turning a stored picture upright, by clockwise display rotation. */
const ROTATE_FILTERS: Readonly<Record<VideoProbe['rotation'], readonly string[]>> = {
  0: [],
  90: ['transpose=clock'],
  180: ['hflip', 'vflip'],
  270: ['transpose=cclock'],
};

/**
 * Size of a frame whose long side is at most `maxSide`, keeping the aspect ratio, never larger
 * than the source, both sides even (4:2:0 JPEG chroma) and at least 2.
 *
 * @param width displayed width, pixels. @param height displayed height, pixels.
 */
export function outputSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const even = (value: number, limit: number): number => {
    const cap = Math.min(limit, maxSide);
    return Math.max(2, Math.min(cap - (cap % 2), 2 * Math.round((value * scale) / 2)));
  };
  return { width: even(width, width), height: even(height, height) };
}
