// Offline accuracy check of the barcode pipeline core (issue 6 "Accuracy evaluation").
//
//   npm run build -w @miinventario/api && node eval/check-offline.mjs [folder] [--fps 2] [--json] [--no-autorotate]
//
// For every video named in <folder>/expected.json (default eval/videos): ffmpeg samples frames
// at --fps (long side ≤ 1280 px, rotation metadata applied, JPEG), BarcodeVisionProvider decodes
// them, fuseDetections counts the units, and the lines are compared with the expected counts per
// GTIN-14. A line is exact when its quantity equals the expected one; a phantom is a line whose
// GTIN the video does not contain. Prints per video: frames, extraction and decoding time,
// ms/frame, exact/expected lines, phantoms, and every difference. Exit code 1 unless every line
// of every video is exact with no phantom.
//
// It runs the compiled modules of apps/api/dist (VISION_DIST overrides the folder). No network.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FFMPEG = process.env.FFMPEG_PATH ?? require('@ffmpeg-installer/ffmpeg').path;
const DIST = resolve(process.env.VISION_DIST ?? join(ROOT, 'apps/api/dist'));
const out = (line = '') => process.stdout.write(`${line}\n`);

function parseArgs(argv) {
  const args = { folder: join(ROOT, 'eval/videos'), fps: 2, json: false, maxSide: 1280, autorotate: true };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--fps') args.fps = Number(argv[++i]);
    else if (a === '--max-side') args.maxSide = Number(argv[++i]);
    else if (a === '--json') args.json = true;
    else if (a === '--no-autorotate') args.autorotate = false;
    else args.folder = resolve(a);
  }
  if (!(args.fps > 0 && args.fps <= 30)) throw new Error('--fps must be within (0, 30]');
  return args;
}

function run(command, args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) =>
      status === 0 ? resolvePromise() : reject(new Error(`${command} exited with ${status}: ${stderr.slice(-800)}`)),
    );
  });
}

/** Samples frames at `fps` into `dir` as JPEG; returns FrameInput[] (timestamps from the sampling rate). */
export async function extractFrames(video, dir, fps, maxSide, autorotate = true) {
  const scale = `scale='if(gte(iw,ih),min(${maxSide},iw),-2)':'if(gte(iw,ih),-2,min(${maxSide},ih))'`;
  await run(FFMPEG, [
    '-hide_banner',
    '-loglevel',
    'error',
    ...(autorotate ? [] : ['-noautorotate']),
    '-i',
    video,
    '-vf',
    `fps=${fps},${scale}`,
    '-q:v',
    '2',
    join(dir, '%05d.jpg'),
  ]);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort();
  return files.map((file, index) => ({
    frameId: `${index}`,
    index,
    timestampMs: Math.round((index * 1000) / fps),
    path: join(dir, file),
    width: 0,
    height: 0,
  }));
}

/** Compares fused lines with the expected counts per GTIN-14. */
export function compare(lines, expectedCounts) {
  const got = new Map();
  for (const line of lines) if (line.gtin) got.set(line.gtin, (got.get(line.gtin) ?? 0) + line.quantity);
  const differences = [];
  let exact = 0;
  for (const [gtin, want] of Object.entries(expectedCounts)) {
    const have = got.get(gtin) ?? 0;
    if (have === want) exact += 1;
    else differences.push({ gtin, expected: want, counted: have });
  }
  const phantoms = [...got.entries()]
    .filter(([gtin]) => !(gtin in expectedCounts))
    .map(([gtin, n]) => ({ gtin, counted: n }));
  return { exact, expectedLines: Object.keys(expectedCounts).length, differences, phantoms };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { BarcodeVisionProvider } = await import(
    pathToFileURL(join(DIST, 'modules/vision/providers/barcode.provider.js')).href
  );
  const { fuseDetections } = await import(pathToFileURL(join(DIST, 'modules/vision/fusion.js')).href);
  const expected = JSON.parse(await readFile(join(args.folder, 'expected.json'), 'utf8'));
  const provider = new BarcodeVisionProvider();
  const report = [];
  let failures = 0;
  for (const [file, entry] of Object.entries(expected)) {
    const dir = await mkdtemp(join(tmpdir(), 'miinventario-eval-'));
    try {
      const t0 = performance.now();
      const frames = await extractFrames(join(args.folder, file), dir, args.fps, args.maxSide, args.autorotate);
      const t1 = performance.now();
      const detections = await provider.detectProducts(frames);
      const t2 = performance.now();
      const lines = fuseDetections(detections, { mode: 'barcode', reviewThreshold: 0.6 });
      const t3 = performance.now();
      const result = compare(lines, entry.counts);
      const ok = result.differences.length === 0 && result.phantoms.length === 0;
      if (!ok) failures += 1;
      report.push({
        file,
        frames: frames.length,
        extractMs: Math.round(t1 - t0),
        decodeMs: Math.round(t2 - t1),
        msPerFrame: Math.round(((t2 - t1) / Math.max(1, frames.length)) * 10) / 10,
        fusionMs: Math.round((t3 - t2) * 10) / 10,
        reads: detections.reduce((n, d) => n + d.candidates.length, 0),
        needsReview: lines.filter((l) => l.needsReview).length,
        ...result,
        ok,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (args.json) {
    out(JSON.stringify({ fps: args.fps, videos: report }, null, 2));
  } else {
    out(
      `barcode mode, ${args.fps} frames/s, long side ≤ ${args.maxSide} px${args.autorotate ? '' : ', rotation metadata ignored'}`,
    );
    for (const r of report) {
      out(
        `${r.ok ? 'OK  ' : 'FAIL'} ${r.file}: ${r.exact}/${r.expectedLines} exact lines, ${r.phantoms.length} phantoms, ` +
          `${r.frames} frames, ${r.reads} reads, extract ${r.extractMs} ms, decode ${r.decodeMs} ms (${r.msPerFrame} ms/frame), ` +
          `fusion ${r.fusionMs} ms, ${r.needsReview} lines to review`,
      );
      for (const d of r.differences) out(`     ${d.gtin}: expected ${d.expected}, counted ${d.counted}`);
      for (const p of r.phantoms) out(`     phantom ${p.gtin}: counted ${p.counted}`);
    }
  }
  process.exitCode = failures === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
