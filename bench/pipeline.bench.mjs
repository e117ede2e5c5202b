// Processing benchmark of issue 6. Run from the repository root after building the API:
// `npm run build -w @miinventario/api && node bench/pipeline.bench.mjs` (bench/pipeline.md).
//
// Input: a 60 s 1920x1080 30 fps H.264 video of one long shelf (28 items: 25 units of 17 products
// with a barcode, 3 cartons without; known counts), made once from the evaluation photos with
// eval/make-videos.mjs's scene renderer and cached under .data/bench/ (never committed; delete it
// to regenerate, about 3–4 minutes).
//
// The real API (apps/api/dist, `createApp`, in-process queue, local files, offline barcode
// provider) runs on a fresh PostgreSQL database. Each round, interleaved BENCH_ROUNDS (3) times:
//   (a) baseline: ffmpeg decode only, `ffmpeg -threads 0 -i video -f null -` (the npm binary, the
//       threads setting the extractor uses);
//   (b) the product: an inventory session, the video uploaded with tus (not timed), and the whole
//       `process-session` job to READY; the job's own step timings (extract, select, store, detect,
//       fuse, write; the `session processed` log line) are read from the API's log.
// It prints wall and CPU seconds (this process and the ffmpeg it waited for, from /proc; and the
// database's backends when the server runs here), the ratios total / decode-only (goal ≤ 1.5) and
// total / video length (goal ≤ 0.25), frames sampled / kept / kept per minute (goal ≤ 16) and the
// load average. Anomaly (exit code 1): a report whose counts differ from the video's known counts,
// or a job that does not end READY.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = process.env.BENCH_API_DIST ?? join(root, 'apps/api/dist');
const load = (path) => import(pathToFileURL(join(dist, path)).href);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CACHE = process.env.BENCH_CACHE_DIR ?? join(root, '.data', 'bench');
const VIDEO = join(CACHE, 'pipeline-shelf-60s-1080p30.mp4');
const TRUTH = join(CACHE, 'pipeline-shelf-60s-1080p30.json');
/** Bumped whenever the scene below changes, so a cached video of another scene is made again. */
const SCENE_VERSION = 1;
const out = (line = '') => process.stdout.write(`${line}\n`);

if (!existsSync(join(dist, 'app.factory.js'))) {
  process.stderr.write(`missing ${dist}/app.factory.js: run \`npm run build -w @miinventario/api\` first\n`);
  process.exit(2);
}

const watchdog = setTimeout(
  () => {
    process.stderr.write('pipeline bench: watchdog timeout, exiting\n');
    process.exit(2);
  },
  45 * 60 * 1000,
);
watchdog.unref();

// ------------------------------------------------------------------------------------ the video

const code = (file) => ({ kind: 'code', file });
const photo = (name) => ({ kind: 'photo', file: `grocerystore_${name}_001.jpg`, label: name });
const times = (n, item) => Array.from({ length: n }, () => item);

/**
 * One long shelf filmed left to right in 60 s (about 280 screen px/s at 720p, between the slow
 * and the sample evaluation videos), hand shake and roll as eval/make-videos.mjs renders them:
 * the products of three evaluation scenes side by side (no barcode repeats between groups),
 * with runs of 2 and 3 identical units and three cartons without a visible code.
 */
const SCENE = {
  name: 'bench-pipeline-60s',
  size: [1920, 1080],
  fps: 30,
  seconds: 60,
  rowHeight: 520,
  rows: [
    [
      ...times(3, code('zxing_ean13-1_01.png')),
      photo('Bravo-Apple-Juice'),
      code('zxing_ean13-1_04.png'),
      ...times(2, code('zxing_upca-4_08.png')),
      code('zxing_upca-5_03.png'),
      code('zxing_upca-5_12.png'),
      code('zxing_ean13-1_02.png'),
      code('zxing_upca-4_11.png'),
      ...times(2, code('zxing_ean13-1_23.png')),
      photo('Oatly-Oat-Milk'),
      code('zxing_upca-1_28.png'),
      code('zxing_upca-2_19.png'),
      code('quagga2_ean_8_image-001.jpg'),
      code('zxing_upca-5_20.png'),
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
    { t: 0, x: 0, row: 0.05, h: 858, roll: 0 },
    { t: 1, x: 0, row: 0.08, h: 858, roll: 0.4 },
    { t: 30, x: 0.5, row: 0, h: 845, roll: -0.4 },
    { t: 59, x: 1, row: 0.06, h: 870, roll: 0.3 },
    { t: 60, x: 1, row: 0.06, h: 870, roll: 0.3 },
  ],
  shake: 6,
};

function run(binary, args, stdin = 'ignore') {
  const child = spawn(binary, args, { stdio: [stdin, 'ignore', 'pipe'] });
  const done = new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${binary} exited ${code}: ${stderr}`))));
  });
  return { child, done };
}

/** Makes the video and its truth file once (counts per GTIN-14 follow from the layout). */
async function ensureVideo(ffmpegPath) {
  if (existsSync(VIDEO) && existsSync(TRUTH)) {
    const truth = JSON.parse(await readFile(TRUTH, 'utf8'));
    if (truth.sceneVersion === SCENE_VERSION) return truth;
  }
  await mkdir(CACHE, { recursive: true });
  out(`generating the 60 s 1080p input (once; cached in ${CACHE}, 3–4 minutes)…`);
  const scenes = await import(pathToFileURL(join(root, 'eval/make-videos.mjs')).href);
  const fixtures = JSON.parse(await readFile(join(root, 'apps/api/test/fixtures/barcodes/expected.json'), 'utf8'));
  const shelf = await scenes.composeShelf(SCENE, new Map(fixtures.items.map((item) => [item.file, item])));
  const shake = scenes.makeShake(SCENE);
  const partial = `${VIDEO}.partial.mp4`;
  const [width, height] = SCENE.size;
  // x264 veryfast CRF 20 (as bench/frames.bench.mjs): a phone-like High-profile H.264 stream.
  const encoder = run(
    ffmpegPath,
    [
      '-hide_banner',
      '-v',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${width}x${height}`,
      '-r',
      String(SCENE.fps),
      '-i',
      '-',
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
      '-an',
      partial,
    ],
    'pipe',
  );
  const total = SCENE.seconds * SCENE.fps;
  for (let i = 0; i < total; i += 1) {
    const frame = await scenes.renderFrame(shelf, SCENE, scenes.poseAt(SCENE, shelf.shelf, i / SCENE.fps, shake), 0);
    if (!encoder.child.stdin.write(frame)) await new Promise((resolve) => encoder.child.stdin.once('drain', resolve));
  }
  encoder.child.stdin.end();
  await encoder.done;
  const counts = {};
  for (const item of shelf.placed) if (item.kind === 'code') counts[item.gtin] = (counts[item.gtin] ?? 0) + 1;
  const truth = { sceneVersion: SCENE_VERSION, seconds: SCENE.seconds, counts };
  await rename(partial, VIDEO);
  await writeFile(TRUTH, `${JSON.stringify(truth, null, 2)}\n`);
  return truth;
}

// ------------------------------------------------------------------------------------ measuring

/** CPU seconds so far of this process and of the children it has waited for (Linux /proc). */
async function processCpu() {
  try {
    const stat = await readFile('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime: fields 14–17 (1-based); the slice starts at field 3. USER_HZ = 100.
    const ticks = (i) => Number(fields[i]) / 100;
    return { self: ticks(11) + ticks(12), children: ticks(13) + ticks(14) };
  } catch {
    return { self: Number.NaN, children: Number.NaN };
  }
}

/** CPU seconds so far of the PostgreSQL backends connected to `database` (0 when the server is elsewhere). */
async function backendCpu(database) {
  let total = 0;
  let pids;
  try {
    pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  } catch {
    return 0;
  }
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') return;
        // "postgres: <user> <database> …" or, with a cluster name, "postgres: 15/main: <user> <database> …".
        const title = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split(' ');
        const words = title[1]?.endsWith(':') ? title.slice(1) : title;
        if (words[2] !== database) return;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        total += (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        // Ended meanwhile, or not ours to read.
      }
    }),
  );
  return total;
}

async function loadAverage() {
  try {
    return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const s = (ms) => (ms / 1000).toFixed(2);

// ------------------------------------------------------------------------------------ database

async function databaseServer() {
  const external = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (external) {
    return {
      url: external,
      appPassword:
        process.env.DATABASE_APP_PASSWORD ??
        (process.env.TEST_DATABASE_URL ? 'miinventario-app-test' : 'miinventario-app-dev'),
      stop: async () => {},
    };
  }
  const { startEmbeddedPostgres } = await load('database/embedded-postgres.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'miinventario-bench-pg-'));
  await chmod(dataDir, 0o755);
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const server = await startEmbeddedPostgres(dataDir, 20000 + Math.floor(Math.random() * 20000), quiet);
  return {
    url: server.superuserUrl,
    appPassword: 'miinventario-bench',
    stop: async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------------ main

async function main() {
  const media = await load('modules/media/index.js');
  const tools = media.defaultMediaTools();
  const truth = await ensureVideo(tools.ffmpegPath);
  const probe = await media.probeVideo(VIDEO);
  const videoBytes = await readFile(VIDEO);
  out(
    `input: ${probe.width}x${probe.height} ${probe.videoCodec} ${probe.fps} fps, ${s(probe.durationMs)} s, ` +
      `${(probe.sizeBytes / 1e6).toFixed(1)} MB; ${Object.values(truth.counts).reduce((a, b) => a + b, 0)} coded ` +
      `units of ${Object.keys(truth.counts).length} products; ${availableParallelism()} CPUs; api: ${dist}`,
  );

  const server = await databaseServer();
  const name = `mi_bench_${randomBytes(4).toString('hex')}`;
  const serverUrl = new URL(server.url);
  serverUrl.pathname = '/postgres';
  const adminUrl = new URL(server.url);
  adminUrl.pathname = `/${name}`;
  const maintenance = new pg.Client({ connectionString: serverUrl.toString() });
  await maintenance.connect();
  await maintenance.query(`CREATE DATABASE ${name}`);
  const dataDir = await mkdtemp(join(tmpdir(), 'miinventario-bench-data-'));
  let app;
  let anomalies = 0;
  try {
    const { provisionRoles, deriveAppUrl } = await load('database/provisioner.js');
    const { runMigrations } = await load('database/data-sources.js');
    const { loadConfig } = await load('config/env.schema.js');
    const { ephemeralAuthEnv } = await load('modules/auth/local-secrets.js');
    const { createApp } = await load('app.factory.js');
    const { CreditsService } = await load('modules/credits/credits.service.js');
    const { toGtin14 } = await load('modules/vision/gtin.js');
    await provisionRoles(adminUrl.toString(), server.appPassword);
    await runMigrations(adminUrl.toString());
    const appUrl = deriveAppUrl(adminUrl.toString(), server.appPassword);
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      DATABASE_URL: adminUrl.toString(),
      DATABASE_APP_URL: appUrl,
      UPLOAD_MAX_BYTES: String(200 * 1024 * 1024),
      RATE_LIMIT_MAX: '1000000',
      SWEEPER_INTERVAL_SECONDS: '3600',
      ...ephemeralAuthEnv(),
    });

    // The job reports its steps in one `session processed` info line; everything else is dropped.
    const processed = new Map();
    const waiting = new Map();
    const logStream = {
      write(line) {
        if (!line.includes('session processed')) return;
        const entry = JSON.parse(line);
        if (entry.msg !== 'session processed') return;
        processed.set(entry.sessionId, entry);
        waiting.get(entry.sessionId)?.();
      },
    };
    app = await createApp(config, appUrl, pino({ level: 'info' }, logStream));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const baseUrl = `http://127.0.0.1:${app.getHttpServer().address().port}`;

    const phone = `+52558${String(Date.now() % 1e7).padStart(7, '0')}`;
    const requested = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/otp/request',
      payload: { identifier: phone },
    });
    if (requested.statusCode !== 202) throw new Error(`otp request: ${requested.statusCode} ${requested.body}`);
    const outbox = await app.inject({ method: 'GET', url: `/api/v1/dev/outbox?to=${encodeURIComponent(phone)}` });
    const otp = outbox.json().items[0].params.code;
    const verified = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/otp/verify',
      payload: { identifier: phone, code: otp },
    });
    const owner = verified.json();
    const auth = { authorization: `Bearer ${owner.accessToken}` };
    const store = await app.inject({
      method: 'POST',
      url: '/api/v1/stores',
      headers: auth,
      payload: { name: 'Abarrotes Benchmark', giro: 'abarrotes' },
    });
    if (store.statusCode !== 201) throw new Error(`store: ${store.statusCode} ${store.body}`);
    const storeId = store.json().id;
    const credits = app.get(CreditsService);
    await credits.grant({
      walletId: await credits.walletForUser(owner.user.id),
      type: 'PURCHASE',
      credits: ROUNDS + 1,
      referenceId: randomUUID(),
      idempotencyKey: `bench-purchase:${owner.user.id}`,
    });

    /** One inventory: session, tus upload (POST + PATCH), then the job to READY. */
    async function inventory() {
      const started = await app.inject({
        method: 'POST',
        url: `/api/v1/stores/${storeId}/inventory-sessions`,
        headers: auth,
        payload: {},
      });
      if (started.statusCode !== 201) throw new Error(`session: ${started.statusCode} ${started.body}`);
      const sessionId = started.json().id;
      const done = new Promise((resolve) => waiting.set(sessionId, resolve));
      const metadata = [`sessionId ${sessionId}`, 'filename estante.mp4', 'filetype video/mp4']
        .map((pair) => {
          const [key, value] = pair.split(' ');
          return `${key} ${Buffer.from(value).toString('base64')}`;
        })
        .join(',');
      const created = await fetch(`${baseUrl}/api/v1/uploads`, {
        method: 'POST',
        headers: {
          ...auth,
          'tus-resumable': '1.0.0',
          'upload-length': String(videoBytes.length),
          'upload-metadata': metadata,
        },
      });
      if (created.status !== 201) throw new Error(`tus POST: ${created.status} ${await created.text()}`);
      const cpu0 = await processCpu();
      const db0 = await backendCpu(name);
      const t0 = performance.now();
      const patched = await fetch(new URL(created.headers.get('location'), baseUrl), {
        method: 'PATCH',
        headers: {
          ...auth,
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
        body: videoBytes,
      });
      if (patched.status !== 204) throw new Error(`tus PATCH: ${patched.status} ${await patched.text()}`);
      const uploaded = performance.now();
      let state;
      for (;;) {
        const session = (
          await app.inject({ method: 'GET', url: `/api/v1/inventory-sessions/${sessionId}`, headers: auth })
        ).json();
        state = session.state;
        if (state === 'READY' || state === 'FAILED') {
          if (state === 'FAILED')
            throw new Error(`session FAILED: ${session.failureCode} ${session.failureDetail ?? ''}`);
          break;
        }
        await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 100))]);
      }
      const endToEnd = performance.now() - t0;
      // The log line follows the READY commit; a build without step timings never writes it.
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 3000))]);
      const cpu1 = await processCpu();
      const db1 = await backendCpu(name);
      const log = processed.get(sessionId) ?? null;
      const media = (
        await app.inject({ method: 'GET', url: `/api/v1/inventory-sessions/${sessionId}/media`, headers: auth })
      ).json();
      const report = (
        await app.inject({ method: 'GET', url: `/api/v1/inventory-sessions/${sessionId}/report`, headers: auth })
      ).json();
      const counted = {};
      for (const line of report.lines) {
        const gtin = line.gtin ? toGtin14(line.gtin) : null;
        if (gtin) counted[gtin] = (counted[gtin] ?? 0) + line.quantity;
      }
      const differences = [...new Set([...Object.keys(truth.counts), ...Object.keys(counted)])]
        .filter((gtin) => (truth.counts[gtin] ?? 0) !== (counted[gtin] ?? 0))
        .map((gtin) => `${gtin}: expected ${truth.counts[gtin] ?? 0}, counted ${counted[gtin] ?? 0}`);
      return {
        // Without the job's own timing (an older build), upload → READY stands in (it also holds
        // the upload's last request and the validation, ~0.15 s).
        totalMs: log?.totalMs ?? endToEnd,
        steps: log?.steps ?? null,
        framesSampled: media.framesSampled,
        framesKept: media.framesKept,
        uploadMs: uploaded - t0,
        endToEndMs: endToEnd,
        cpu: { node: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children, database: db1 - db0 },
        framesUsed: report.session.framesUsed,
        lines: report.lines.length,
        differences,
      };
    }

    async function decodeOnly() {
      const cpu0 = await processCpu();
      const t0 = performance.now();
      await run(tools.ffmpegPath, ['-hide_banner', '-v', 'error', '-threads', '0', '-i', VIDEO, '-f', 'null', '-'])
        .done;
      const wallMs = performance.now() - t0;
      const cpu1 = await processCpu();
      return { wallMs, cpu: cpu1.children - cpu0.children };
    }

    out(`rounds: ${ROUNDS} (decode-only and the job interleaved); load average at start ${await loadAverage()}`);
    out();
    const rounds = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      const base = await decodeOnly();
      const job = await inventory();
      const load = await loadAverage();
      rounds.push({ base, job, load });
      const jobCpu = job.cpu.node + job.cpu.children;
      if (job.differences.length > 0) anomalies += 1;
      const steps = job.steps
        ? Object.entries(job.steps)
            .map(([step, ms]) => `${step} ${s(ms)}`)
            .join(' + ')
        : 'no step timings in this build: upload → READY';
      out(
        `round ${round}: decode-only ${s(base.wallMs)} s (cpu ${base.cpu.toFixed(2)}) | job ${s(job.totalMs)} s = ${steps} ` +
          `| ratio ${(job.totalMs / base.wallMs).toFixed(2)} | cpu upload→READY ${jobCpu.toFixed(2)} s (node ` +
          `${job.cpu.node.toFixed(2)} + ffmpeg/ffprobe ${job.cpu.children.toFixed(2)}; PostgreSQL ${job.cpu.database.toFixed(2)}) ` +
          `| upload→READY ${s(job.endToEndMs)} s (last upload request ${s(job.uploadMs)}) | load ${load}` +
          (job.differences.length ? ` | WRONG COUNTS: ${job.differences.join('; ')}` : ''),
      );
    }

    const last = rounds[rounds.length - 1].job;
    const videoMs = probe.durationMs;
    const minutes = videoMs / 60000;
    const decode = median(rounds.map((r) => r.base.wallMs));
    const decodeCpu = median(rounds.map((r) => r.base.cpu));
    const total = median(rounds.map((r) => r.job.totalMs));
    const totalCpu = median(rounds.map((r) => r.job.cpu.node + r.job.cpu.children));
    out();
    out(
      `median of ${ROUNDS} rounds, seconds (wall; the goals use wall time on this ${availableParallelism()}-core machine):`,
    );
    for (const step of Object.keys(last.steps ?? {})) {
      out(`  ${step.padEnd(8)} ${s(median(rounds.map((r) => r.job.steps?.[step] ?? 0))).padStart(7)}`);
    }
    out(
      `  ${'total'.padEnd(8)} ${s(total).padStart(7)}   (cpu upload→READY ${totalCpu.toFixed(2)} s: this process + ffmpeg/ffprobe)`,
    );
    out(`  decode-only ${s(decode)} s (cpu ${decodeCpu.toFixed(2)} s)`);
    const ratio = total / decode;
    const share = total / videoMs;
    const keptPerMinute = last.framesKept / minutes;
    const verdict = (ok) => (ok ? 'met' : 'NOT MET');
    out(
      `  total / decode-only     ${ratio.toFixed(2)} wall, ${(totalCpu / decodeCpu).toFixed(2)} cpu   (goal ≤ 1.5: ${verdict(ratio <= 1.5)})`,
    );
    out(`  total / video length    ${share.toFixed(3)}   (goal ≤ 0.25: ${verdict(share <= 0.25)})`);
    out(
      `frames: sampled ${last.framesSampled}, kept ${last.framesKept} (${keptPerMinute.toFixed(1)} per minute, goal ≤ 16: ` +
        `${verdict(keptPerMinute <= 16)}), sent to the barcode provider ${last.framesUsed}`,
    );
    out(
      `counts: ${last.lines} lines; ${anomalies === 0 ? 'every round equal to the known counts' : `${anomalies} round(s) with WRONG COUNTS`}`,
    );
    out(`load average at the end ${await loadAverage()}`);
  } finally {
    await app?.close();
    await maintenance.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await maintenance.end();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  out(`anomalies: ${anomalies}`);
  if (anomalies > 0) process.exitCode = 1;
}

await main();
