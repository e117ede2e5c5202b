// Speed of the barcode pipeline core (issue 6 benchmark: "a 60 s 1080p video processed,
// extraction included, in ≤ 0.25 × its length on 2 cores").
//
//   npm run build -w @miinventario/api && node eval/bench-barcode.mjs [--fps 2] [--workers 2] [--runs 1]
//
// Makes (once, in the system temp folder) a 60 s 1920×1080 H.264 video from
// eval/videos/sample-shelf.mp4 (looped and scaled), then times: frame extraction with ffmpeg
// (--fps, long side ≤ 1280 px, JPEG), BarcodeVisionProvider on every frame, fuseDetections. Prints
// each stage, ms per frame, and two ratios: total ÷ video length (the target is ≤ 0.25) and
// total ÷ the time ffmpeg alone takes to decode the whole video in the same run (the baseline).
// Uses the compiled modules of apps/api/dist (VISION_DIST overrides). No network.
import { spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { extractFrames } from './check-offline.mjs';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FFMPEG = process.env.FFMPEG_PATH ?? require('@ffmpeg-installer/ffmpeg').path;
const DIST = resolve(process.env.VISION_DIST ?? join(ROOT, 'apps/api/dist'));
const SECONDS = 60;
const out = (line = '') => process.stdout.write(`${line}\n`);

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

function run(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'error', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolvePromise() : reject(new Error(stderr.slice(-800)))));
  });
}

async function exists(path) {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const fps = option('fps', 2);
  const workers = option('workers', Math.min(2, availableParallelism()));
  const runs = option('runs', 1);
  const video = join(tmpdir(), 'miinventario-bench-60s-1080p.mp4');
  if (!(await exists(video))) {
    out(`making ${video} …`);
    await run([
      '-y',
      '-stream_loop',
      '-1',
      '-i',
      join(ROOT, 'eval/videos/sample-shelf.mp4'),
      '-t',
      String(SECONDS),
      '-vf',
      'scale=1920:1080',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '20',
      '-pix_fmt',
      'yuv420p',
      '-an',
      video,
    ]);
  }
  const { BarcodeVisionProvider, closeBarcodeDecoders } = await import(
    pathToFileURL(join(DIST, 'modules/vision/providers/barcode.provider.js')).href
  );
  const { fuseDetections } = await import(pathToFileURL(join(DIST, 'modules/vision/fusion.js')).href);
  const provider = new BarcodeVisionProvider({ workers });
  out(`60 s 1920x1080 video, ${fps} frames/s, ${workers} decoder threads, ${availableParallelism()} CPUs`);
  for (let r = 0; r < runs; r += 1) {
    let t = performance.now();
    await run(['-i', video, '-f', 'null', '-']);
    const baseline = performance.now() - t;
    const dir = await mkdtemp(join(tmpdir(), 'miinventario-bench-'));
    try {
      t = performance.now();
      const frames = await extractFrames(video, dir, fps, 1280);
      const extract = performance.now() - t;
      t = performance.now();
      const detections = await provider.detectProducts(frames);
      const decode = performance.now() - t;
      t = performance.now();
      const lines = fuseDetections(detections, { mode: 'barcode', reviewThreshold: 0.6 });
      const fusion = performance.now() - t;
      const total = extract + decode + fusion;
      out(
        `run ${r + 1}: extract ${Math.round(extract)} ms, decode ${Math.round(decode)} ms ` +
          `(${(decode / frames.length).toFixed(1)} ms/frame, ${frames.length} frames), fusion ${fusion.toFixed(1)} ms, ` +
          `total ${Math.round(total)} ms = ${(total / (SECONDS * 1000)).toFixed(3)} × video length ` +
          `(target ≤ 0.25); ffmpeg decode only ${Math.round(baseline)} ms, ratio ${(total / baseline).toFixed(2)}; ${lines.length} lines`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  await closeBarcodeDecoders();
}

await main();
