import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { defaultMediaTools } from './ffmpeg-binaries.js';
import { MediaToolError, VideoRejectedError, type VideoRejectionCode } from './media-errors.js';
import { runTool } from './media-process.js';

/** The parts of `ffprobe -show_format -show_streams -show_error -of json` this module reads. */
export interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: {
    filename?: string;
    format_name?: string;
    format_long_name?: string;
    start_time?: string;
    duration?: string;
    size?: string;
    bit_rate?: string;
    probe_score?: number;
    tags?: Record<string, string>;
  };
  error?: { code: number; string: string };
}

/** One stream of {@link FfprobeOutput}. */
export interface FfprobeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  start_time?: string;
  duration?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
}

/** Quarter turns a player applies to show a video upright, clockwise degrees. */
export type VideoRotation = 0 | 90 | 180 | 270;

/** What ffprobe says about a video file, normalised (stored in `media.videos`). */
export interface VideoProbe {
  /**
   * Normalised container: `mp4`, `mov`, `3gp`, `3g2`, `m4a`, `mj2`, `heif` (ISO-BMFF family, by
   * major brand), `webm` or `mkv` (Matroska family, by EBML DocType), `image` (a still picture),
   * else ffprobe's first format name (`avi`, `mpegts`, `flv`, `mp3`…). See {@link normalizeContainer}.
   */
  container: string;
  /** ffprobe's `format_name`, e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`. */
  formatName: string;
  /** Duration, milliseconds (container duration; else the video stream's; else from its packets). */
  durationMs: number;
  /** Where {@link durationMs} came from. */
  durationSource: 'container' | 'stream' | 'packets';
  /** Width as displayed (after rotation and sample aspect ratio), pixels. */
  width: number;
  /** Height as displayed (after rotation), pixels. */
  height: number;
  /** Width of the decoded pictures, before rotation, pixels. */
  codedWidth: number;
  /** Height of the decoded pictures, before rotation, pixels. */
  codedHeight: number;
  /** Clockwise quarter turn to show it upright: from the stream's display matrix, else its `rotate` tag. */
  rotation: VideoRotation;
  /** Codec of the first video stream (`h264`, `hevc`, `vp9`, `av1`…). */
  videoCodec: string;
  /** Average frames per second of the video stream; null when ffprobe does not know it. */
  fps: number | null;
  hasAudio: boolean;
  /** File size, bytes. */
  sizeBytes: number;
  /** ffprobe's JSON as it printed it. */
  raw: FfprobeOutput;
}

/** What frame extraction needs of a probe (`extractFrames`' `probe` option). */
export type ExtractionProbe = Pick<VideoProbe, 'formatName' | 'durationMs' | 'width' | 'height' | 'rotation'>;

/**
 * The extraction fields of a probe stored as JSON (`media.videos.probe`, written at validation),
 * or null when `value` does not hold them all, well formed (then the file is probed again).
 */
export function storedExtractionProbe(value: unknown): ExtractionProbe | null {
  if (typeof value !== 'object' || value === null) return null;
  const { formatName, durationMs, width, height, rotation } = value as Record<string, unknown>;
  const positive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
  if (typeof formatName !== 'string' || formatName.length === 0 || !positive(durationMs)) return null;
  if (!positive(width) || !positive(height) || !Number.isInteger(width) || !Number.isInteger(height)) return null;
  if (rotation !== 0 && rotation !== 90 && rotation !== 180 && rotation !== 270) return null;
  return { formatName, durationMs, width, height, rotation };
}

/** Limits of {@link probeVideo}. */
export interface ProbeOptions {
  /** ffprobe binary; default the npm one ({@link defaultMediaTools}). */
  ffprobePath?: string;
  /** Per ffprobe run, milliseconds (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The validation rules of issue 5 "Validation" (from `UPLOAD_ALLOWED_CONTAINERS`, `VIDEO_MIN/MAX_SECONDS`). */
export interface VideoRules {
  /** Normalised container names accepted (see {@link VideoProbe.container}), e.g. mp4, mov, webm, 3gp. */
  allowedContainers: readonly string[];
  /** Shortest accepted duration, seconds (inclusive). */
  minSeconds: number;
  /** Longest accepted duration, seconds (inclusive). */
  maxSeconds: number;
}

/** Outcome of {@link validateVideo}. */
export type VideoValidation =
  | { ok: true; probe: VideoProbe }
  | { ok: false; failureCode: VideoRejectionCode; detail: string; probe: VideoProbe | null };

const DEFAULT_PROBE_TIMEOUT_MS = 30_000;
/** FFmpeg's AVPROBE_SCORE_RETRY: a format guessed with less confidence than this is a guess on noise. */
const MIN_PROBE_SCORE = 25;

/**
 * Runs ffprobe on a local file (argument array, no shell; network protocols disabled; time and
 * output bounded) and normalises what it reports.
 *
 * @param path a local file (relative paths are resolved against the working directory).
 * @throws VideoRejectedError VIDEO_EMPTY (0 bytes), VIDEO_UNREADABLE (ffprobe finds no format:
 *   corrupt, truncated, random bytes), UNSUPPORTED_FORMAT (ffprobe cannot read it but its first
 *   bytes are a known non-video type: text, PDF, ZIP/Office, image), NO_VIDEO_STREAM (readable
 *   but no video stream, e.g. audio only; `container` is set).
 * @throws MediaToolError when the file does not exist, ffprobe cannot run, times out or prints
 *   unparsable output (retryable: not the file's fault).
 */
export async function probeVideo(path: string, options: ProbeOptions = {}): Promise<VideoProbe> {
  const file = resolve(path);
  let sizeBytes: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error(`${file} is not a regular file`);
    sizeBytes = info.size;
  } catch (error) {
    throw new MediaToolError(`cannot read the video file: ${(error as Error).message}`, null, '', { cause: error });
  }
  if (sizeBytes === 0) throw new VideoRejectedError('VIDEO_EMPTY', 'The file is empty (0 bytes).');

  const ffprobe = options.ffprobePath ?? defaultMediaTools().ffprobePath;
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const result = await runTool(
    ffprobe,
    [
      '-hide_banner',
      '-v',
      'error',
      // Local files only: a crafted playlist must not make the server fetch URLs.
      '-protocol_whitelist',
      'file',
      '-print_format',
      'json',
      '-show_format',
      '-show_streams',
      '-show_error',
      `file:${file}`,
    ],
    { timeoutMs, signal: options.signal },
  );
  let raw: FfprobeOutput;
  try {
    raw = JSON.parse(result.stdout.toString('utf8') || '{}') as FfprobeOutput;
  } catch (error) {
    throw new MediaToolError('ffprobe printed output that is not JSON', result.exitCode, result.stderr, {
      cause: error,
    });
  }

  const format = raw.format;
  if (result.exitCode !== 0 || raw.error || !format?.format_name) {
    const reason = raw.error?.string ?? (result.stderr.trim() || `ffprobe exited with code ${result.exitCode}`);
    const kind = await sniffNonVideo(file);
    if (kind) {
      throw new VideoRejectedError(
        'UNSUPPORTED_FORMAT',
        `The file is ${kind.description}, not a video.`,
        kind.container,
      );
    }
    throw new VideoRejectedError('VIDEO_UNREADABLE', `ffprobe cannot read the file: ${reason}`);
  }
  if (typeof format.probe_score === 'number' && format.probe_score < MIN_PROBE_SCORE) {
    throw new VideoRejectedError(
      'VIDEO_UNREADABLE',
      `The data matches no known format (ffprobe guessed ${format.format_name} with score ${format.probe_score}/100).`,
    );
  }

  const docType = format.format_name.split(',').includes('matroska') ? await readEbmlDocType(file) : null;
  const container = normalizeContainer(format.format_name, format.tags?.major_brand, docType);
  const streams = raw.streams ?? [];
  const video = streams.find(
    (stream) => stream.codec_type === 'video' && stream.disposition?.attached_pic !== 1 && (stream.width ?? 0) > 0,
  );
  if (!video) {
    throw new VideoRejectedError(
      'NO_VIDEO_STREAM',
      `The file (${container}) has no video stream` +
        (streams.length ? ` (streams: ${streams.map((s) => s.codec_type ?? '?').join(', ')}).` : '.'),
      container,
    );
  }

  const rotation = readRotation(video);
  const codedWidth = video.width ?? 0;
  const codedHeight = video.height ?? 0;
  const sar = parseRatio(video.sample_aspect_ratio, ':');
  // Square-pixel width of the picture, then the display rotation.
  const squareWidth = sar && sar > 0 ? Math.round(codedWidth * sar) : codedWidth;
  const quarter = rotation === 90 || rotation === 270;

  let durationSource: VideoProbe['durationSource'] = 'container';
  let seconds = positive(format.duration);
  if (seconds === null) {
    durationSource = 'stream';
    seconds = positive(video.duration);
  }
  if (seconds === null) {
    durationSource = 'packets';
    seconds = await durationFromPackets(ffprobe, file, timeoutMs, options.signal);
  }

  return {
    container,
    formatName: format.format_name,
    durationMs: Math.round(seconds * 1000),
    durationSource,
    width: quarter ? codedHeight : squareWidth,
    height: quarter ? squareWidth : codedHeight,
    codedWidth,
    codedHeight,
    rotation,
    videoCodec: video.codec_name ?? 'unknown',
    fps: roundFps(parseRatio(video.avg_frame_rate, '/') ?? parseRatio(video.r_frame_rate, '/')),
    hasAudio: streams.some((stream) => stream.codec_type === 'audio'),
    sizeBytes,
    raw,
  };
}

/**
 * Checks an uploaded video against the rules of issue 5 "Validation" (DESIGN.md: container,
 * codec, duration), in this order (the first failing rule wins): VIDEO_EMPTY, VIDEO_UNREADABLE,
 * UNSUPPORTED_FORMAT (container not in `allowedContainers`, or a non-video file),
 * NO_VIDEO_STREAM, VIDEO_TOO_SHORT (< minSeconds), VIDEO_TOO_LONG (> maxSeconds), then the first
 * picture is decoded with ffmpeg: UNSUPPORTED_FORMAT when it has no decoder for the codec,
 * VIDEO_UNREADABLE when the picture data is damaged. Codes are `FAILURE_CODES` of
 * `inventory/session-state.ts`.
 *
 * Bad input is a result (`ok: false`), never an exception.
 *
 * @throws MediaToolError when ffprobe or ffmpeg cannot run (see {@link probeVideo}); retryable.
 */
export async function validateVideo(
  path: string,
  rules: VideoRules,
  options: ValidateOptions = {},
): Promise<VideoValidation> {
  let probe: VideoProbe;
  try {
    probe = await probeVideo(path, options);
  } catch (error) {
    if (!(error instanceof VideoRejectedError)) throw error;
    if (
      error.failureCode === 'NO_VIDEO_STREAM' &&
      error.container !== null &&
      !rules.allowedContainers.includes(error.container)
    ) {
      return { ok: false, failureCode: 'UNSUPPORTED_FORMAT', detail: unsupported(error.container, rules), probe: null };
    }
    return { ok: false, failureCode: error.failureCode, detail: error.detail, probe: null };
  }
  if (!rules.allowedContainers.includes(probe.container)) {
    return { ok: false, failureCode: 'UNSUPPORTED_FORMAT', detail: unsupported(probe.container, rules), probe };
  }
  const seconds = probe.durationMs / 1000;
  if (seconds < rules.minSeconds) {
    return {
      ok: false,
      failureCode: 'VIDEO_TOO_SHORT',
      detail: `The video lasts ${seconds.toFixed(1)} s; the minimum is ${rules.minSeconds} s.`,
      probe,
    };
  }
  if (seconds > rules.maxSeconds) {
    return {
      ok: false,
      failureCode: 'VIDEO_TOO_LONG',
      detail: `The video lasts ${seconds.toFixed(1)} s; the maximum is ${rules.maxSeconds} s.`,
      probe,
    };
  }
  if (options.checkDecoding !== false) {
    const decoding = await decodeFirstFrame(resolve(path), probe, options);
    if (decoding) return { ...decoding, ok: false, probe };
  }
  return { ok: true, probe };
}

/** Validation options: the probe's, plus the decoding check. */
export interface ValidateOptions extends ProbeOptions {
  /** ffmpeg binary for the decoding check; default the npm one. */
  ffmpegPath?: string;
  /** Decode the first picture with ffmpeg, the decoder extraction uses (default true). */
  checkDecoding?: boolean;
}

/** ffmpeg's messages when it has no decoder for a stream. */
const NO_DECODER = /Decoder \(codec [^)]*\) not found|Unsupported codec|could not find codec parameters/i;

/**
 * Decodes the first picture of the video stream with the ffmpeg that extraction runs (reading at
 * most the first 10 s): the probe reads headers only, so a codec this ffmpeg cannot decode, or
 * damaged picture data behind valid headers, is caught here instead of in the job.
 *
 * @returns null when a picture decodes; else UNSUPPORTED_FORMAT (no decoder for the codec) or
 *   VIDEO_UNREADABLE (no picture could be decoded).
 */
async function decodeFirstFrame(
  path: string,
  probe: VideoProbe,
  options: ValidateOptions,
): Promise<{ failureCode: VideoRejectionCode; detail: string } | null> {
  const demuxer = probe.formatName.split(',')[0];
  const result = await runTool(
    options.ffmpegPath ?? defaultMediaTools().ffmpegPath,
    [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-protocol_whitelist',
      'file',
      '-noautorotate',
      ...(demuxer ? ['-f', demuxer] : []),
      '-t',
      '10',
      '-i',
      `file:${path}`,
      '-map',
      '0:v:0',
      '-frames:v',
      '1',
      // One "stream, dts, pts, duration, size, checksum" line per decoded picture.
      '-f',
      'framecrc',
      '-',
    ],
    { timeoutMs: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, signal: options.signal },
  );
  const pictures = result.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => /^\s*\d+,/.test(line)).length;
  if (result.exitCode === 0 && pictures > 0) return null;
  const reason = result.stderr.trim().split('\n').slice(-3).join(' ') || `ffmpeg exited with code ${result.exitCode}`;
  if (NO_DECODER.test(result.stderr)) {
    return {
      failureCode: 'UNSUPPORTED_FORMAT',
      detail: `The video codec ${probe.videoCodec} cannot be decoded: ${reason}`,
    };
  }
  return { failureCode: 'VIDEO_UNREADABLE', detail: `No picture of the video could be decoded: ${reason}` };
}

function unsupported(container: string, rules: VideoRules): string {
  return `The container ${container} is not accepted (accepted: ${rules.allowedContainers.join(', ')}).`;
}

/**
 * The container name users and configuration speak of, from ffprobe's format name.
 *
 * ffprobe names the whole ISO base media family `mov,mp4,m4a,3gp,3g2,mj2` and Matroska/WebM
 * `matroska,webm`, so the file's own declaration decides:
 * - ISO-BMFF: the `ftyp` major brand (ISO/IEC 14496-12 §4.3; registered brands at mp4ra.org):
 *   `qt` → mov (also no ftyp at all: classic QuickTime); `3gp*`/`3gg*`/`3gr*`/`3gs*`/`3ge*` → 3gp
 *   (3GPP TS 26.244); `3g2*` → 3g2 (3GPP2 C.S0050); `M4A`/`M4B`/`M4P`/`F4A` → m4a (audio);
 *   `heic`/`heix`/`mif1`/`msf1`/`avif`/`avis` → heif (still images); `mjp2`/`mj2s` → mj2; any
 *   other brand (isom, iso2…iso9, mp41, mp42, avc1, M4V, dash, …) → mp4.
 * - Matroska: the EBML header's DocType (RFC 9559 §5.1; WebM uses DocType `webm`) → webm or mkv.
 * - image2 / `*_pipe` image demuxers → image; anything else → ffprobe's first name.
 */
export function normalizeContainer(formatName: string, majorBrand?: string | null, docType?: string | null): string {
  const names = formatName.split(',');
  if (names.includes('mov') || names.includes('mp4')) {
    const brand = (majorBrand ?? '').trim().toLowerCase();
    if (brand === '' || brand === 'qt') return 'mov';
    if (/^3g2/.test(brand)) return '3g2';
    if (/^3g[pgrse]/.test(brand)) return '3gp';
    if (['m4a', 'm4b', 'm4p', 'f4a', 'f4b'].includes(brand)) return 'm4a';
    if (['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1', 'avif', 'avis'].includes(brand)) return 'heif';
    if (brand === 'mjp2' || brand === 'mj2s') return 'mj2';
    return 'mp4';
  }
  if (names.includes('matroska') || names.includes('webm')) {
    return docType?.toLowerCase() === 'webm' ? 'webm' : 'mkv';
  }
  if (names.includes('image2') || names.some((name) => name.endsWith('_pipe'))) return 'image';
  return names[0] ?? formatName;
}

/** Clockwise quarter turn from the display matrix (counter-clockwise degrees) or the legacy `rotate` tag. */
function readRotation(stream: FfprobeStream): VideoRotation {
  const matrix = stream.side_data_list?.find((item) => item.side_data_type === 'Display Matrix');
  let clockwise = 0;
  if (typeof matrix?.rotation === 'number') clockwise = -matrix.rotation;
  else if (stream.tags?.rotate !== undefined && Number.isFinite(Number(stream.tags.rotate)))
    clockwise = Number(stream.tags.rotate);
  const quarter = (((Math.round(clockwise / 90) * 90) % 360) + 360) % 360;
  return quarter as VideoRotation;
}

function parseRatio(value: string | undefined, separator: '/' | ':'): number | null {
  if (!value) return null;
  const [num, den] = value.split(separator).map(Number);
  if (num === undefined || !Number.isFinite(num) || num <= 0) return null;
  if (den === undefined) return num;
  return Number.isFinite(den) && den > 0 ? num / den : null;
}

function roundFps(value: number | null): number | null {
  return value === null ? null : Math.round(value * 1000) / 1000;
}

function positive(value: string | undefined): number | null {
  if (value === undefined) return null;
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : null;
}

/**
 * Duration of the first video stream from its packet timestamps (no decoding): for files whose
 * header carries no duration, e.g. WebM written live by a browser's MediaRecorder.
 */
async function durationFromPackets(
  ffprobe: string,
  file: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<number> {
  const result = await runTool(
    ffprobe,
    [
      '-v',
      'error',
      '-protocol_whitelist',
      'file',
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=pts_time,duration_time',
      '-of',
      'csv=p=0',
      `file:${file}`,
    ],
    // ~20 bytes a packet: 16 MiB is over 10 hours at 60 fps.
    { timeoutMs, signal, maxStdoutBytes: 16 * 1024 * 1024 },
  );
  if (result.exitCode !== 0) {
    throw new VideoRejectedError('VIDEO_UNREADABLE', `ffprobe cannot read the packets: ${result.stderr.trim()}`);
  }
  let first = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const line of result.stdout.toString('utf8').split('\n')) {
    const [ptsText, durationText] = line.split(',');
    const pts = Number(ptsText);
    if (!ptsText || !Number.isFinite(pts)) continue;
    const duration = Number(durationText);
    first = Math.min(first, pts);
    end = Math.max(end, pts + (Number.isFinite(duration) ? duration : 0));
  }
  if (!Number.isFinite(first) || end <= first) {
    throw new VideoRejectedError('VIDEO_UNREADABLE', 'The video stream has no timed packets.');
  }
  return end - first;
}

/** Reads the DocType of a Matroska file's EBML header (`webm` or `matroska`), null when absent. */
async function readEbmlDocType(file: string): Promise<string | null> {
  const head = await readHead(file, 256);
  // EBML element: ID (1–4 bytes, length from the first byte's leading zeros) + size (vint) + data.
  const readVint = (offset: number, keepMarker: boolean): { value: number; length: number } | null => {
    const first = head[offset];
    if (first === undefined || first === 0) return null;
    const length = Math.clz32(first) - 23; // leading zeros within the byte, plus 1
    if (length > 8 || offset + length > head.length) return null;
    let value = keepMarker ? first : first & (0xff >> length);
    for (let i = 1; i < length; i += 1) value = value * 256 + (head[offset + i] ?? 0);
    return { value, length };
  };
  const id = readVint(0, true);
  if (!id || id.value !== 0x1a45dfa3) return null;
  const size = readVint(id.length, false);
  if (!size) return null;
  let offset = id.length + size.length;
  const end = Math.min(head.length, offset + size.value);
  while (offset < end) {
    const childId = readVint(offset, true);
    if (!childId) return null;
    const childSize = readVint(offset + childId.length, false);
    if (!childSize) return null;
    const dataStart = offset + childId.length + childSize.length;
    if (childId.value === 0x4282) {
      return head
        .subarray(dataStart, Math.min(end, dataStart + childSize.value))
        .toString('latin1')
        .replace(/\0+$/, '');
    }
    offset = dataStart + childSize.value;
  }
  return null;
}

async function readHead(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Names a file ffprobe could not read when its first bytes are a well-known non-video type
 * (so the owner hears "not a video" rather than "damaged video"); null otherwise (then the file
 * counts as a damaged video: VIDEO_UNREADABLE).
 */
async function sniffNonVideo(file: string): Promise<{ container: string; description: string } | null> {
  const head = await readHead(file, 4096);
  const starts = (...bytes: number[]): boolean => bytes.every((byte, i) => head[i] === byte);
  const ascii = (offset: number, text: string): boolean =>
    head.toString('latin1', offset, offset + text.length) === text;
  if (ascii(0, '%PDF-')) return { container: 'pdf', description: 'a PDF document' };
  if (starts(0x50, 0x4b, 0x03, 0x04)) return { container: 'zip', description: 'a ZIP archive (or an Office document)' };
  if (
    starts(0xff, 0xd8, 0xff) ||
    starts(0x89, 0x50, 0x4e, 0x47) ||
    ascii(0, 'GIF8') ||
    (ascii(0, 'RIFF') && ascii(8, 'WEBP'))
  ) {
    return { container: 'image', description: 'an image' };
  }
  if (!head.includes(0)) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head.length === 4096 ? trimPartialUtf8(head) : head);
      return { container: 'text', description: 'a text file' };
    } catch {
      return null;
    }
  }
  return null;
}

/** Drops a UTF-8 sequence cut at the end of a 4 KB read, so valid text is not misjudged. */
function trimPartialUtf8(buffer: Buffer): Buffer {
  const end = buffer.length;
  for (let back = 1; back <= 3 && end - back >= 0; back += 1) {
    const byte = buffer[end - back] ?? 0;
    if ((byte & 0xc0) === 0xc0) return buffer.subarray(0, end - back); // a lead byte: cut before it
    if ((byte & 0x80) === 0) break; // ASCII: nothing cut
  }
  return buffer;
}
