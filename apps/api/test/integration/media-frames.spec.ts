import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Test } from '@nestjs/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/env.schema.js';
import { makeContactSheet, makeThumbnail } from '../../src/modules/media/artifacts.js';
import { defaultMediaTools } from '../../src/modules/media/ffmpeg-binaries.js';
import { extractFrames, type ExtractedFrame } from '../../src/modules/media/frame-extractor.js';
import {
  blurCutoff,
  hammingDistance,
  measureFrame,
  measureFrames,
  selectFrames,
  type FrameMeasure,
} from '../../src/modules/media/frame-selector.js';
import { MediaToolError } from '../../src/modules/media/media-errors.js';
import { MediaProcessingService } from '../../src/modules/media/media-processing.service.js';
import { MediaModule } from '../../src/modules/media/media.module.js';
import { runTool } from '../../src/modules/media/media-process.js';
import { probeVideo } from '../../src/modules/media/video-probe.js';

/**
 * Frame extraction, measuring, selection and artifacts (issue 5 "Frame extraction and
 * selection") with the real npm ffmpeg and sharp, on the fixtures of test/fixtures/videos.
 */

const FIXTURES = fileURLToPath(new URL('../fixtures/videos/', import.meta.url));
const expected = JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8')) as {
  selection: {
    file: string;
    sampleFps: number;
    sampledFrames: number;
    blurredSampleMs: number[];
    heldOriginalSampleMs: number;
    duplicateSampleMs: number[];
  };
  rotation: { file: string; uprightReference: string; referenceTimestampMs: number };
};
/** The env.schema.ts defaults: FRAME_BLUR_THRESHOLD, FRAME_DUPLICATE_MAX_DISTANCE. */
const THRESHOLD = 60;
const DISTANCE = 6;

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mi-frames-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Extracts a fixture into a fresh folder of the run's temporary directory. */
async function extract(name: string, options: Parameters<typeof extractFrames>[2] = {}): Promise<ExtractedFrame[]> {
  const out = await mkdtemp(join(work, `${name}-`));
  return extractFrames(join(FIXTURES, name), out, options);
}

async function pixelSize(path: string): Promise<{ width: number; height: number }> {
  const { width, height } = await sharp(path).metadata();
  return { width, height };
}

describe('extractFrames', () => {
  it('samples 2 frames per second at exact timestamps, as JPEGs of the stated size', async () => {
    const frames = await extract('shelf-pan.mp4');
    // 9.0 s × 2 fps.
    expect(Math.abs(frames.length - 18)).toBeLessThanOrEqual(1);
    expect(frames.map((frame) => frame.index)).toEqual(frames.map((_, i) => i));
    expect(frames.map((frame) => frame.timestampMs)).toEqual(frames.map((_, i) => i * 500));
    for (const frame of frames) {
      expect((await readFile(frame.path)).subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
      expect(await pixelSize(frame.path)).toEqual({ width: frame.width, height: frame.height });
    }
    expect(frames[0]).toMatchObject({ width: 640, height: 360 });
  });

  it('follows the sampling rate and the size limit, and never enlarges', async () => {
    const one = await extract('shelf-pan.mp4', { fps: 1, maxSidePx: 320 });
    expect(Math.abs(one.length - 9)).toBeLessThanOrEqual(1);
    expect(one.map((frame) => frame.timestampMs).slice(0, 3)).toEqual([0, 1000, 2000]);
    expect(await pixelSize(one[0]!.path)).toEqual({ width: 320, height: 180 });
    const big = await extract('pan-small.webm', { maxSidePx: 1280 });
    expect(await pixelSize(big[0]!.path)).toEqual({ width: 320, height: 180 });
    expect(Math.abs(big.length - 12)).toBeLessThanOrEqual(1);
  });

  it('turns a rotated phone video upright: portrait frames that match what a player shows', async () => {
    const frames = await extract(expected.rotation.file);
    expect(Math.abs(frames.length - 12)).toBeLessThanOrEqual(1);
    for (const frame of frames) expect(frame.height).toBeGreaterThan(frame.width);
    expect(await pixelSize(frames[0]!.path)).toEqual({ width: 360, height: 640 });

    const reference = await measureFrame(join(FIXTURES, expected.rotation.uprightReference));
    const first = frames.find((frame) => frame.timestampMs === expected.rotation.referenceTimestampMs)!;
    const distance = hammingDistance((await measureFrame(first.path)).phash, reference.phash);
    expect(distance).toBeLessThanOrEqual(8);
    // The same picture upside down is far from it: the check can tell the direction.
    const flipped = join(work, 'flipped.jpg');
    await sharp(first.path).rotate(180).toFile(flipped);
    expect(hammingDistance((await measureFrame(flipped)).phash, reference.phash)).toBeGreaterThan(16);
  });

  it('gives the same upright picture as ffmpeg’s own autorotation', async () => {
    const frames = await extract(expected.rotation.file);
    const auto = join(work, 'autorotated.png');
    const result = await runTool(
      defaultMediaTools().ffmpegPath,
      ['-v', 'error', '-i', join(FIXTURES, expected.rotation.file), '-frames:v', '1', auto],
      { timeoutMs: 60_000 },
    );
    expect(result.exitCode).toBe(0);
    expect(await pixelSize(auto)).toEqual({ width: 360, height: 640 });
    const distance = hammingDistance((await measureFrame(auto)).phash, (await measureFrame(frames[0]!.path)).phash);
    expect(distance).toBeLessThanOrEqual(4);
  });

  it.each([
    ['rotate=90', 270],
    ['rotate=180', 180],
    ['rotate=270', 90],
  ])('applies every display rotation as ffmpeg’s autorotation does (%s → %i° clockwise)', async (tag, clockwise) => {
    // Stream copies of shelf-pan.mp4 with a display matrix (this ffmpeg writes `rotate=N` as a
    // matrix of +N° counter-clockwise, i.e. (360 − N)° clockwise; ffprobe and players read the matrix).
    const dir = await mkdtemp(join(work, 'rot-'));
    const rotated = join(dir, 'rotated.mp4');
    const tools = defaultMediaTools();
    const remux = await runTool(
      tools.ffmpegPath,
      ['-v', 'error', '-i', join(FIXTURES, 'shelf-pan.mp4'), '-c', 'copy', '-metadata:s:v:0', tag, rotated],
      { timeoutMs: 60_000 },
    );
    expect(remux.exitCode).toBe(0);
    const probe = await probeVideo(rotated);
    expect(probe.rotation).toBe(clockwise);
    const frames = await extractFrames(rotated, join(dir, 'frames'), { probe });
    const quarter = clockwise % 180 !== 0;
    expect(frames[0]).toMatchObject(quarter ? { width: 360, height: 640 } : { width: 640, height: 360 });
    const auto = join(dir, 'auto.png');
    expect(
      (await runTool(tools.ffmpegPath, ['-v', 'error', '-i', rotated, '-frames:v', '1', auto], { timeoutMs: 60_000 }))
        .exitCode,
    ).toBe(0);
    const distance = hammingDistance((await measureFrame(auto)).phash, (await measureFrame(frames[0]!.path)).phash);
    expect(distance).toBeLessThanOrEqual(4);
  });

  it('writes greyscale measuring copies that measure like the JPEGs', async () => {
    const frames = await extract('shelf-pan.mp4');
    expect(frames.every((frame) => frame.greyPath !== null)).toBe(true);
    const fromCopies = await measureFrames(frames);
    const fromJpegs = await measureFrames(frames.map((frame) => ({ ...frame, greyPath: null })));
    for (let i = 0; i < frames.length; i += 1) {
      const ratio = fromCopies[i]!.sharpness / fromJpegs[i]!.sharpness;
      expect(ratio).toBeGreaterThan(0.85);
      expect(ratio).toBeLessThan(1.25);
      expect(hammingDistance(fromCopies[i]!.phash, fromJpegs[i]!.phash)).toBeLessThanOrEqual(6);
    }
    const withoutCopies = await extract('shelf-pan.mp4', { measureCopies: false });
    expect(withoutCopies.every((frame) => frame.greyPath === null)).toBe(true);
    expect((await readdir(join(withoutCopies[0]!.path, '..'))).some((name) => name.endsWith('.pgm'))).toBe(false);
  });

  it('fails with MediaToolError when ffmpeg cannot run or is aborted', async () => {
    await expect(extract('shelf-pan.mp4', { ffmpegPath: '/nonexistent/ffmpeg' })).rejects.toBeInstanceOf(
      MediaToolError,
    );
    const controller = new AbortController();
    controller.abort();
    await expect(extract('shelf-pan.mp4', { signal: controller.signal })).rejects.toBeInstanceOf(MediaToolError);
  });
});

describe('selectFrames on shelf-pan-with-blur-and-dup.mp4', () => {
  let measured: (ExtractedFrame & FrameMeasure)[];
  const at = (ms: number) => measured.findIndex((frame) => frame.timestampMs === ms);
  const rules = { blurThreshold: THRESHOLD, duplicateMaxDistance: DISTANCE, durationMs: 13_500 };

  beforeAll(async () => {
    measured = await measureFrames(await extract(expected.selection.file));
  });

  it('samples the whole video', () => {
    expect(measured).toHaveLength(expected.selection.sampledFrames);
  });

  it('rejects the inserted blurred stretch as BLUR and the held view’s repeats as DUPLICATE', () => {
    const decisions = selectFrames(measured, { ...rules, maxPerMinute: null });
    for (const ms of expected.selection.blurredSampleMs) {
      expect(decisions[at(ms)], `${ms} ms`).toEqual({ kept: false, rejectedReason: 'BLUR' });
    }
    for (const ms of expected.selection.duplicateSampleMs) {
      expect(decisions[at(ms)], `${ms} ms`).toEqual({ kept: false, rejectedReason: 'DUPLICATE' });
    }
    expect(decisions[at(expected.selection.heldOriginalSampleMs)]).toEqual({ kept: true, rejectedReason: null });
    // Everything else is the plain pan: sharp and distinct, so kept.
    const inserted = new Set([...expected.selection.blurredSampleMs, ...expected.selection.duplicateSampleMs]);
    measured.forEach((frame, i) => {
      if (!inserted.has(frame.timestampMs))
        expect(decisions[i], `${frame.timestampMs} ms`).toMatchObject({ kept: true });
    });
  });

  it('keeps only sharp frames that are pairwise distinct', () => {
    const decisions = selectFrames(measured, { ...rules, maxPerMinute: null });
    const kept = measured.filter((_, i) => decisions[i]!.kept);
    const cutoff = blurCutoff(
      measured.map((frame) => frame.sharpness),
      THRESHOLD,
    );
    expect(cutoff).toBe(THRESHOLD);
    for (const frame of kept) expect(frame.sharpness).toBeGreaterThanOrEqual(THRESHOLD);
    for (let i = 0; i < kept.length; i += 1) {
      for (let j = i + 1; j < kept.length; j += 1) {
        expect(hammingDistance(kept[i]!.phash, kept[j]!.phash)).toBeGreaterThan(DISTANCE);
      }
    }
  });

  it('caps the kept frames per minute, spread over the video', () => {
    // 8 per minute over 13.5 s → ⌈1.8⌉ = 2 frames, one in each half.
    const decisions = selectFrames(measured, { ...rules, maxPerMinute: 8 });
    const kept = measured.filter((_, i) => decisions[i]!.kept);
    expect(kept).toHaveLength(2);
    expect(kept[0]!.timestampMs).toBeLessThan(6750);
    expect(kept[1]!.timestampMs).toBeGreaterThanOrEqual(6750);
    const uncapped = selectFrames(measured, { ...rules, maxPerMinute: null });
    // The cap only removes frames the other rules kept, and says so.
    decisions.forEach((decision, i) => {
      if (!decision.kept && decision.rejectedReason === 'CAP') expect(uncapped[i]!.kept).toBe(true);
      else expect(decision.rejectedReason).toBe(uncapped[i]!.rejectedReason);
    });
    // 16 per minute → ⌈3.6⌉ = 4, one per 3.375 s bucket.
    const four = measured.filter((_, i) => selectFrames(measured, { ...rules, maxPerMinute: 16 })[i]!.kept);
    expect(four.map((frame) => Math.floor(frame.timestampMs / 3375))).toEqual([0, 1, 2, 3]);
  });
});

describe('artifacts', () => {
  let frames: ExtractedFrame[];
  beforeAll(async () => {
    frames = await extract('shelf-pan.mp4');
  });

  it('makes a JPEG thumbnail at most 320 px long, keeping the aspect ratio', async () => {
    const thumbnail = await makeThumbnail(frames[0]!.path);
    expect(thumbnail.data.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect(thumbnail).toMatchObject({ width: 320, height: 180 });
    expect(await pixelSize(await writeTemp('thumb.jpg', thumbnail.data))).toEqual({ width: 320, height: 180 });
    const tiny = await makeThumbnail(frames[0]!.path, { maxSidePx: 1000 });
    expect(tiny).toMatchObject({ width: 640, height: 360 });
  });

  it('makes a contact sheet: a grid of the frames in order', async () => {
    const paths = frames.slice(0, 7).map((frame) => frame.path);
    const sheet = await makeContactSheet(paths, { columns: 3, tileWidth: 160, gapPx: 4 });
    // 3 columns × 160 + 4 gaps; 3 rows of 90 + 4 gaps.
    expect(sheet).toMatchObject({ width: 4 + 3 * 164, height: 4 + 3 * 94 });
    const sheetPath = await writeTemp('sheet.jpg', sheet.data);
    expect(await pixelSize(sheetPath)).toEqual({ width: sheet.width, height: sheet.height });
    // Each tile shows its frame: tile i matches frame i better than any other frame.
    const tile = async (i: number) =>
      measureFrame(
        await writeTemp(
          `tile-${i}.jpg`,
          await sharp(sheetPath)
            .extract({ left: 4 + (i % 3) * 164, top: 4 + Math.floor(i / 3) * 94, width: 160, height: 90 })
            .jpeg()
            .toBuffer(),
        ),
      );
    const hashes = await Promise.all(paths.map(async (path) => (await measureFrame(path)).phash));
    for (const i of [0, 4, 6]) {
      const tileHash = (await tile(i)).phash;
      const distances = hashes.map((hash) => hammingDistance(tileHash, hash));
      expect(distances.indexOf(Math.min(...distances))).toBe(i);
    }
  });

  it('refuses an empty contact sheet and bad sizes', async () => {
    await expect(makeContactSheet([])).rejects.toThrow(RangeError);
    await expect(makeContactSheet([frames[0]!.path], { tileWidth: 4 })).rejects.toThrow(RangeError);
    await expect(makeThumbnail(frames[0]!.path, { maxSidePx: 0 })).rejects.toThrow(RangeError);
  });
});

describe('MediaProcessingService (configuration applied)', () => {
  async function service(env: Record<string, string>): Promise<MediaProcessingService> {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(loadConfig(env)), MediaModule],
    }).compile();
    return moduleRef.get(MediaProcessingService);
  }

  it('validates with UPLOAD_ALLOWED_CONTAINERS and VIDEO_MIN/MAX_SECONDS', async () => {
    const media = await service({ UPLOAD_ALLOWED_CONTAINERS: 'mp4,mkv', VIDEO_MIN_SECONDS: '7' });
    expect(await media.validate(join(FIXTURES, 'shelf-pan.mp4'))).toMatchObject({ ok: true });
    expect(await media.validate(join(FIXTURES, 'pan-small.mkv'))).toMatchObject({
      ok: false,
      failureCode: 'VIDEO_TOO_SHORT',
    });
    expect(await media.validate(join(FIXTURES, 'pan-small.mov'))).toMatchObject({
      ok: false,
      failureCode: 'UNSUPPORTED_FORMAT',
    });
    const strict = await service({ VIDEO_MAX_SECONDS: '8' });
    expect(await strict.validate(join(FIXTURES, 'shelf-pan.mp4'))).toMatchObject({
      ok: false,
      failureCode: 'VIDEO_TOO_LONG',
    });
  });

  it('extracts with FRAME_SAMPLE_FPS and FRAME_MAX_SIDE_PX, and selects with the frame rules', async () => {
    const media = await service({ FRAME_SAMPLE_FPS: '1', FRAME_MAX_SIDE_PX: '480', FRAME_MAX_PER_MINUTE: '8' });
    const probe = await media.probe(join(FIXTURES, 'shelf-pan.mp4'));
    const frames = await media.extract(join(FIXTURES, 'shelf-pan.mp4'), await mkdtemp(join(work, 'svc-')), { probe });
    expect(Math.abs(frames.length - 9)).toBeLessThanOrEqual(1);
    expect(frames[0]).toMatchObject({ width: 480, height: 270 });
    const measured = await media.measure(frames);
    expect(measured[0]).toMatchObject({ index: 0, path: frames[0]!.path });
    // 8 per minute over 9 s → 2 kept; without the cap, all 9 distinct sharp frames.
    expect(media.select(measured, { durationMs: probe.durationMs }).filter((d) => d.kept)).toHaveLength(2);
    expect(media.select(measured, { durationMs: probe.durationMs, maxPerMinute: null }).every((d) => d.kept)).toBe(
      true,
    );
    const sheet = await media.contactSheet(frames.map((frame) => frame.path));
    expect(sheet.width).toBe(4 + 5 * 260);
  });

  it('uses FFPROBE_PATH and FFMPEG_PATH when set (a missing binary is a tool error, not a verdict on the video)', async () => {
    const media = await service({ FFPROBE_PATH: '/nonexistent/ffprobe' });
    await expect(media.validate(join(FIXTURES, 'shelf-pan.mp4'))).rejects.toBeInstanceOf(MediaToolError);
    const noFfmpeg = await service({ FFMPEG_PATH: '/nonexistent/ffmpeg' });
    await expect(noFfmpeg.validate(join(FIXTURES, 'shelf-pan.mp4'))).rejects.toBeInstanceOf(MediaToolError);
    await expect(noFfmpeg.extract(join(FIXTURES, 'shelf-pan.mp4'), join(work, 'none'))).rejects.toBeInstanceOf(
      MediaToolError,
    );
  });
});

async function writeTemp(name: string, data: Buffer): Promise<string> {
  const path = join(work, name);
  await writeFile(path, data);
  return path;
}
