import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { fuseDetections } from '../../src/modules/vision/fusion.js';
import { BarcodeVisionProvider, closeBarcodeDecoders } from '../../src/modules/vision/providers/barcode.provider.js';
import type { FrameInput } from '../../src/modules/vision/vision-provider.port.js';

/**
 * The offline core of issue 6 "Accuracy evaluation" on the shipped evaluation videos
 * (eval/videos, made by eval/make-videos.mjs from real photos): ffmpeg samples frames at the
 * recommended 2 frames/s (long side ≤ 1280 px, rotation applied), BarcodeVisionProvider decodes
 * them and fuseDetections counts. Every line must be exact, with no phantom product.
 * eval/check-offline.mjs runs the same check from the command line, at any sampling rate.
 */
const VIDEOS = fileURLToPath(new URL('../../../../eval/videos/', import.meta.url));
const FFMPEG = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
const FPS = 2;

interface ExpectedVideo {
  counts: Record<string, number>;
}
const EXPECTED = JSON.parse(readFileSync(join(VIDEOS, 'expected.json'), 'utf8')) as Record<string, ExpectedVideo>;

async function sampleFrames(video: string, dir: string): Promise<FrameInput[]> {
  const scale = "scale='if(gte(iw,ih),min(1280,iw),-2)':'if(gte(iw,ih),-2,min(1280,ih))'";
  await promisify(execFile)(FFMPEG, [
    '-hide_banner',
    '-loglevel',
    'error',
    '-i',
    video,
    '-vf',
    `fps=${FPS},${scale}`,
    '-q:v',
    '2',
    join(dir, '%05d.jpg'),
  ]);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort();
  return files.map((file, index) => ({
    frameId: file,
    index,
    timestampMs: Math.round((index * 1000) / FPS),
    path: join(dir, file),
    width: 0,
    height: 0,
  }));
}

describe('evaluation videos, barcode mode at 2 frames/s', () => {
  afterAll(async () => {
    await closeBarcodeDecoders();
  });

  it('ships at least five videos with their expected counts', () => {
    expect(Object.keys(EXPECTED).length).toBeGreaterThanOrEqual(5);
    expect(Object.keys(EXPECTED)).toContain('sample-shelf.mp4');
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`${file}: every line exact, no phantom`, { timeout: 180_000 }, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'vision-eval-'));
      try {
        const frames = await sampleFrames(join(VIDEOS, file), dir);
        expect(frames.length).toBeGreaterThan(10);
        const detections = await new BarcodeVisionProvider().detectProducts(frames);
        const lines = fuseDetections(detections, { mode: 'barcode', reviewThreshold: 0.6 });
        const counted = Object.fromEntries(lines.map((line) => [line.gtin, line.quantity]));
        expect(counted).toEqual(expected.counts);
        expect(lines.every((line) => line.method === 'tracked' && line.evidence.box !== null)).toBe(true);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
