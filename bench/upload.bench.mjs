// Upload benchmark (issue 5: "a 300 MB file through tus on loopback: throughput beside a raw
// loopback copy of the same file in the same run, and the API process's peak RSS growth (goal:
// ≥ 0.5 × raw, ≤ +64 MB)"). Run from the repository root after building the API:
// `npm run build -w @miinventario/api && node bench/upload.bench.mjs` (bench/upload.md).
//
// - Starts the real API as a child process (`node apps/api/dist/main.js`) on a fresh database
//   (TEST_DATABASE_URL or DATABASE_URL, a superuser URL, when set; else an embedded PostgreSQL in a
//   temporary folder, as bench/ledger.bench.mjs does), DATA_DIR in a temporary folder, RUN_WORKER=false
//   (nothing processes the video while it is measured), console message channel.
// - Signs in through the dev outbox, creates a store, and per round a session (the account is an
//   ADMIN through ADMIN_IDENTIFIERS and tops itself up with admin adjustments).
// - Writes a BENCH_FILE_MB (300) MB file of pseudo-random bytes (AES-128-CTR keystream of a fixed
//   key: the same bytes every run) in the temporary folder.
// - BENCH_ROUNDS (3) times, interleaved: (a) raw: an HTTP PUT of the file, streamed, to a minimal
//   `node:http` server in its own process that pipes the body to a file in the same folder;
//   (b) tus: the same file with tus-js-client (an fs.ReadStream, BENCH_CHUNK_MB (50) per PATCH;
//   0 = the whole file in one PATCH) to POST /api/v1/uploads. Wall time from the first request to
//   the last answer → MB/s (1 MB = 2^20 bytes). Each copy is checked: stored size and sha256 equal
//   the source's.
// - Samples VmRSS and VmHWM of both server processes (/proc/<pid>/status) every 50 ms from before
//   each copy to its end: baseline (just before), peak, growth.
//
// The file is not a video: the API answers the last PATCH after ffprobe refuses it (about 40 ms for
// these bytes; the session FAILS with VIDEO_UNREADABLE, as any unreadable upload). That time is
// shown apart ("after the last byte", from media.videos.upload_completed_at).
//
// BENCH_API_NODE_ARGS: extra node options of the API process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`
// to profile it).
//
// Prints per round and the medians, the ratio tus ÷ raw (goal ≥ 0.5) and the API's RSS growth
// (goal ≤ +64 MB). Exit code 1 only on anomalies (a copy failed, a size or sha256 mismatch, a
// server process died); goals missed are printed, not fatal.
import { spawn } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import * as tus from 'tus-js-client';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'apps/api/dist');
const MIB = 1024 * 1024;
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHUNK_MB = Number(process.env.BENCH_CHUNK_MB ?? 50);
const SAMPLE_MS = 50;
const GOAL_RATIO = 0.5;
const GOAL_RSS_MB = 64;
const IDENTIFIER = 'bench-upload@example.com';
const out = (line = '') => process.stdout.write(`${line}\n`);

// Safety net: whatever happens, the process ends.
const watchdog = setTimeout(
  () => {
    process.stderr.write('upload bench: watchdog timeout, exiting\n');
    process.exit(2);
  },
  30 * 60 * 1000,
);
watchdog.unref();

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** The PostgreSQL server: an external one (superuser URL) or an embedded one started here. */
async function databaseServer() {
  const external = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (external) {
    return {
      url: external,
      kind: 'external',
      // Keep the password the tests (or the API) give the app role on that server.
      appPassword:
        process.env.DATABASE_APP_PASSWORD ??
        (process.env.TEST_DATABASE_URL ? 'miinventario-app-test' : 'miinventario-app-dev'),
      stop: async () => {},
    };
  }
  const { startEmbeddedPostgres } = await import(join(dist, 'database/embedded-postgres.js'));
  const dataDir = await mkdtemp(join(tmpdir(), 'miinventario-bench-pg-'));
  await chmod(dataDir, 0o755);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = await startEmbeddedPostgres(dataDir, port, silentLogger);
  return {
    url: server.superuserUrl,
    kind: 'embedded',
    appPassword: 'miinventario-bench',
    stop: async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Writes `bytes` pseudo-random bytes (AES-128-CTR keystream of a fixed key) to `path`; returns their sha256. */
async function writeSeededFile(path, bytes) {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x5e), Buffer.alloc(16, 0));
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(MIB);
  async function* chunks() {
    for (let written = 0; written < bytes; written += MIB) {
      const block = cipher.update(zeros.subarray(0, Math.min(MIB, bytes - written)));
      hash.update(block);
      yield block;
    }
  }
  await pipeline(chunks, createWriteStream(path));
  return hash.digest('hex');
}

async function sha256File(path) {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: MIB }), hash);
  return hash.digest('hex');
}

/** `{ rssKb, hwmKb, cpuSeconds }` of process `pid` (Linux /proc), or null once it is gone. */
async function processSample(pid) {
  try {
    const [status, statLine] = await Promise.all([
      readFile(`/proc/${pid}/status`, 'utf8'),
      readFile(`/proc/${pid}/stat`, 'utf8'),
    ]);
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
    // utime, stime (fields 14 and 15, 1-based; the slice starts at field 3), ticks of 10 ms.
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100 };
  } catch {
    return null;
  }
}

/**
 * Samples `pid` every SAMPLE_MS until stopped: baseline (the sample taken at start), peak VmRSS
 * seen, VmHWM at start and end, CPU seconds used meanwhile.
 */
async function startSampling(pid) {
  const first = await processSample(pid);
  if (!first) throw new Error(`process ${pid} is gone`);
  let peakKb = first.rssKb;
  let last = first;
  let samples = 1;
  let pending = Promise.resolve();
  const timer = setInterval(() => {
    pending = processSample(pid).then((sample) => {
      if (!sample) return;
      samples += 1;
      last = sample;
      peakKb = Math.max(peakKb, sample.rssKb);
    });
  }, SAMPLE_MS);
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      const end = (await processSample(pid)) ?? last;
      peakKb = Math.max(peakKb, end.rssKb);
      // VmHWM is the peak since the process started: when it rose during the copy, the true peak
      // (between two samples) is that value.
      const hwmPeakKb = end.hwmKb > first.hwmKb ? end.hwmKb : peakKb;
      return {
        baselineMb: first.rssKb / 1024,
        peakMb: Math.max(peakKb, hwmPeakKb) / 1024,
        growthMb: (Math.max(peakKb, hwmPeakKb) - first.rssKb) / 1024,
        endMb: end.rssKb / 1024,
        cpuSeconds: end.cpuSeconds - first.cpuSeconds,
        samples,
      };
    },
  };
}

/** Spawns `node args…` with `env`; resolves once `ready(stdoutSoFar)` returns a value. */
function startChild(args, env, ready, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.length > 1_000_000) stdout = stdout.slice(-100_000);
      const value = settled ? undefined : ready(stdout);
      if (value !== undefined) {
        settled = true;
        resolve({ child, value, stderr: () => stderr, stdout: () => stdout });
      }
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-100_000);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!settled) reject(new Error(`${label} exited (${code ?? signal}) before it was ready:\n${stderr}${stdout}`));
    });
  });
}

/** Stops a child process started here (SIGTERM, then SIGKILL after 10 s). */
async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The raw baseline's server: PUT /<name> streams the body to <directory>/<name>, then 201. */
const RAW_SERVER = `
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
const directory = process.argv[1];
const server = createServer((req, res) => {
  const name = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(1));
  if (req.method !== 'PUT' || !/^[a-z0-9-]+$/.test(name)) return res.writeHead(400).end();
  pipeline(req, createWriteStream(join(directory, name))).then(
    () => res.writeHead(201, { 'content-length': '0' }).end(),
    (error) => res.writeHead(500).end(String(error)),
  );
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;

/** Streams `file` (`size` bytes) with an HTTP PUT to `url`; resolves with the answer's status. */
function putFile(url, file, size) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': String(size) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('error', reject);
    createReadStream(file).on('error', reject).pipe(req);
  });
}

async function main() {
  const server = await databaseServer();
  const name = `mi_bench_${randomBytes(4).toString('hex')}`;
  const maintenanceUrl = new URL(server.url);
  maintenanceUrl.pathname = '/postgres';
  const adminUrl = new URL(server.url);
  adminUrl.pathname = `/${name}`;
  const work = await mkdtemp(join(tmpdir(), 'miinventario-bench-upload-'));
  const dataDir = join(work, 'data');
  const rawDir = join(work, 'raw');
  await mkdir(rawDir);
  const maintenance = new pg.Client({ connectionString: maintenanceUrl.toString() });
  await maintenance.connect();
  await maintenance.query(`CREATE DATABASE ${name}`);
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  let api;
  let raw;
  let anomalies = 0;
  const anomaly = (message) => {
    anomalies += 1;
    out(`ANOMALY: ${message}`);
  };
  try {
    const bytes = Math.round(FILE_MB * MIB);
    const file = join(work, 'source.bin');
    const sourceSha = await writeSeededFile(file, bytes);

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const apiEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? work,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: baseUrl,
      DATA_DIR: dataDir,
      DATABASE_URL: adminUrl.toString(),
      DATABASE_APP_PASSWORD: server.appPassword,
      RUN_WORKER: 'false',
      UPLOAD_MAX_BYTES: String(Math.max(bytes, 1024 * 1024)),
      ADMIN_IDENTIFIERS: IDENTIFIER,
      DOCS_ENABLED: 'false',
      RATE_LIMIT_MAX: '100000',
    };
    const apiStarted = performance.now();
    api = await startChild(
      [...(process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean), join(dist, 'main.js')],
      apiEnv,
      (stdout) => (stdout.includes('MiInventario API') && stdout.includes('/health/ready') ? true : undefined),
      'the API',
    );
    const apiPid = api.child.pid;
    out(`API started in ${((performance.now() - apiStarted) / 1000).toFixed(1)} s (pid ${apiPid}, ${baseUrl})`);
    raw = await startChild(
      ['--input-type=module', '-e', RAW_SERVER, rawDir],
      { PATH: process.env.PATH ?? '' },
      (stdout) => /port (\d+)/.exec(stdout)?.[1],
      'the raw server',
    );
    const rawUrl = `http://127.0.0.1:${raw.value}`;

    // Sign in through the dev outbox, as the scan CLI does.
    let token = '';
    const call = async (method, path, body, expected) => {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!expected.includes(response.status)) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
      return text ? JSON.parse(text) : null;
    };
    await call('POST', '/api/v1/auth/otp/request', { identifier: IDENTIFIER }, [202]);
    const outbox = await call('GET', `/api/v1/dev/outbox?to=${encodeURIComponent(IDENTIFIER)}`, undefined, [200]);
    const verified = await call(
      'POST',
      '/api/v1/auth/otp/verify',
      { identifier: IDENTIFIER, code: outbox.items[0]?.params.code },
      [200],
    );
    token = verified.accessToken;
    await call(
      'POST',
      `/api/v1/admin/credits/wallets/${verified.user.id}/adjustments`,
      { credits: ROUNDS, reason: 'upload benchmark', idempotencyKey: `bench-upload-${name}` },
      [201],
    );
    const store = await call('POST', '/api/v1/stores', { name: 'Abarrotes Benchmark', giro: 'abarrotes' }, [201]);

    await admin.connect();
    const version = (await admin.query(`SHOW server_version`)).rows[0].server_version;
    out(
      `upload benchmark: ${FILE_MB} MB file, ${ROUNDS} rounds, tus chunk ${CHUNK_MB > 0 ? `${CHUNK_MB} MB` : 'whole file'}, ` +
        `PostgreSQL ${version} (${server.kind}), Node ${process.version}, load average ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`,
    );

    /** Checks a stored copy against the source (size, sha256); counts an anomaly otherwise. */
    const verify = async (label, path) => {
      const size = (await stat(path)).size;
      const sha = await sha256File(path);
      if (size !== bytes) anomaly(`${label}: stored ${size} bytes, sent ${bytes}`);
      else if (sha !== sourceSha) anomaly(`${label}: stored sha256 ${sha} ≠ source ${sourceSha}`);
    };

    const rounds = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      // (a) raw loopback copy.
      const rawTarget = `copy-${round}`;
      const rawSampler = await startSampling(raw.child.pid);
      const rawCpu0 = process.cpuUsage();
      const rawStart = performance.now();
      let rawStatus;
      try {
        rawStatus = await putFile(`${rawUrl}/${rawTarget}`, file, bytes);
      } catch (error) {
        anomaly(`raw copy ${round} failed: ${error}`);
      }
      const rawSeconds = (performance.now() - rawStart) / 1000;
      const rawClientCpu = process.cpuUsage(rawCpu0);
      const rawMemory = await rawSampler.stop();
      if (rawStatus !== undefined && rawStatus !== 201) anomaly(`raw copy ${round} answered ${rawStatus}`);
      if (rawStatus === 201) await verify(`raw copy ${round}`, join(rawDir, rawTarget));
      await rm(join(rawDir, rawTarget), { force: true });

      // (b) tus upload through the API.
      const session = await call('POST', `/api/v1/stores/${store.id}/inventory-sessions`, {}, [201]);
      const apiSampler = await startSampling(apiPid);
      const tusCpu0 = process.cpuUsage();
      const startedAt = Date.now();
      const tusStart = performance.now();
      let uploadId = null;
      let tusSeconds = NaN;
      const keep = join(work, `tus-${round}`);
      try {
        await new Promise((resolve, reject) => {
          const upload = new tus.Upload(createReadStream(file), {
            endpoint: `${baseUrl}/api/v1/uploads`,
            headers: { authorization: `Bearer ${token}` },
            uploadSize: bytes,
            chunkSize: CHUNK_MB > 0 ? CHUNK_MB * MIB : Infinity,
            metadata: { sessionId: session.id, filename: 'estante.mp4', filetype: 'video/mp4' },
            // No retries: a failed request is an anomaly, not something to hide.
            retryDelays: null,
            onError: reject,
            onSuccess: () => {
              tusSeconds = (performance.now() - tusStart) / 1000;
              uploadId = decodeURIComponent(new URL(upload.url).pathname.split('/').pop());
              // The API deletes an invalid upload's bytes 5 s after answering: keep a hard link to check them.
              link(join(dataDir, 'uploads', uploadId), keep).then(resolve, reject);
            },
          });
          upload.start();
        });
      } catch (error) {
        anomaly(`tus upload ${round} failed: ${error?.message ?? error}`);
      }
      const tusClientCpu = process.cpuUsage(tusCpu0);
      const apiMemory = await apiSampler.stop();
      let afterLastByte = NaN;
      let outcome = '';
      if (uploadId) {
        await verify(`tus upload ${round}`, keep);
        await unlink(keep);
        const video = (
          await admin.query(
            `SELECT v.size_bytes, v.status, v.upload_completed_at, s.state, s.failure_code
               FROM media.videos v JOIN inventory.inventory_sessions s ON s.id = v.session_id
              WHERE v.upload_id = $1`,
            [uploadId],
          )
        ).rows[0];
        if (!video) anomaly(`tus upload ${round}: no media.videos row for ${uploadId}`);
        else {
          if (Number(video.size_bytes) !== bytes) anomaly(`tus upload ${round}: size_bytes ${video.size_bytes}`);
          if (video.upload_completed_at) {
            afterLastByte = tusSeconds - (video.upload_completed_at.getTime() - startedAt) / 1000;
          }
          outcome = `video ${video.status}, session ${video.state}${video.failure_code ? ` ${video.failure_code}` : ''}`;
        }
      }
      rounds.push({
        round,
        raw: { seconds: rawSeconds, mbps: FILE_MB / rawSeconds, memory: rawMemory, clientCpu: rawClientCpu },
        tus: { seconds: tusSeconds, mbps: FILE_MB / tusSeconds, memory: apiMemory, clientCpu: tusClientCpu },
        afterLastByte,
        outcome,
      });
      const r = rounds[rounds.length - 1];
      out(
        `round ${round}: raw ${r.raw.mbps.toFixed(0)} MB/s (${rawSeconds.toFixed(2)} s), ` +
          `tus ${r.tus.mbps.toFixed(0)} MB/s (${tusSeconds.toFixed(2)} s; after the last byte ${(afterLastByte * 1000).toFixed(0)} ms), ` +
          `ratio ${(r.tus.mbps / r.raw.mbps).toFixed(2)}; API RSS ${apiMemory.baselineMb.toFixed(0)} → peak ` +
          `${apiMemory.peakMb.toFixed(0)} MB (+${apiMemory.growthMb.toFixed(1)}); ${outcome}`,
      );
      if (api.child.exitCode !== null || api.child.signalCode !== null) {
        anomaly(`the API process died: ${api.stderr()}`);
        break;
      }
    }

    const median = (values) => {
      const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
      if (sorted.length === 0) return NaN;
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    };
    const cpuOf = (usage) => (usage.user + usage.system) / 1e6;
    const perGb = (seconds) => (seconds * 1024) / FILE_MB;
    out();
    out('                     MB/s    wall s   server CPU s/GB   client CPU s/GB   server RSS base → peak (growth) MB');
    for (const r of rounds) {
      for (const [label, x] of [
        ['raw', r.raw],
        ['tus', r.tus],
      ]) {
        out(
          `round ${r.round} ${label.padEnd(4)} ${x.mbps.toFixed(0).padStart(12)} ${x.seconds.toFixed(2).padStart(9)} ` +
            `${perGb(x.memory.cpuSeconds).toFixed(2).padStart(17)} ${perGb(cpuOf(x.clientCpu)).toFixed(2).padStart(17)}   ` +
            `${x.memory.baselineMb.toFixed(0)} → ${x.memory.peakMb.toFixed(0)} (+${x.memory.growthMb.toFixed(1)})`,
        );
      }
    }
    const rawMbps = median(rounds.map((r) => r.raw.mbps));
    const tusMbps = median(rounds.map((r) => r.tus.mbps));
    const ratio = tusMbps / rawMbps;
    const growth = Math.max(...rounds.map((r) => r.tus.memory.growthMb));
    const overallPeak = Math.max(...rounds.map((r) => r.tus.memory.peakMb));
    out();
    out(`median raw loopback copy: ${rawMbps.toFixed(0)} MB/s; median tus upload: ${tusMbps.toFixed(0)} MB/s`);
    out(
      `median time after the last byte (ffprobe refusing the bytes, answering): ${(median(rounds.map((r) => r.afterLastByte)) * 1000).toFixed(0)} ms`,
    );
    out(
      `median server CPU per GB: raw ${perGb(median(rounds.map((r) => r.raw.memory.cpuSeconds))).toFixed(2)} s, ` +
        `API ${perGb(median(rounds.map((r) => r.tus.memory.cpuSeconds))).toFixed(2)} s (varies less than MB/s on a shared machine)`,
    );
    out(
      `ratio tus ÷ raw (medians): ${ratio.toFixed(2)} — goal ≥ ${GOAL_RATIO}: ${ratio >= GOAL_RATIO ? 'met' : 'NOT met'}`,
    );
    out(
      `API peak RSS growth (largest of the rounds, from the RSS just before each upload): +${growth.toFixed(1)} MB ` +
        `(peak ${overallPeak.toFixed(0)} MB, before the first upload ${rounds[0]?.tus.memory.baselineMb.toFixed(0)} MB) — ` +
        `goal ≤ +${GOAL_RSS_MB} MB: ${growth <= GOAL_RSS_MB ? 'met' : 'NOT met'}`,
    );
    out(`anomalies: ${anomalies}`);
    process.exitCode = anomalies === 0 ? 0 : 1;
  } finally {
    await stopChild(api?.child);
    await stopChild(raw?.child);
    await admin.end().catch(() => {});
    await maintenance.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await maintenance.end().catch(() => {});
    await rm(work, { recursive: true, force: true });
    await server.stop();
  }
}

main().then(
  // Exit explicitly: embedded-postgres' exit hook would otherwise end the process with 0 at
  // `beforeExit`, hiding the anomalies' exit code.
  () => process.exit(Number(process.exitCode ?? 0)),
  (error) => {
    process.stderr.write(`upload bench failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
