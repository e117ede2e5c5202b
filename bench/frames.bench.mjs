// Frame extraction + selection benchmark (issue 5). Run from the repository root after building
// the API: `npm run build -w @miinventario/api && node bench/frames.bench.mjs` (bench/frames.md).
//
// Input: a 60 s 1920x1080 30 fps H.264 video, a slow pan over a large "shelf" composed from the
// real photos of the shared fixtures (shelves/, products/), generated once with the npm ffmpeg
// and cached under .data/bench/ (never committed; delete it to regenerate).
//
// In the same run, interleaved BENCH_ROUNDS (3) times, it times:
//   (a) baseline: ffmpeg decode only, `ffmpeg -i video -f null -` (same binary, default threads);
//   (b) the pipeline's media steps from apps/api/dist: extractFrames (FRAME_SAMPLE_FPS 2,
//       FRAME_MAX_SIDE_PX 1280) + measureFrames + selectFrames (threshold 60, distance 6,
//       16 frames per minute, the env.schema.ts defaults).
// It prints wall time and CPU time (this process + its waited-for children, from /proc) of each,
// the medians, frames sampled / kept / kept per minute, and the ratio b / a (goal ≤ 1.5).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'apps/api/dist/modules/media/index.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = 60;
const FIXTURES = process.env.MIINVENTARIO_FIXTURES ?? join(root, '..', 'shared', 'fixtures');
const CACHE = join(root, '.data', 'bench');
const VIDEO = join(CACHE, 'frames-shelf-pan-60s-1080p30.mp4');
const out = (line = '') => process.stdout.write(`${line}\n`);

if (!existsSync(dist)) {
  process.stderr.write(`missing ${dist}: run \`npm run build -w @miinventario/api\` first\n`);
  process.exit(2);
}
const media = await import(dist);
const tools = media.defaultMediaTools();

const watchdog = setTimeout(
  () => {
    process.stderr.write('frames bench: watchdog timeout, exiting\n');
    process.exit(2);
  },
  30 * 60 * 1000,
);
watchdog.unref();

function run(binary, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${binary} exited ${code}: ${stderr}`))));
  });
}

/** CPU seconds so far of this process and of its children that have been waited for (Linux /proc). */
async function cpuSeconds() {
  try {
    const stat = await readFile('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime are fields 14–17 (1-based); the slice starts at field 3.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

async function timed(work) {
  const cpu0 = await cpuSeconds();
  const t0 = performance.now();
  const result = await work();
  const wall = (performance.now() - t0) / 1000;
  return { wall, cpu: (await cpuSeconds()) - cpu0, result };
}

/** A wide shelf: the five cabinet photos side by side, with a row of product photos under them. */
async function buildShelf(dir) {
  const shelfHeight = 1400;
  const shelves = (await readdir(join(FIXTURES, 'shelves'))).filter((name) => name.endsWith('.jpg')).sort();
  const products = (await readdir(join(FIXTURES, 'products'))).filter((name) => name.endsWith('.jpg')).sort();
  const parts = [];
  let width = 0;
  for (const name of shelves) {
    const { data, info } = await sharp(join(FIXTURES, 'shelves', name))
      .resize({ height: shelfHeight })
      .toBuffer({ resolveWithObject: true });
    parts.push({ input: data, left: width, top: 0 });
    width += info.width;
  }
  const tile = 348;
  for (let x = 0, i = 0; x < width; x += tile, i += 1) {
    const input = await sharp(join(FIXTURES, 'products', products[i % products.length]))
      .resize(tile, tile)
      .toBuffer();
    parts.push({ input, left: x, top: shelfHeight });
  }
  const path = join(dir, 'shelf.png');
  await sharp({ create: { width, height: shelfHeight + tile, channels: 3, background: '#404040' } })
    .composite(parts.map((part) => ({ ...part, input: part.input })))
    .png()
    .toFile(path);
  return { path, width, height: shelfHeight + tile };
}

async function ensureVideo() {
  if (existsSync(VIDEO)) return;
  await mkdir(CACHE, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'mi-frames-bench-'));
  try {
    out('generating the 60 s 1080p input (once; cached in .data/bench/)…');
    const shelf = await buildShelf(work);
    // A 16:9 window as tall as the shelf slides across it in 60 s, scaled to 1920x1080.
    const windowWidth = Math.round((shelf.height * 16) / 9 / 2) * 2;
    const travel = shelf.width - windowWidth;
    const partial = `${VIDEO}.partial.mp4`;
    await run(tools.ffmpegPath, [
      '-hide_banner',
      '-v',
      'error',
      '-y',
      '-loop',
      '1',
      '-framerate',
      '30',
      '-i',
      shelf.path,
      '-vf',
      `crop=${windowWidth}:${shelf.height}:x='min(t/${SECONDS}*${travel}\\,${travel})':y=0,scale=1920:1080,setsar=1`,
      '-t',
      String(SECONDS),
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '20',
      '-pix_fmt',
      'yuv420p',
      '-movflags',
      '+faststart',
      partial,
    ]);
    await rename(partial, VIDEO);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

await ensureVideo();
const probe = await media.probeVideo(VIDEO);
out(
  `input: ${probe.width}x${probe.height} ${probe.videoCodec} ${probe.fps} fps, ${(probe.durationMs / 1000).toFixed(1)} s, ` +
    `${(probe.sizeBytes / 1e6).toFixed(1)} MB`,
);
out(`rounds: ${ROUNDS} (baseline and pipeline interleaved)`);
out();

const baseline = [];
const pipeline = [];
let last;
for (let round = 1; round <= ROUNDS; round += 1) {
  const a = await timed(() => run(tools.ffmpegPath, ['-hide_banner', '-v', 'error', '-i', VIDEO, '-f', 'null', '-']));
  baseline.push(a);
  const dir = await mkdtemp(join(tmpdir(), 'mi-frames-'));
  try {
    const extract = await timed(() => media.extractFrames(VIDEO, dir, { fps: 2, maxSidePx: 1280, probe }));
    const measure = await timed(() => media.measureFrames(extract.result));
    const select = await timed(async () =>
      media.selectFrames(measure.result, {
        blurThreshold: 60,
        duplicateMaxDistance: 6,
        maxPerMinute: 16,
        durationMs: probe.durationMs,
      }),
    );
    const b = {
      wall: extract.wall + measure.wall + select.wall,
      cpu: extract.cpu + measure.cpu + select.cpu,
      extract,
      measure,
      select,
    };
    pipeline.push(b);
    last = { frames: extract.result, measured: measure.result, decisions: select.result };
    out(
      `round ${round}: decode-only ${a.wall.toFixed(2)} s (cpu ${a.cpu.toFixed(2)} s) | ` +
        `extract ${extract.wall.toFixed(2)} s (cpu ${extract.cpu.toFixed(2)}) + measure ${measure.wall.toFixed(2)} s ` +
        `(cpu ${measure.cpu.toFixed(2)}) + select ${(select.wall * 1000).toFixed(1)} ms = ${b.wall.toFixed(2)} s ` +
        `(cpu ${b.cpu.toFixed(2)} s) | ratio ${(b.wall / a.wall).toFixed(2)}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const count = (reason) => last.decisions.filter((decision) => decision.rejectedReason === reason).length;
const kept = last.decisions.filter((decision) => decision.kept).length;
const minutes = probe.durationMs / 60000;
const a = median(baseline.map((run) => run.wall));
const b = median(pipeline.map((run) => run.wall));
const aCpu = median(baseline.map((run) => run.cpu));
const bCpu = median(pipeline.map((run) => run.cpu));
out();
out(
  `frames sampled ${last.frames.length} (${last.frames[0].width}x${last.frames[0].height}), kept ${kept} ` +
    `(${(kept / minutes).toFixed(1)} per minute); rejected BLUR ${count('BLUR')}, DUPLICATE ${count('DUPLICATE')}, CAP ${count('CAP')}`,
);
const sharpness = last.measured.map((frame) => frame.sharpness).sort((x, y) => x - y);
out(
  `sharpness min ${sharpness[0].toFixed(0)}, median ${median(sharpness).toFixed(0)}, max ${sharpness.at(-1).toFixed(0)}; ` +
    `blur cutoff ${media.blurCutoff(sharpness, 60).toFixed(0)}`,
);
out(
  `median of ${ROUNDS}: (a) decode-only ${a.toFixed(2)} s wall, ${aCpu.toFixed(2)} s cpu; ` +
    `(b) extract + measure + select ${b.toFixed(2)} s wall, ${bCpu.toFixed(2)} s cpu`,
);
out(`ratio b/a: ${(b / a).toFixed(2)} wall, ${(bCpu / aCpu).toFixed(2)} cpu (goal ≤ 1.5 wall)`);
