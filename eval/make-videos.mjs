// Makes the evaluation videos of issue 6 "Accuracy evaluation" (see eval/README.md).
//
// Run from the repository root: `node eval/make-videos.mjs [name…]` (no name = all). For each
// scene below it composes a wide "shelf" image with sharp from real photos — barcode photos of
// apps/api/test/fixtures/barcodes (zxing and quagga2 test suites) and grocery photos of
// eval/photos (GroceryStoreDataset) — placed at known positions, some repeated side by side,
// then moves a camera window over it (pan, hand shake, vertical drift, zoom, roll) and pipes the
// rendered frames to ffmpeg (the npm binary of @ffmpeg-installer, or FFMPEG_PATH): H.264 mp4 in
// eval/videos/. The true count per GTIN-14 follows from the layout and is written to
// eval/videos/expected.json. Everything is deterministic (seeded pseudo-random numbers), so a
// re-run gives the same layout and counts.
import { spawn } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const sharp = require('sharp');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BARCODES = join(ROOT, 'apps/api/test/fixtures/barcodes');
const PHOTOS = join(ROOT, 'eval/photos');
const OUT = join(ROOT, 'eval/videos');
const FFMPEG = process.env.FFMPEG_PATH ?? require('@ffmpeg-installer/ffmpeg').path;
const out = (line = '') => process.stdout.write(`${line}\n`);

/** Wall behind the shelf and the shelf board, RGB. */
const WALL = { r: 214, g: 208, b: 196 };
const BOARD = { r: 122, g: 86, b: 52 };
const BOARD_HEIGHT = 28;
const GAP = 18;
const MARGIN = 900;

// Items: a barcode photo (`code`, file name in fixtures/barcodes) or a grocery photo without a
// visible code (`photo`, file name in eval/photos: counted by vision mode only).
const code = (file) => ({ kind: 'code', file });
const photo = (file) => ({ kind: 'photo', file: `grocerystore_${file}_001.jpg`, label: file });
const times = (n, item) => Array.from({ length: n }, () => item);

/**
 * The scenes. `rowHeight` = item height on the shelf (shelf pixels). The camera is a list of
 * keyframes `{ t (s), x (0 = window at the left end of the shelf, 1 = at the right end), row
 * (shelf row at the window centre, fractional), h (window height, shelf px), roll (degrees) }`
 * joined by eased segments, plus seeded hand shake of `shake` shelf pixels. Window heights are
 * chosen so a 4:3 photo of 480 px shows about 400–500 px tall on screen (0.85–1.05 of its own
 * resolution: the close framing a scan needs), and pan speeds are those of a person filming a
 * shelf: slow ≈ 200, moderate ≈ 300–400, fast ≈ 500 screen px/s (printed when generating).
 */
export const SCENES = [
  {
    name: 'sample-shelf',
    description:
      'Realistic mix on two shelves, filmed shelf by shelf (top row left to right, down, bottom row right to left): three identical cans side by side, pairs, one product shown by two different photos of the same code, codes turned 90° and cartons without a visible code; moderate pan with vertical drift and hand shake.',
    size: [1280, 720],
    fps: 25,
    seconds: 25,
    rowHeight: 520,
    rows: [
      [
        ...times(3, code('zxing_ean13-1_01.png')),
        photo('Bravo-Apple-Juice'),
        code('zxing_ean13-1_04.png'),
        ...times(2, code('zxing_upca-4_08.png')),
        code('zxing_upca-5_03.png'),
        code('zxing_upca-5_12.png'),
      ],
      [
        code('zxing_ean13-1_21.png'),
        ...times(2, code('zxing_upca-1_21.png')),
        photo('Tropicana-Mandarin-Morning'),
        code('zxing_ean13-1_09.png'),
        code('quagga2_upc_image-009.jpg'),
        code('quagga2_ean_image-003.jpg'),
        code('quagga2_ean_8_image-007.jpg'),
      ],
    ],
    camera: [
      { t: 0, x: 0, row: 0.1, h: 858, roll: 0 },
      { t: 1, x: 0, row: 0.12, h: 858, roll: 0.5 },
      { t: 11.5, x: 1, row: 0.05, h: 832, roll: -0.5 },
      { t: 13.5, x: 1, row: 1.0, h: 858, roll: 0 },
      { t: 24, x: 0, row: 0.92, h: 884, roll: 0.4 },
      { t: 25, x: 0, row: 0.92, h: 884, roll: 0.4 },
    ],
    shake: 6,
  },
  {
    name: 'slow-pan',
    description:
      'One shelf filmed close, slow left-to-right pan (about 200 px/s on screen): seven products, one of them twice side by side, and a carton without a visible code.',
    size: [1280, 720],
    fps: 25,
    seconds: 24,
    rowHeight: 520,
    rows: [
      [
        code('zxing_ean13-1_02.png'),
        code('zxing_upca-4_11.png'),
        ...times(2, code('zxing_ean13-1_23.png')),
        photo('Oatly-Oat-Milk'),
        code('zxing_upca-1_28.png'),
        code('zxing_upca-2_19.png'),
        code('quagga2_ean_8_image-001.jpg'),
        code('zxing_upca-5_20.png'),
      ],
    ],
    camera: [
      { t: 0, x: 0, row: 0, h: 686, roll: 0 },
      { t: 1, x: 0, row: 0, h: 686, roll: 0 },
      { t: 23, x: 1, row: 0.05, h: 686, roll: 0.6 },
      { t: 24, x: 1, row: 0.05, h: 686, roll: 0.6 },
    ],
    shake: 4,
  },
  {
    name: 'fast-pan',
    description:
      'One shelf, fast pan (about 550 px/s on screen, motion blur of a 1/250 s exposure): nine items, three identical side by side and two identical side by side.',
    size: [1280, 720],
    fps: 25,
    seconds: 12,
    rowHeight: 520,
    exposure: 1 / 250,
    rows: [
      [
        code('zxing_upca-4_14.png'),
        ...times(3, code('zxing_ean13-1_03.png')),
        code('zxing_upca-2_02.png'),
        photo('God-Morgon-Orange-Juice'),
        ...times(2, code('zxing_upca-1_02.png')),
        code('quagga2_ean_8_image-006.jpg'),
        code('zxing_ean13-1_10.png'),
      ],
    ],
    camera: [
      { t: 0, x: 0, row: 0, h: 728, roll: 0 },
      { t: 0.6, x: 0, row: 0, h: 728, roll: 0 },
      { t: 11.4, x: 1, row: -0.04, h: 728, roll: -0.8 },
      { t: 12, x: 1, row: -0.04, h: 728, roll: -0.8 },
    ],
    shake: 8,
  },
  {
    name: 'rotated-phone',
    description:
      'Phone held upright (portrait): stored as 1280x720 with rotation metadata 90°, shown 720x1280; camera rolled about 6°, two shelves in view, slow pan; two pairs of identical items.',
    size: [720, 1280],
    rotateMetadata: 90,
    fps: 25,
    seconds: 18,
    rowHeight: 520,
    rows: [
      [
        code('zxing_upca-4_15.png'),
        ...times(2, code('quagga2_ean_8_image-009.jpg')),
        code('zxing_ean13-1_06.png'),
        photo('Alpro-Fresh-Soy-Milk'),
        code('zxing_upca-2_47.png'),
        code('quagga2_upc_image-007.jpg'),
      ],
      [
        code('quagga2_ean_image-003.jpg'),
        code('zxing_upca-2_09.png'),
        ...times(2, code('zxing_ean13-1_08.png')),
        code('quagga2_ean_8_image-010.jpg'),
        code('zxing_upca-2_33.png'),
      ],
    ],
    camera: [
      { t: 0, x: 0, row: 0.5, h: 1529, roll: 6 },
      { t: 1, x: 0, row: 0.5, h: 1529, roll: 6 },
      { t: 17, x: 1, row: 0.55, h: 1529, roll: 5 },
      { t: 18, x: 1, row: 0.55, h: 1529, roll: 5 },
    ],
    shake: 8,
  },
  {
    name: 'back-and-forth',
    description:
      'One shelf: pan right, back left to the start, then right again a third of the way, zooming in and out (about 400 px/s on screen); four identical items in a row leave and re-enter the view.',
    size: [1280, 720],
    fps: 25,
    seconds: 25,
    rowHeight: 520,
    rows: [
      [
        code('zxing_ean13-1_20.png'),
        code('quagga2_upc_image-008.jpg'),
        ...times(4, code('zxing_upca-4_08.png')),
        photo('Bravo-Apple-Juice'),
        code('quagga2_ean_8_image-003.jpg'),
      ],
    ],
    camera: [
      { t: 0, x: 0, row: 0, h: 728, roll: 0 },
      { t: 0.5, x: 0, row: 0, h: 728, roll: 0 },
      { t: 10.5, x: 1, row: 0, h: 806, roll: 1 },
      { t: 11.5, x: 1, row: 0, h: 806, roll: 1 },
      { t: 21, x: 0, row: -0.05, h: 702, roll: -1 },
      { t: 21.5, x: 0, row: -0.05, h: 702, roll: -1 },
      { t: 25, x: 0.3, row: 0.05, h: 754, roll: 0 },
    ],
    shake: 6,
  },
];

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`${command} exited with ${status}`))));
  });
}

/** Seeded PRNG (mulberry32). */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text) {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** GTIN-14 of a fixture's expected text (every fixture value is a valid 8, 12 or 13-digit GTIN). */
const gtin14 = (digits) => digits.padStart(14, '0');

/** Composes the shelf: returns the raw RGB canvas and the items with their shelf boxes. */
export async function composeShelf(scene, expectedByFile) {
  const rnd = random(seedOf(scene.name));
  const rowHeight = scene.rowHeight;
  const placed = [];
  const layers = [];
  let width = 0;
  const tiles = new Map();
  for (const row of scene.rows) {
    for (const item of row) {
      if (tiles.has(item.file)) continue;
      const path = join(item.kind === 'code' ? BARCODES : PHOTOS, item.file);
      const meta = await sharp(path).metadata();
      tiles.set(item.file, { path, aspect: meta.width / meta.height });
    }
  }
  let y = MARGIN;
  for (const row of scene.rows) {
    let x = MARGIN;
    for (const item of row) {
      const tile = tiles.get(item.file);
      // Each unit differs a little: size ±4 %, tilt ±2.5°, height on the board ±10 px.
      const scale = 1 + (rnd() - 0.5) * 0.08;
      const angle = (rnd() - 0.5) * 5;
      const h = Math.round(rowHeight * scale * 0.94);
      const w = Math.round(h * tile.aspect);
      const image = await sharp(tile.path)
        .resize(w, h)
        .rotate(angle, { background: WALL })
        .removeAlpha()
        .png()
        .toBuffer({ resolveWithObject: true });
      const top = Math.round(y + rowHeight - image.info.height + (rnd() - 0.5) * 20);
      layers.push({ input: image.data, left: Math.round(x), top });
      const entry = { ...item, box: { x: Math.round(x), y: top, w: image.info.width, h: image.info.height } };
      if (item.kind === 'code') {
        const expected = expectedByFile.get(item.file);
        if (!expected) throw new Error(`${item.file} is not in fixtures/barcodes/expected.json`);
        entry.gtin = gtin14(expected.text);
      }
      placed.push(entry);
      x += image.info.width + GAP + rnd() * 12;
    }
    width = Math.max(width, x);
    y += rowHeight + BOARD_HEIGHT + GAP;
    layers.push({
      input: { create: { width: Math.ceil(x - MARGIN + 80), height: BOARD_HEIGHT, channels: 3, background: BOARD } },
      left: MARGIN - 40,
      top: Math.round(y - BOARD_HEIGHT - GAP / 2),
    });
  }
  const shelfWidth = Math.ceil(width - MARGIN);
  const shelfHeight = Math.ceil(y - MARGIN);
  const canvasWidth = shelfWidth + 2 * MARGIN;
  const canvasHeight = shelfHeight + 2 * MARGIN;
  const { data, info } = await sharp({
    create: { width: canvasWidth, height: canvasHeight, channels: 3, background: WALL },
  })
    .composite(layers)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`shelf canvas has ${info.channels} channels`);
  return { data, canvasWidth, canvasHeight, shelf: { x: MARGIN, y: MARGIN, w: shelfWidth, h: shelfHeight }, placed };
}

/** Share of a segment covered after `tau` of `total` seconds: speed ramps up and down over at most 1 s. */
function ease(tau, total) {
  if (total <= 0) return 1;
  const ramp = Math.min(1, total / 4);
  const v = 1 / (total - ramp);
  if (tau <= 0) return 0;
  if (tau >= total) return 1;
  if (tau < ramp) return (0.5 * v * tau * tau) / ramp;
  if (tau > total - ramp) return 1 - (0.5 * v * (total - tau) ** 2) / ramp;
  return 0.5 * v * ramp + v * (tau - ramp);
}

/** Camera pose at time t: window centre (canvas px), window height (canvas px), roll (degrees). */
export function poseAt(scene, shelf, t, shake) {
  const keys = scene.camera;
  let k = 0;
  while (k < keys.length - 2 && t > keys[k + 1].t) k += 1;
  const a = keys[k];
  const b = keys[k + 1];
  const u = ease(t - a.t, b.t - a.t);
  const lerp = (p, q) => p + (q - p) * u;
  const h = lerp(a.h, b.h);
  const w = (h * scene.size[0]) / scene.size[1];
  // x = 0 puts the left edge of the window at the left end of the shelf, x = 1 the right edge at its right end.
  const span = Math.max(0, shelf.w - w + 120);
  const cx = shelf.x - 60 + w / 2 + lerp(a.x, b.x) * span;
  const pitch = scene.rowHeight + BOARD_HEIGHT + GAP;
  const cy = shelf.y + lerp(a.row, b.row) * pitch + scene.rowHeight / 2;
  return { cx: cx + shake.x(t), cy: cy + shake.y(t), h, w, roll: lerp(a.roll, b.roll) + shake.roll(t) };
}

/** Smooth seeded hand shake: a sum of slow sines per axis. */
export function makeShake(scene) {
  const rnd = random(seedOf(`${scene.name}/shake`));
  const waves = () =>
    Array.from({ length: 3 }, (_, i) => ({ f: 0.3 + rnd() * (0.8 + i), p: rnd() * Math.PI * 2, a: 0.5 + rnd() }));
  const axis = (amp, list) => (t) =>
    (amp * list.reduce((s, w) => s + w.a * Math.sin(2 * Math.PI * w.f * t + w.p), 0)) / list.length;
  return { x: axis(scene.shake, waves()), y: axis(scene.shake, waves()), roll: axis(0.3, waves()) };
}

/** Renders one frame (RGB, the scene's stored orientation) for a camera pose. */
/**
 * A horizontal box blur `length` screen pixels long (motion blur of a pan), as a 3-row kernel
 * (sharp needs odd sizes ≥ 3); sub-pixel lengths weight the two end taps.
 */
function motionBlurKernel(length) {
  const width = Math.max(3, 2 * Math.ceil((length - 1) / 2) + 1);
  const row = Array.from({ length: width }, (_, i) => {
    const d = Math.abs(i - (width - 1) / 2);
    return Math.max(0, Math.min(1, length / 2 - d + 0.5));
  });
  const zeros = Array(width).fill(0);
  return { width, height: 3, kernel: [...zeros, ...row, ...zeros] };
}

export async function renderFrame(shelfImage, scene, pose, blurPx) {
  const [outW, outH] = scene.size;
  const diag = Math.ceil(Math.hypot(pose.w, pose.h)) + 4;
  const left = Math.round(pose.cx - diag / 2);
  const top = Math.round(pose.cy - diag / 2);
  let pipeline = sharp(shelfImage.data, {
    raw: { width: shelfImage.canvasWidth, height: shelfImage.canvasHeight, channels: 3 },
  }).extract({ left, top, width: diag, height: diag });
  // The camera rolled by `roll` turns the picture the other way.
  pipeline = pipeline.rotate(-pose.roll, { background: WALL }).removeAlpha();
  const w = Math.round(pose.w);
  const h = Math.round(pose.h);
  let buffer = await pipeline.raw().toBuffer({ resolveWithObject: true });
  buffer = await sharp(buffer.data, {
    raw: { width: buffer.info.width, height: buffer.info.height, channels: buffer.info.channels },
  })
    .extract({
      left: Math.round((buffer.info.width - w) / 2),
      top: Math.round((buffer.info.height - h) / 2),
      width: w,
      height: h,
    })
    .resize(outW, outH, { kernel: 'lanczos3' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (blurPx >= 1.5) {
    buffer = await sharp(buffer.data, { raw: { width: outW, height: outH, channels: 3 } })
      .convolve(motionBlurKernel(blurPx))
      .raw()
      .toBuffer({ resolveWithObject: true });
  }
  if (scene.rotateMetadata === 90) {
    // Stored sideways, as a phone sensor records a portrait video; the display matrix written with
    // `rotate=90` makes players (and ffmpeg's autorotate) turn it back 90° counter-clockwise.
    return sharp(buffer.data, { raw: { width: outW, height: outH, channels: 3 } })
      .rotate(90)
      .raw()
      .toBuffer();
  }
  return buffer.data;
}

/** Fastest camera motion of the scene without shake, screen pixels per second. */
function topSpeedOf(scene, shelfImage, fps) {
  const still = { x: () => 0, y: () => 0, roll: () => 0 };
  const total = Math.round(scene.seconds * fps);
  let top = 0;
  for (let i = 1; i < total; i += 1) {
    const a = poseAt(scene, shelfImage.shelf, (i - 1) / fps, still);
    const b = poseAt(scene, shelfImage.shelf, i / fps, still);
    top = Math.max(top, Math.hypot(b.cx - a.cx, b.cy - a.cy) * (scene.size[1] / b.h) * fps);
  }
  return top;
}

async function makeVideo(scene, expectedByFile, dryRun) {
  const shelfImage = await composeShelf(scene, expectedByFile);
  const shake = makeShake(scene);
  const stored = scene.rotateMetadata === 90 ? [scene.size[1], scene.size[0]] : scene.size;
  const fps = scene.fps;
  const file = `${scene.name}.mp4`;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${stored[0]}x${stored[1]}`,
    '-r',
    String(fps),
    '-i',
    '-',
    '-c:v',
    'libx264',
    '-preset',
    'slow',
    '-crf',
    String(scene.crf ?? 25),
    '-pix_fmt',
    'yuv420p',
    '-r',
    String(scene.fps),
    '-movflags',
    '+faststart',
    '-an',
    join(OUT, scene.rotateMetadata ? `${scene.name}.tmp.mp4` : file),
  ];
  if (dryRun) {
    out(
      `${scene.name}: shelf ${shelfImage.shelf.w}x${shelfImage.shelf.h} px, top pan speed ${Math.round(topSpeedOf(scene, shelfImage, fps))} px/s on screen`,
    );
    return null;
  }
  const ffmpeg = spawn(FFMPEG, args, { stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise((resolve, reject) => {
    ffmpeg.on('error', reject);
    ffmpeg.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${status}`))));
  });
  const total = Math.round(scene.seconds * fps);
  const topSpeed = topSpeedOf(scene, shelfImage, fps);
  for (let i = 0; i < total; i += 1) {
    const pose = poseAt(scene, shelfImage.shelf, i / fps, shake);
    let blurPx = 0;
    if (scene.exposure) {
      // Screen distance the view travels while the shutter is open.
      const later = poseAt(scene, shelfImage.shelf, i / fps + scene.exposure, shake);
      blurPx = Math.abs(later.cx - pose.cx) * (scene.size[1] / pose.h);
    }
    const frame = await renderFrame(shelfImage, scene, pose, blurPx);
    if (!ffmpeg.stdin.write(frame)) await new Promise((resolve) => ffmpeg.stdin.once('drain', resolve));
  }
  ffmpeg.stdin.end();
  await done;
  if (scene.rotateMetadata) {
    // This ffmpeg writes the rotation (display matrix) only when remuxing, not while encoding.
    const temp = join(OUT, `${scene.name}.tmp.mp4`);
    await run(FFMPEG, [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-i',
      temp,
      '-c',
      'copy',
      '-metadata:s:v:0',
      `rotate=${scene.rotateMetadata}`,
      '-movflags',
      '+faststart',
      join(OUT, file),
    ]);
    await rm(temp);
  }
  const counts = {};
  const visualOnly = {};
  for (const item of shelfImage.placed) {
    if (item.kind === 'code') counts[item.gtin] = (counts[item.gtin] ?? 0) + 1;
    else visualOnly[item.label] = (visualOnly[item.label] ?? 0) + 1;
  }
  const sortKeys = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  const bytes = (await stat(join(OUT, file))).size;
  const units = Object.values(counts).reduce((a, b) => a + b, 0);
  out(
    `${file}: ${scene.seconds} s, ${bytes} bytes, ${units} coded items, top pan speed ${Math.round(topSpeed)} px/s on screen`,
  );
  return [
    file,
    {
      description: scene.description,
      seconds: scene.seconds,
      topPanSpeedPxPerS: Math.round(topSpeed),
      display: `${scene.size[0]}x${scene.size[1]}`,
      counts: sortKeys(counts),
      visualOnly: sortKeys(visualOnly),
      layout: shelfImage.placed.map((item) => ({
        file: item.file,
        gtin: item.gtin ?? null,
        box: { ...item.box, x: item.box.x - MARGIN, y: item.box.y - MARGIN },
      })),
    },
  ];
}

async function main() {
  const expected = JSON.parse(await readFile(join(BARCODES, 'expected.json'), 'utf8'));
  const expectedByFile = new Map(expected.items.map((item) => [item.file, item]));
  const dryRun = process.argv.includes('--dry-run');
  const wanted = process.argv.slice(2).filter((a) => a !== '--dry-run');
  const scenes = wanted.length ? SCENES.filter((s) => wanted.includes(s.name)) : SCENES;
  if (wanted.length && scenes.length !== wanted.length) throw new Error(`unknown scene in ${wanted.join(', ')}`);
  const expectedPath = join(OUT, 'expected.json');
  let previous;
  try {
    previous = JSON.parse(await readFile(expectedPath, 'utf8'));
  } catch {
    previous = {};
  }
  const entries = { ...previous };
  for (const scene of scenes) {
    const made = await makeVideo(scene, expectedByFile, dryRun);
    if (made) entries[made[0]] = made[1];
  }
  if (dryRun) return;
  const ordered = Object.fromEntries(
    SCENES.map((s) => `${s.name}.mp4`)
      .filter((f) => entries[f])
      .map((f) => [f, entries[f]]),
  );
  await writeFile(expectedPath, `${JSON.stringify(ordered, null, 2)}\n`);
  out(`wrote ${expectedPath}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
