import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { mapWithConcurrency } from './concurrency.js';

/** Sharpness and perceptual hash of one frame (`media.frames.sharpness`, `media.frames.phash`). */
export interface FrameMeasure {
  /**
   * Variance of the Laplacian (4-neighbour kernel [0 1 0; 1 −4 1; 0 1 0], as OpenCV's
   * `Laplacian(ksize=1).var()`) of a greyscale copy resized to {@link MEASURE_SIZE_PX} on its long
   * side; grey levels 0–255, so the unit is grey level². Higher = sharper.
   */
  sharpness: number;
  /** 64-bit DCT perceptual hash, 16 lowercase hex digits (see {@link perceptualHash}). */
  phash: string;
}

/** Why a frame was not kept (`media.frames.rejected_reason`). */
export type FrameRejection = 'BLUR' | 'DUPLICATE' | 'CAP';

/** The decision about one frame, in the order the frames were given. */
export interface FrameDecision {
  kept: boolean;
  rejectedReason: FrameRejection | null;
}

/** What selection needs of a frame. */
export interface SelectableFrame {
  /** Milliseconds from the start of the video. */
  timestampMs: number;
  sharpness: number;
  phash: string;
}

/** Rules of {@link selectFrames} (configuration keys in brackets). */
export interface SelectionOptions {
  /** Sharpness below which a frame is blurred [FRAME_BLUR_THRESHOLD]; see {@link blurCutoff}. */
  blurThreshold: number;
  /** Hash distance (0–64) at or below which two frames are near-duplicates [FRAME_DUPLICATE_MAX_DISTANCE]. */
  duplicateMaxDistance: number;
  /** Most frames kept per minute of video [FRAME_MAX_PER_MINUTE]; null = no cap. */
  maxPerMinute: number | null;
  /** Duration of the video, milliseconds (sets the cap and its time buckets). */
  durationMs: number;
  /** A frame is compared with the kept frames of this many previous milliseconds (default 20 000). */
  duplicateWindowMs?: number;
}

/** Long side, pixels, of the greyscale copy every measure is taken on. */
export const MEASURE_SIZE_PX = 512;

/**
 * Blur rule constants (see {@link blurCutoff}): the video's own reference sharpness is its 75th
 * percentile; a soft video keeps frames down to half of it; nothing below half of the configured
 * threshold is ever kept.
 */
export const BLUR_REFERENCE_PERCENTILE = 0.75;
export const BLUR_RELATIVE_FACTOR = 0.5;
export const BLUR_FLOOR_FACTOR = 0.5;

const DEFAULT_DUPLICATE_WINDOW_MS = 20_000;
const HASH_SIZE = 32;

/**
 * Measures one JPEG (or any image sharp reads): decoded once, resized to {@link MEASURE_SIZE_PX}
 * on its long side (small frames are enlarged, so sharpness is comparable between resolutions)
 * and turned grey; the Laplacian variance and the hash come from that copy.
 *
 * The Laplacian is summed here in floating point rather than with sharp's `convolve` + `stats`:
 * sharp clips a convolution of 8-bit pixels to 0–255 (the negative half of the Laplacian is lost,
 * even with an offset) and `stats()` describes the input image, not the pipeline's output.
 *
 * @throws Error (sharp's) when the file is missing or not an image.
 */
export async function measureFrame(path: string): Promise<FrameMeasure> {
  // Resize first, then convert the small copy to grey: `greyscale()` would convert every pixel
  // of the full frame before the resize (twice the CPU for the same result).
  const { data, info } = await sharp(path)
    .resize(MEASURE_SIZE_PX, MEASURE_SIZE_PX, { fit: 'inside' })
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`expected 1 grey channel, sharp gave ${info.channels}`);
  return measureGrey(data, info.width, info.height);
}

/**
 * Measures a frame's greyscale measuring copy written by `extractFrames` (binary PGM, P5, 8-bit,
 * long side {@link MEASURE_SIZE_PX}): the same measures as {@link measureFrame} without decoding
 * a JPEG. Taken before JPEG compression, its sharpness reads a little higher than
 * `measureFrame` on the JPEG (about +8 % at the default quality, tested).
 *
 * @throws Error when the file is missing or not such a PGM.
 */
export async function measureGreyCopy(path: string): Promise<FrameMeasure> {
  const { data, width, height } = parsePgm(await readFile(path));
  return measureGrey(data, width, height);
}

/**
 * Measures many frames, `concurrency` at a time (default: cores, at most 4; sharp runs each on
 * its own thread pool), keeping the input order and every other field of each frame. A frame
 * with a `greyPath` (from `extractFrames`) is measured from that copy, else from its JPEG; one
 * video's frames all come from the same extraction, so they are measured alike.
 */
export async function measureFrames<T extends { path: string; greyPath?: string | null }>(
  frames: readonly T[],
  options: { concurrency?: number } = {},
): Promise<(T & FrameMeasure)[]> {
  const concurrency = options.concurrency ?? Math.min(4, availableParallelism());
  return mapWithConcurrency(frames, concurrency, async (frame) => ({
    ...frame,
    ...(await (frame.greyPath ? measureGreyCopy(frame.greyPath) : measureFrame(frame.path))),
  }));
}

/**
 * Measures a measuring copy given as pixels (8-bit grey, row-major, `width × height` bytes, long
 * side {@link MEASURE_SIZE_PX}; e.g. streamed by `extractFrames`' `onLuma`): the same measures as
 * {@link measureGreyCopy} on the same pixels written as a PGM.
 *
 * @throws RangeError when `pixels` holds fewer than width × height bytes.
 */
export async function measureGreyPixels(pixels: Uint8Array, width: number, height: number): Promise<FrameMeasure> {
  if (!(width > 0 && height > 0 && pixels.length >= width * height)) {
    throw new RangeError(`a ${width}x${height} grey image needs ${width * height} bytes`);
  }
  return measureGrey(Buffer.from(pixels.buffer, pixels.byteOffset, width * height), width, height);
}

async function measureGrey(pixels: Buffer, width: number, height: number): Promise<FrameMeasure> {
  const sharpness = laplacianVariance(pixels, width, height);
  const small = await sharp(pixels, { raw: { width, height, channels: 1 } })
    .resize(HASH_SIZE, HASH_SIZE, { fit: 'fill' })
    .toColourspace('b-w')
    .raw()
    .toBuffer();
  return { sharpness, phash: perceptualHash(small) };
}

/** Reads a binary 8-bit PGM (Netpbm P5: "P5 <width> <height> <maxval>" then the pixels). */
function parsePgm(file: Buffer): { data: Buffer; width: number; height: number } {
  const header = /^P5(?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)\s/.exec(
    file.toString('latin1', 0, Math.min(file.length, 256)),
  );
  const width = Number(header?.[1]);
  const height = Number(header?.[2]);
  if (!header || header[3] !== '255' || !(width > 0 && height > 0) || file.length - header[0].length < width * height) {
    throw new Error('not an 8-bit binary PGM');
  }
  return { data: file.subarray(header[0].length, header[0].length + width * height), width, height };
}

/** Variance of the 4-neighbour Laplacian over the interior pixels of a 1-channel 8-bit image. */
export function laplacianVariance(pixels: Uint8Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sumSquares = 0;
  for (let y = 1; y < height - 1; y += 1) {
    let i = y * width + 1;
    for (let x = 1; x < width - 1; x += 1, i += 1) {
      const value = pixels[i - 1]! + pixels[i + 1]! + pixels[i - width]! + pixels[i + width]! - 4 * pixels[i]!;
      sum += value;
      sumSquares += value * value;
    }
  }
  const count = (width - 2) * (height - 2);
  const mean = sum / count;
  return sumSquares / count - mean * mean;
}

/** cos((2x + 1)uπ / 64) for u = 0…8, x = 0…31: the DCT-II basis the hash needs. */
const COSINES = Array.from({ length: 9 }, (_, u) =>
  Float64Array.from({ length: HASH_SIZE }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * HASH_SIZE))),
);

/**
 * DCT perceptual hash (pHash; C. Zauner, "Implementation and Benchmarking of Perceptual Image
 * Hash Functions", 2010, as in the pHash library): 2-D DCT-II of a 32×32 greyscale image; the
 * 8×8 lowest frequencies without the DC row and column (u, v = 1…8); bit = coefficient > their
 * median. Row-major, first bit = most significant, as 16 hex digits.
 *
 * @param pixels 32×32 = 1024 grey levels, row-major.
 * @throws RangeError when `pixels` is not 1024 values.
 */
export function perceptualHash(pixels: Uint8Array): string {
  if (pixels.length !== HASH_SIZE * HASH_SIZE) {
    throw new RangeError(`perceptualHash needs ${HASH_SIZE * HASH_SIZE} pixels, got ${pixels.length}`);
  }
  // Rows first: rowDct[y][v] for v = 1…8, then columns for u = 1…8.
  const rowDct = new Float64Array(HASH_SIZE * 8);
  for (let y = 0; y < HASH_SIZE; y += 1) {
    for (let v = 1; v <= 8; v += 1) {
      const basis = COSINES[v]!;
      let acc = 0;
      for (let x = 0; x < HASH_SIZE; x += 1) acc += pixels[y * HASH_SIZE + x]! * basis[x]!;
      rowDct[y * 8 + (v - 1)] = acc;
    }
  }
  const coefficients = new Float64Array(64);
  for (let u = 1; u <= 8; u += 1) {
    const basis = COSINES[u]!;
    for (let v = 0; v < 8; v += 1) {
      let acc = 0;
      for (let y = 0; y < HASH_SIZE; y += 1) acc += rowDct[y * 8 + v]! * basis[y]!;
      coefficients[(u - 1) * 8 + v] = acc;
    }
  }
  const sorted = Float64Array.from(coefficients).sort();
  const median = (sorted[31]! + sorted[32]!) / 2;
  let hex = '';
  for (let nibble = 0; nibble < 16; nibble += 1) {
    let value = 0;
    for (let bit = 0; bit < 4; bit += 1) value = (value << 1) | (coefficients[nibble * 4 + bit]! > median ? 1 : 0);
    hex += value.toString(16);
  }
  return hex;
}

const HEX64 = /^[0-9a-f]{16}$/i;

/**
 * Number of differing bits of two 64-bit hashes given as 16 hex digits (0 = same, 64 = opposite).
 *
 * @throws TypeError when either is not 16 hex digits.
 */
export function hammingDistance(a: string, b: string): number {
  if (!HEX64.test(a) || !HEX64.test(b)) throw new TypeError(`hashes must be 16 hex digits: "${a}", "${b}"`);
  let diff = BigInt.asUintN(64, BigInt(`0x${a}`) ^ BigInt(`0x${b}`));
  let count = 0;
  while (diff) {
    diff &= diff - 1n;
    count += 1;
  }
  return count;
}

/**
 * The sharpness below which a frame of this video counts as blurred:
 * `max(threshold / 2, min(threshold, p75 / 2))`, p75 = the 75th percentile of the video's frame
 * sharpness. The cutoff is therefore always between half the threshold and the threshold.
 *
 * - A video whose better frames are comfortably sharp (p75 ≥ 2 × threshold) gets the absolute
 *   rule: below `threshold` is blurred (the variance-of-Laplacian focus measure, Pech-Pacheco et
 *   al., "Diatom autofocusing in brightfield microscopy", ICPR 2000).
 * - A uniformly soft but usable video (an older phone, low light, a plain scene with little
 *   texture) would lose most frames to the absolute rule; for it, frames under half of its own
 *   typical sharpness are blurred, so its steadier frames survive and the smeared ones still go.
 * - Nothing below half the threshold is kept, however soft the whole video is (calibration on
 *   real frames: bench/frames.md).
 */
export function blurCutoff(sharpness: readonly number[], threshold: number): number {
  const reference = percentile(sharpness, BLUR_REFERENCE_PERCENTILE);
  return Math.max(threshold * BLUR_FLOOR_FACTOR, Math.min(threshold, BLUR_RELATIVE_FACTOR * reference));
}

/**
 * Frames allowed by the cap: ⌈maxPerMinute × duration / 60 s⌉, at least 1; null when uncapped.
 */
export function frameAllowance(maxPerMinute: number | null, durationMs: number): number | null {
  if (maxPerMinute === null) return null;
  return Math.max(1, Math.ceil((maxPerMinute * Math.max(0, durationMs)) / 60_000));
}

/**
 * Decides which sampled frames go to the vision provider (issue 5 "Frame extraction and
 * selection"), in three passes:
 *
 * 1. BLUR: sharpness below {@link blurCutoff} of this video.
 * 2. DUPLICATE: in time order, a sharp frame whose hash is within `duplicateMaxDistance` of a
 *    frame already kept in the previous `duplicateWindowMs` (all of them, not only the last: the
 *    camera may hold still, or sweep back). The earliest of a group of near-duplicates is kept.
 * 3. CAP: when more remain than {@link frameAllowance}, the video is cut into that many equal
 *    time buckets and each keeps its sharpest frame; slots of empty buckets go to the sharpest
 *    remaining frames of the least-served buckets. The rest are CAP.
 *
 * @param frames any order; decisions come back in the same order.
 * @throws RangeError for a negative threshold, a distance outside 0–64 or a cap below 1.
 * @throws TypeError when a hash is not 16 hex digits.
 */
export function selectFrames(frames: readonly SelectableFrame[], options: SelectionOptions): FrameDecision[] {
  const { blurThreshold, duplicateMaxDistance, maxPerMinute } = options;
  if (!(blurThreshold >= 0)) throw new RangeError(`blurThreshold must be ≥ 0, got ${blurThreshold}`);
  if (!(Number.isInteger(duplicateMaxDistance) && duplicateMaxDistance >= 0 && duplicateMaxDistance <= 64)) {
    throw new RangeError(`duplicateMaxDistance must be an integer 0–64, got ${duplicateMaxDistance}`);
  }
  if (maxPerMinute !== null && !(maxPerMinute >= 1)) {
    throw new RangeError(`maxPerMinute must be ≥ 1 or null, got ${maxPerMinute}`);
  }
  const windowMs = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
  const decisions: FrameDecision[] = frames.map(() => ({ kept: true, rejectedReason: null }));
  if (frames.length === 0) return decisions;
  const order = frames.map((_, i) => i).sort((a, b) => frames[a]!.timestampMs - frames[b]!.timestampMs || a - b);

  const cutoff = blurCutoff(
    frames.map((frame) => frame.sharpness),
    blurThreshold,
  );
  const kept: number[] = [];
  for (const i of order) {
    const frame = frames[i]!;
    if (!(frame.sharpness >= cutoff)) {
      decisions[i] = { kept: false, rejectedReason: 'BLUR' };
      continue;
    }
    const duplicate = kept.some(
      (k) =>
        frame.timestampMs - frames[k]!.timestampMs <= windowMs &&
        hammingDistance(frame.phash, frames[k]!.phash) <= duplicateMaxDistance,
    );
    if (duplicate) decisions[i] = { kept: false, rejectedReason: 'DUPLICATE' };
    else kept.push(i);
  }

  const lastMs = frames[order[order.length - 1]!]!.timestampMs;
  const durationMs = Math.max(options.durationMs, lastMs + 1);
  const allowed = frameAllowance(maxPerMinute, durationMs);
  if (allowed === null || kept.length <= allowed) return decisions;

  const bucketOf = (i: number): number =>
    Math.min(allowed - 1, Math.floor((frames[i]!.timestampMs / durationMs) * allowed));
  const chosenPerBucket = new Array<number>(allowed).fill(0);
  const chosen = new Set<number>();
  // Sharpest first, earlier first on ties.
  const bySharpness = [...kept].sort(
    (a, b) => frames[b]!.sharpness - frames[a]!.sharpness || frames[a]!.timestampMs - frames[b]!.timestampMs,
  );
  for (let round = 0; chosen.size < allowed; round += 1) {
    for (const i of bySharpness) {
      if (chosen.size >= allowed) break;
      const bucket = bucketOf(i);
      if (chosen.has(i) || chosenPerBucket[bucket]! > round) continue;
      chosen.add(i);
      chosenPerBucket[bucket]! += 1;
    }
  }
  for (const i of kept) if (!chosen.has(i)) decisions[i] = { kept: false, rejectedReason: 'CAP' };
  return decisions;
}

/** Nearest-rank percentile of a list (0 for an empty list). */
function percentile(values: readonly number[], fraction: number): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return 0;
  return finite[Math.min(finite.length - 1, Math.max(0, Math.ceil(fraction * finite.length) - 1))]!;
}
