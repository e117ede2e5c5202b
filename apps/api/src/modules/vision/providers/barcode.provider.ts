import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import type { ReaderOptions } from 'zxing-wasm/reader';
import { toGtin14 } from '../gtin.js';
import {
  VisionProviderError,
  type Box,
  type DetectionResult,
  type FrameInput,
  type GreyFrame,
  type ProductCandidate,
  type ProviderCost,
  type VisionProvider,
} from '../vision-provider.port.js';

/** zxing-wasm format name → the name stored in `ProductCandidate.barcodeFormat`. */
const FORMAT_NAMES: Readonly<Record<string, string>> = {
  EAN13: 'EAN-13',
  EAN8: 'EAN-8',
  UPCA: 'UPC-A',
  UPCE: 'UPC-E',
};

/**
 * Decoder options, chosen by measurement on the 1280×720 frames of the evaluation videos and on
 * the 65 fixture photos (eval/README.md "Decoder settings"):
 * - `tryHarder` scans every row (it is what makes `lineCount` meaningful) and `tryRotate` adds
 *   the columns, i.e. codes turned 90°/270°: +9 of the 65 photos for about 1 ms per photo;
 * - `tryDownscale` (ZXing's default, also scans a 1/3 copy) is kept: no change in reads on either
 *   set, about 1.5 ms per 1280×720 frame, and it helps close-ups with very wide bars;
 * - `tryInvert` is off: EAN/UPC are not printed light-on-dark on retail packs;
 * - `maxNumberOfSymbols` 255 (the maximum): a shelf frame holds many codes.
 */
const READER_OPTIONS: ReaderOptions = {
  formats: ['EAN13', 'EAN8', 'UPCA', 'UPCE'],
  tryHarder: true,
  tryRotate: true,
  tryDownscale: true,
  tryInvert: false,
  binarizer: 'LocalAverage',
  maxNumberOfSymbols: 255,
  minLineCount: 2,
  eanAddOnSymbol: 'Ignore',
};

/**
 * Overlapping tiles (fractions of the frame: x, y, width, height) decoded besides the whole
 * frame: 4 columns × 3 rows of 1/3 × 1/2 of a landscape frame (3 × 4 of 1/2 × 1/3 for portrait).
 * ZXing thresholds a linear code by the histogram of the whole scan line, so in a busy shelf
 * frame a code next to dark packaging is often missed; on a tile the line is short and local.
 * Measured on the evaluation videos at 2 frames/s: 292 code sightings instead of 252 and all 37
 * products found instead of 32. Each line segment of the tiles is read once: rows on one
 * full-height strip per tile column, columns on one full-width strip per tile row (a segment
 * reads the same in every tile that holds it; see barcode-decode.worker.js).
 */
const LANDSCAPE_TILES: ReadonlyArray<readonly [number, number, number, number]> = [0, 2 / 9, 4 / 9, 6 / 9].flatMap(
  (x) => [0, 0.25, 0.5].map((y) => [x, y, 1 / 3, 0.5] as const),
);
const PORTRAIT_TILES = LANDSCAPE_TILES.map(([x, y, w, h]) => [y, x, h, w] as const);
/**
 * A tiled frame (long side ≥ MIN_TILED_SIDE_PX) is scanned on every second row and every second
 * column, whole and by tiles. With `tryHarder` and many symbols ZXing scans every row of an image
 * shorter than 1024 px (and every second column of a 1280-px-wide one); a scanned line reads as
 * before (same pixels) and a code is still crossed by dozens of lines. Measured on the 328 frames
 * of the evaluation and benchmark videos (bench/pipeline.md): with the strips above, decoding CPU
 * −51 % (7.45 → 3.67 s), every count still exact, 2.5 % fewer code sightings. Frames too small
 * for tiles (e.g. photos) are read on every line.
 */
const LINE_STEP = 2;
/** Frames whose longer side is shorter than this are only decoded whole (a tile would cut the codes). */
const MIN_TILED_SIDE_PX = 1000;

/** Options of {@link BarcodeVisionProvider}. */
export interface BarcodeProviderOptions {
  /**
   * Extra passes on a copy of the frame turned by these angles (degrees, clockwise). The upright
   * pass always runs and, with `tryRotate`, covers codes within about ±5–20° of 0/90/180/270°
   * (depending on the print). `[45]` adds the diagonals (45° and 135°: a 1-D code reads both ways):
   * +11 of the 65 fixture photos (close-ups, most quagga2 photos are turned 30–60°), but no extra
   * product on the evaluation videos, where a diagonal code in a busy 1280×720 frame was not read
   * even on the turned copy, for about 35 ms more CPU per frame. Default `[]`.
   */
  extraAnglesDeg?: readonly number[];
  /** Also decode overlapping tiles of large frames (default true; see LANDSCAPE_TILES). */
  tiles?: boolean;
  /**
   * Worker threads running the decoder (default: the number of CPUs, at most 2). ZXing runs
   * synchronously inside WebAssembly, so the worker keeps the API's event loop free and two
   * workers decode two frames at once.
   */
  workers?: number;
}

/** One code found in one pass, in frame pixels. */
interface RawRead {
  digits: string;
  format: string;
  /** A UPC-E's 8 printed digits (ZXing gives `digits` expanded to 13). */
  upce?: string | null;
  quad: Array<{ x: number; y: number }>;
  lineCount: number;
}

/** 8-bit pixels, row-major: grey (1 channel), RGB (3) or RGBA (4). */
interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

interface DecodeTask {
  data: ArrayBuffer;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  tiles: ReadonlyArray<readonly [number, number, number, number]>;
}

/** What one frame's decoding found, before it is stamped with the frame's ids. */
interface FrameRead {
  width: number;
  height: number;
  candidates: ProductCandidate[];
}

interface PendingTask {
  id: number;
  task: DecodeTask;
  resolve: (reads: RawRead[]) => void;
  reject: (error: Error) => void;
}

const WORKER_URL = new URL('./barcode-decode.worker.js', import.meta.url);

/**
 * A small pool of decoder threads (`barcode-decode.worker.js`). Tasks queue until a thread is
 * free; an idle thread is unref'd so it never keeps the process alive. A thread that crashes fails
 * its task with `PROVIDER_UNAVAILABLE` and is replaced on the next task.
 */
class DecoderPool {
  private readonly threads = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, PendingTask>();
  private readonly queue: PendingTask[] = [];
  private nextId = 1;
  private readonly wasmPath: string;

  constructor(private readonly size: number) {
    this.wasmPath = createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm');
  }

  run(task: DecodeTask): Promise<RawRead[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    const error = new VisionProviderError('PROVIDER_UNAVAILABLE', 'The barcode decoder was shut down.', true);
    for (const pending of this.queue.splice(0)) pending.reject(error);
    for (const pending of this.running.values()) pending.reject(error);
    this.running.clear();
    const threads = [...this.threads];
    this.threads.clear();
    this.idle.length = 0;
    await Promise.all(threads.map((t) => t.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const thread = this.idle.pop() ?? (this.threads.size < this.size ? this.spawn() : undefined);
      if (!thread) return;
      const pending = this.queue.shift()!;
      this.running.set(thread, pending);
      thread.ref();
      const message = { id: pending.id, ...pending.task };
      try {
        thread.postMessage(message, [pending.task.data]);
      } catch {
        // Memory that cannot be moved (e.g. owned by a native addon) is copied instead.
        thread.postMessage(message);
      }
    }
  }

  private spawn(): Worker {
    const thread = new Worker(WORKER_URL, {
      workerData: { wasmPath: this.wasmPath, readerOptions: READER_OPTIONS, lineStep: LINE_STEP },
    });
    this.threads.add(thread);
    thread.on('message', (message: { id: number; reads?: RawRead[]; error?: string }) => {
      const pending = this.running.get(thread);
      if (!pending || pending.id !== message.id) return;
      this.running.delete(thread);
      thread.unref();
      this.idle.push(thread);
      if (message.error !== undefined) {
        pending.reject(
          new VisionProviderError('PROVIDER_UNAVAILABLE', `The barcode decoder failed: ${message.error}`, false),
        );
      } else {
        pending.resolve(message.reads ?? []);
      }
      this.pump();
    });
    const fail = (error: Error) => this.fail(thread, error);
    thread.on('error', fail);
    thread.on('exit', (code) => fail(new Error(`decoder thread exited with code ${code}`)));
    return thread;
  }

  private fail(thread: Worker, error: Error): void {
    if (!this.threads.delete(thread)) return;
    const at = this.idle.indexOf(thread);
    if (at >= 0) this.idle.splice(at, 1);
    const pending = this.running.get(thread);
    this.running.delete(thread);
    void thread.terminate();
    pending?.reject(
      new VisionProviderError('PROVIDER_UNAVAILABLE', `The barcode decoder thread failed: ${error.message}`, false),
    );
    this.pump();
  }
}

const pools = new Map<number, DecoderPool>();

function poolOf(size: number): DecoderPool {
  let pool = pools.get(size);
  if (!pool) {
    pool = new DecoderPool(size);
    pools.set(size, pool);
  }
  return pool;
}

/** Stops every decoder thread (tests, graceful shutdown). A later decode starts new threads. */
export async function closeBarcodeDecoders(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((pool) => pool.close()));
}

/**
 * The offline, default vision provider (DESIGN.md "Vision providers", `barcode`; issue 6): it
 * decodes every EAN-13, EAN-8, UPC-A and UPC-E code in each frame with zxing-wasm (ZXing-C++),
 * whose `.wasm` is read from node_modules (never fetched: see `barcode-decode.worker.js`).
 *
 * **Passes.** The whole frame (rows and columns) and overlapping tiles of large frames (every
 * second line; see LINE_STEP), optionally copies turned by other angles (see
 * {@link BarcodeProviderOptions}), decoded in worker threads; frames come as JPEG files or, from
 * the pipeline, as greyscale pixels while the video is still being extracted ({@link prefetch}).
 * Reads with the same digits whose boxes touch, or whose centres are closer than half the code's
 * length, are one code seen by several passes; a read of other digits over the same bars on fewer
 * scan lines is dropped as a misread.
 *
 * **Candidates.** One {@link ProductCandidate} per code instance: two identical codes in one frame
 * are two candidates. `barcode` = the digits as printed (13 for EAN-13, 12 for UPC-A, 8 for EAN-8
 * and UPC-E), `barcodeFormat` = `EAN-13` | `EAN-8` | `UPC-A` | `UPC-E` (compare codes through
 * `toGtin14`), `count` 1, `name`/`brand`/`category` null (the catalogue names it later), `box` =
 * axis-aligned bounds of the code in frame pixels (for a 1-D code the scan lines that read it, so
 * it can be thinner than the printed bars). Reads that are not a valid GTIN (GS1 check digit) are
 * dropped.
 *
 * **Confidence.** ZXing accepts an EAN/UPC read only when its check digit is right and at least
 * `minLineCount` (2) scan lines gave the same digits; `lineCount` is how many did. Confidence =
 * 0.8 for the minimum 2 lines, rising linearly to 1.0 at 10 or more agreeing lines (a code read
 * on many lines is very unlikely to be a misread; fusion still votes across frames).
 *
 * **Cost.** Zero: provider `barcode`, model null, units = frames decoded.
 *
 * Errors: {@link VisionProviderError} `PROVIDER_REJECTED` (not retryable) when a frame file is
 * missing or not an image; `PROVIDER_UNAVAILABLE` when the decoder cannot run.
 */
export class BarcodeVisionProvider implements VisionProvider {
  private readonly extraAngles: readonly number[];
  private readonly tiles: boolean;
  private readonly workers: number;
  private lastUnits = 0;
  /** Reads started by {@link prefetch}, by frame index, for the next {@link detectProducts}. */
  private readonly prefetched = new Map<number, Promise<FrameRead>>();
  /** Prefetched reads not finished yet, and who waits for one of them to finish. */
  private prefetching = 0;
  private readonly prefetchWaiters: Array<() => void> = [];

  constructor(options: BarcodeProviderOptions = {}) {
    this.extraAngles = (options.extraAnglesDeg ?? []).filter((angle) => angle % 360 !== 0);
    this.tiles = options.tiles ?? true;
    this.workers = Math.max(1, Math.floor(options.workers ?? Math.min(2, availableParallelism())));
  }

  /**
   * One {@link DetectionResult} per frame, in input order; width/height are the frame's pixels. A
   * frame whose `index` was given to {@link prefetch} since the last call uses that read (its
   * greyscale pixels) and its JPEG is not opened; the other prefetched reads are dropped.
   */
  async detectProducts(frames: readonly FrameInput[]): Promise<DetectionResult[]> {
    this.lastUnits = 0;
    const prefetched = new Map(this.prefetched);
    this.prefetched.clear();
    const pool = poolOf(this.workers);
    const results: DetectionResult[] = new Array<DetectionResult>(frames.length);
    // Frames in flight: enough to keep every decoder thread and sharp's threads busy.
    const inFlight = this.workers * 2;
    let next = 0;
    let failure: unknown = null;
    const lane = async (): Promise<void> => {
      while (failure === null && next < frames.length) {
        const i = next;
        next += 1;
        const frame = frames[i]!;
        try {
          const read = await (prefetched.get(frame.index) ?? this.readFrame(pool, await decodeImage(frame)));
          results[i] = {
            frameId: frame.frameId,
            index: frame.index,
            timestampMs: frame.timestampMs,
            width: read.width,
            height: read.height,
            candidates: read.candidates,
          };
          this.lastUnits += 1;
        } catch (error) {
          failure ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, frames.length) }, lane));
    if (failure !== null) throw failure;
    return results;
  }

  /**
   * Starts decoding a frame from its greyscale pixels (the extractor's copy, taken before JPEG
   * compression) while the video is still being extracted: the next {@link detectProducts} uses
   * this read for the input with the same `index`. The pixels are moved to a decoder thread (the
   * buffer is detached afterwards). Returns a promise when enough frames are already waiting
   * (2 per decoder thread): the caller should hold the next frame until it resolves.
   *
   * @throws RangeError when `data` holds fewer than width × height bytes.
   */
  prefetch(frame: GreyFrame): Promise<void> | void {
    if (!(frame.width > 0 && frame.height > 0 && frame.data.length >= frame.width * frame.height)) {
      throw new RangeError(`a ${frame.width}x${frame.height} grey frame needs ${frame.width * frame.height} bytes`);
    }
    const image: DecodedImage = { data: frame.data, width: frame.width, height: frame.height, channels: 1 };
    const read = this.readFrame(poolOf(this.workers), image);
    this.prefetching += 1;
    const settle = (): void => {
      this.prefetching -= 1;
      this.prefetchWaiters.shift()?.();
    };
    // A failure surfaces in detectProducts, if the frame is asked for; never as an unhandled rejection.
    read.then(settle, settle);
    this.prefetched.set(frame.index, read);
    if (this.prefetching < this.workers * 2) return;
    return new Promise((resolve) => this.prefetchWaiters.push(resolve));
  }

  /** Zero cost; `units` = frames decoded by the last call. */
  getCost(): ProviderCost {
    return {
      provider: 'barcode',
      model: null,
      units: this.lastUnits,
      inputTokens: 0,
      outputTokens: 0,
      costUsdMicros: 0,
      attempts: this.lastUnits > 0 ? 1 : 0,
    };
  }

  getProvider(): 'barcode' {
    return 'barcode';
  }

  getModel(): null {
    return null;
  }

  /** All codes of one frame, every pass merged, with the frame's size. */
  private async readFrame(pool: DecoderPool, image: DecodedImage): Promise<FrameRead> {
    return { width: image.width, height: image.height, candidates: await this.decodeFrame(pool, image) };
  }

  /** All codes of one frame, every pass merged. */
  private async decodeFrame(pool: DecoderPool, image: DecodedImage): Promise<ProductCandidate[]> {
    const tiled = this.tiles && Math.max(image.width, image.height) >= MIN_TILED_SIDE_PX;
    const tiles = !tiled ? [] : image.width >= image.height ? LANDSCAPE_TILES : PORTRAIT_TILES;
    // Turned copies are made first: the upright pixels are then moved to a decoder thread.
    const turned = await Promise.all(
      this.extraAngles.map(async (angle) => ({ angle, rotated: await rotateImage(image, angle) })),
    );
    const { width, height } = image;
    const passes = [
      pool.run(toTask(image, tiles)),
      ...turned.map(async ({ angle, rotated }) =>
        (await pool.run(toTask(rotated, []))).map((read) => ({
          ...read,
          quad: read.quad.map((p) => unrotatePoint(p, angle, { width, height }, rotated)),
        })),
      ),
    ];
    const reads = (await Promise.all(passes)).flat();
    return mergeReads(reads, width, height);
  }
}

/** A task for a decoder thread; the pixels are moved (transferred), not copied, when possible. */
function toTask(image: DecodedImage, tiles: DecodeTask['tiles']): DecodeTask {
  const { data } = image;
  const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  const buffer = owned ? data.buffer : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return { data: buffer as ArrayBuffer, width: image.width, height: image.height, channels: image.channels, tiles };
}

/** Reads a frame JPEG into RGB pixels (EXIF orientation applied; the decoder thread takes the luminance). */
async function decodeImage(frame: FrameInput): Promise<DecodedImage> {
  try {
    const { data, info } = await sharp(frame.path, { failOn: 'error' })
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: channelsOf(info.channels) };
  } catch (error) {
    throw new VisionProviderError(
      'PROVIDER_REJECTED',
      `Frame ${frame.frameId} (${frame.path}) could not be read as an image: ${describe(error)}`,
      false,
    );
  }
}

/** The frame turned clockwise by `angle` degrees about its centre, on a white background (canvas grows). */
async function rotateImage(image: DecodedImage, angle: number): Promise<DecodedImage> {
  const { data, info } = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels },
  })
    .rotate(angle, { background: { r: 255, g: 255, b: 255, alpha: 1 } })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: channelsOf(info.channels) };
}

/** sharp's channel count as a decoder input (grey + alpha is not produced by these pipelines). */
function channelsOf(channels: number): 1 | 3 | 4 {
  if (channels === 1 || channels === 3 || channels === 4) return channels;
  throw new Error(`unexpected ${channels}-channel pixels`);
}

/** Maps a point of the turned copy back to the frame (inverse of sharp's rotation about the centres). */
function unrotatePoint(
  p: { x: number; y: number },
  angle: number,
  original: { width: number; height: number },
  rotated: { width: number; height: number },
): { x: number; y: number } {
  const a = (angle * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const dx = p.x - rotated.width / 2;
  const dy = p.y - rotated.height / 2;
  return { x: cos * dx + sin * dy + original.width / 2, y: -sin * dx + cos * dy + original.height / 2 };
}

/**
 * Merges reads of one frame: reads with the same digits whose boxes touch, or whose centres are
 * closer than half the code's length, or whose boxes grown across the bars to a whole symbol
 * ({@link symbolExtent}) touch, are one code (read by several scan directions, tiles or passes;
 * two tiles may each read a different part of the bars, e.g. its top and its bottom rows). Two
 * units of one product sit at least a code height apart. The merged box is the union, the line
 * count the best.
 */
function mergeReads(reads: RawRead[], width: number, height: number): ProductCandidate[] {
  const items = reads
    .map((read) => ({ read, box: clampBox(boundsOf(read.quad), width, height) }))
    .filter((item) => {
      const printed = printedForm(item.read);
      return toGtin14(printed.barcode, printed.barcodeFormat) !== null;
    });
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  for (let i = 0; i < items.length; i += 1) {
    for (let j = i + 1; j < items.length; j += 1) {
      const a = items[i]!;
      const b = items[j]!;
      if (a.read.digits !== b.read.digits) continue;
      if (sameCode(a.box, b.box) || sameCode(symbolExtent(a.box), symbolExtent(b.box))) parent[find(j)] = find(i);
    }
  }
  const groups = new Map<number, typeof items>();
  items.forEach((item, i) => {
    const root = find(i);
    const group = groups.get(root) ?? [];
    group.push(item);
    groups.set(root, group);
  });
  const merged = [...groups.values()].map((group) => {
    // The read on most scan lines sets the code's length; the box is the union of the reads of
    // about that length (±15 %: a read on two lines sometimes spans the digits or a guard too).
    const best = group.reduce((a, b) => (b.read.lineCount > a.read.lineCount ? b : a));
    const length = longerSide(best.box);
    const consistent = group.filter((g) => Math.abs(longerSide(g.box) - length) <= 0.15 * length);
    return { read: best.read, box: consistent.map((g) => g.box).reduce(unionBox), lineCount: best.read.lineCount };
  });
  // Different digits over the same bars (or just below them, on the printed digits; anywhere
  // across the symbol, which a read on a few scan lines only partly covers): the read on fewer
  // scan lines is a misread of the other. ZXing applies this rule inside one pass; tiles and
  // passes are merged here.
  const kept = merged.filter(
    (a) => !merged.some((b) => b !== a && b.lineCount > a.lineCount && overlapShare(a.box, symbolExtent(b.box)) >= 0.5),
  );
  const candidates: ProductCandidate[] = kept.map(({ read, box, lineCount }) => ({
    name: null,
    brand: null,
    ...printedForm(read),
    category: null,
    count: 1,
    box,
    confidence: readConfidence(lineCount),
  }));
  // Reading order (top to bottom, left to right) keeps the output deterministic.
  candidates.sort((a, b) => a.box!.y - b.box!.y || a.box!.x - b.box!.x || a.barcode!.localeCompare(b.barcode!));
  return candidates;
}

/**
 * Digits and symbology as printed. ZXing-C++ reports a UPC-A as 13 digits (EAN-13 with a leading
 * 0, whatever format was asked for); an EAN-13 starting with 0 is a UPC-A (GS1 General
 * Specifications §5.2.2.4), so it is given as its 12 digits, format `UPC-A`. A UPC-E is given as
 * its 8 printed digits (`toGtin14` expands it to the same GTIN as its UPC-A form).
 */
function printedForm(read: RawRead): { barcode: string; barcodeFormat: string } {
  const format = FORMAT_NAMES[read.format] ?? read.format;
  if (format === 'UPC-E' && read.upce) return { barcode: read.upce, barcodeFormat: 'UPC-E' };
  if ((format === 'EAN-13' || format === 'UPC-A') && read.digits.length === 13 && read.digits.startsWith('0')) {
    return { barcode: read.digits.slice(1), barcodeFormat: 'UPC-A' };
  }
  return { barcode: read.digits, barcodeFormat: format };
}

/** 0.8 at the minimum 2 agreeing scan lines, linear to 1.0 at 10 or more. */
export function readConfidence(lineCount: number): number {
  const extra = Math.min(Math.max(lineCount - 2, 0), 8) / 8;
  return Math.round((0.8 + 0.2 * extra) * 1000) / 1000;
}

function boundsOf(points: Array<{ x: number; y: number }>): Box {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, w: Math.max(...xs) - x, h: Math.max(...ys) - y };
}

function clampBox(box: Box, width: number, height: number): Box {
  const x0 = Math.max(0, Math.min(width, box.x));
  const y0 = Math.max(0, Math.min(height, box.y));
  const x1 = Math.max(0, Math.min(width, box.x + box.w));
  const y1 = Math.max(0, Math.min(height, box.y + box.h));
  return { x: Math.round(x0), y: Math.round(y0), w: Math.round(x1 - x0), h: Math.round(y1 - y0) };
}

function sameCode(a: Box, b: Box): boolean {
  // A margin of 2 px: a line-thin box of one scan pass still touches the box of another.
  if (a.x <= b.x + b.w + 2 && b.x <= a.x + a.w + 2 && a.y <= b.y + b.h + 2 && b.y <= a.y + a.h + 2) return true;
  const length = Math.max(a.w, a.h, b.w, b.h);
  return Math.hypot(a.x + a.w / 2 - b.x - b.w / 2, a.y + a.h / 2 - b.y - b.h / 2) < length / 2;
}

/**
 * Bar height ÷ bar length of an EAN/UPC symbol, rounded down: EAN-13 at nominal size has bars
 * 22.85 mm high over 31.35 mm (95 modules of 0.33 mm; GS1 General Specifications, EAN/UPC
 * symbol dimensions), ≈ 0.73.
 */
const SYMBOL_HEIGHT_RATIO = 0.7;

/**
 * The box of a read grown across its bars, about its centre line, to a whole symbol's bar height
 * ({@link SYMBOL_HEIGHT_RATIO} × its length): a read on a few scan lines is a thin strip of the
 * symbol, anywhere between the top and the bottom of the bars. The longer side is the code's
 * length (bars run across it); a box already that tall is returned as it is.
 */
function symbolExtent(box: Box): Box {
  const length = longerSide(box);
  const across = SYMBOL_HEIGHT_RATIO * length;
  if (box.w >= box.h) return box.h >= across ? box : { ...box, y: box.y - (across - box.h) / 2, h: across };
  return box.w >= across ? box : { ...box, x: box.x - (across - box.w) / 2, w: across };
}

function longerSide(box: Box): number {
  return Math.max(box.w, box.h);
}

/**
 * Share of the smaller box covered by the other (0–1), both grown by 5 % of the longer code
 * length; a line-thin box counts as 1 px tall or wide.
 */
function overlapShare(a: Box, b: Box): number {
  const m = 0.05 * Math.max(longerSide(a), longerSide(b));
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) + 2 * m;
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) + 2 * m;
  if (w <= 0 || h <= 0) return 0;
  const area = (box: Box) => (Math.max(box.w, 1) + 2 * m) * (Math.max(box.h, 1) + 2 * m);
  return Math.min(1, (w * h) / Math.min(area(a), area(b)));
}

function unionBox(a: Box, b: Box): Box {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
