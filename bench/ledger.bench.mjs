// Ledger throughput benchmark (issue 4). Run from the repository root: `npm run bench:ledger`.
//
// 64 concurrent clients run hold + commit pairs through the real CreditsService (compiled in
// apps/api/dist), each operation in its own SYSTEM transaction as the application role (RLS on),
// first on 64 wallets (one per client), then all on 1 hot wallet. Beside each, the baseline: the
// same 64 clients doing plain single-row `UPDATE … SET n = n + 1` (autocommit) on 64 rows, then on
// 1 row, in the same database in the same run. Prints ops/s, p50/p99 latency, the ratio
// ledger ÷ baseline, and anomalies (must be 0): wallets whose balance ≠ Σ amount or held ≠ Σ
// held_delta, negative values, a row whose balance_after/held_after does not follow from the
// previous row of its wallet, holds left open, failed operations, and a ledger row count that
// differs from the operations the clients saw succeed.
//
// Database: TEST_DATABASE_URL or DATABASE_URL (a superuser URL) when set, else an embedded
// PostgreSQL started in a temporary folder (as the test setup does). A fresh database is
// created and dropped; the embedded server is stopped. Knobs: BENCH_SECONDS (per phase, 5),
// BENCH_CLIENTS (64), BENCH_POOL (connections shared by the clients, 8: the best of 4–64 on the
// 2-core machine, see bench/README.md; an API instance has DATABASE_POOL_SIZE = 10). It stops
// by itself.
//
// Besides ops/s it prints CPU time per operation (this process, and the PostgreSQL backends of
// the bench database when the server runs on this machine), which varies much less than ops/s
// when other work shares the machine, and the statements (round trips) per ledger operation,
// counted during the warm-up.
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const dist = fileURLToPath(new URL('../apps/api/dist/', import.meta.url));
const load = (path) => import(join(dist, path));

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64);
const POOL = Number(process.env.BENCH_POOL ?? 8);
const START_CREDITS = 1_000_000;
const out = (line = '') => process.stdout.write(`${line}\n`);

// Safety net: whatever happens, the process ends.
const watchdog = setTimeout(
  () => {
    process.stderr.write('ledger bench: watchdog timeout, exiting\n');
    process.exit(2);
  },
  (SECONDS * 4 + 300) * 1000,
);
watchdog.unref();

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

async function serverUrl() {
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
  const { startEmbeddedPostgres } = await load('database/embedded-postgres.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'miinventario-bench-'));
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

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * CPU seconds used so far by each PostgreSQL backend connected to `database`, as `{ user, kernel }`
 * (Linux `/proc`; an empty map when the server is elsewhere or /proc is unreadable).
 */
async function backendCpu(database) {
  const cpu = new Map();
  let pids;
  try {
    pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  } catch {
    return cpu;
  }
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') return;
        // Backend titles read "postgres: <user> <database> <client> <state>", or with a cluster
        // name (Debian's packages) "postgres: 15/main: <user> <database> …".
        const title = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split(' ');
        const words = title[1]?.endsWith(':') ? title.slice(1) : title;
        if (words[2] !== database) return;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // utime, stime: ticks of 10 ms.
        cpu.set(pid, { user: Number(fields[11]) / 100, kernel: Number(fields[12]) / 100 });
      } catch {
        // The process ended meanwhile, or is not ours to read.
      }
    }),
  );
  return cpu;
}

/** Runs `clients` loops of `step(client)` for SECONDS; returns ops, ops/s, latencies, failures, CPU µs per op. */
async function drive(clients, step, database) {
  const latencies = [];
  let ops = 0;
  let failures = 0;
  let firstError;
  const serverBefore = await backendCpu(database);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < deadline) {
        try {
          const timings = await step(client);
          for (const ms of timings) latencies.push(ms);
          ops += timings.length;
        } catch (error) {
          failures += 1;
          firstError ??= error;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const nodeUsed = process.cpuUsage(nodeBefore);
  const serverAfter = await backendCpu(database);
  const server = { user: 0, kernel: 0 };
  for (const [pid, used] of serverAfter) {
    server.user += used.user - (serverBefore.get(pid)?.user ?? 0);
    server.kernel += used.kernel - (serverBefore.get(pid)?.kernel ?? 0);
  }
  latencies.sort((a, b) => a - b);
  return {
    ops,
    opsPerSecond: ops / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures,
    firstError,
    nodeUsPerOp: (nodeUsed.user + nodeUsed.system) / ops,
    nodeKernelUsPerOp: nodeUsed.system / ops,
    serverUsPerOp: serverAfter.size > 0 ? ((server.user + server.kernel) * 1e6) / ops : NaN,
    serverKernelUsPerOp: serverAfter.size > 0 ? (server.kernel * 1e6) / ops : NaN,
  };
}

async function timed(work) {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function main() {
  const server = await serverUrl();
  const name = `mi_bench_${randomBytes(4).toString('hex')}`;
  const maintenance = new URL(server.url);
  maintenance.pathname = '/postgres';
  const adminUrl = new URL(server.url);
  adminUrl.pathname = `/${name}`;
  const { provisionRoles, deriveAppUrl } = await load('database/provisioner.js');
  const { runMigrations, createAppDataSource } = await load('database/data-sources.js');
  const { TransactionService } = await load('database/transaction.service.js');
  const { CreditsRepository } = await load('modules/credits/credits.repository.js');
  const { CreditsService } = await load('modules/credits/credits.service.js');
  const { AuditRepository } = await load('modules/audit/audit.repository.js');
  const { AuditService } = await load('modules/audit/audit.service.js');
  const { loadConfig } = await load('config/env.schema.js');
  const { SystemClock } = await load('common/time/clock.js');

  const maint = new pg.Client({ connectionString: maintenance.toString() });
  await maint.connect();
  await maint.query(`CREATE DATABASE ${name}`);
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  let dataSource;
  try {
    await provisionRoles(adminUrl.toString(), server.appPassword);
    await runMigrations(adminUrl.toString());
    await admin.connect();
    const version = (await admin.query(`SHOW server_version`)).rows[0].server_version;
    const appUrl = deriveAppUrl(adminUrl.toString(), server.appPassword);

    // Baseline table: plain rows, no RLS, no trigger, no index but the key.
    await admin.query(`CREATE TABLE public.bench_counters (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0)`);
    await admin.query(`INSERT INTO public.bench_counters (id) SELECT generate_series(0, $1)`, [CLIENTS]);
    await admin.query(`GRANT SELECT, UPDATE ON public.bench_counters TO miinventario_app`);

    dataSource = createAppDataSource(appUrl, POOL);
    await dataSource.initialize();
    const tx = new TransactionService(dataSource);
    const config = loadConfig({});
    const credits = new CreditsService(
      new CreditsRepository(tx),
      tx,
      new AuditService(new AuditRepository(tx)),
      config,
      new SystemClock(),
    );

    // 64 wallets + 1 hot wallet + 1 warm-up wallet, each with START_CREDITS.
    const wallets = [];
    for (let i = 0; i <= CLIENTS + 1; i += 1) {
      const userId = randomUUID();
      await admin.query(`INSERT INTO auth.users (id, email) VALUES ($1, $2)`, [userId, `bench-${i}@example.com`]);
      const walletId = await tx.runAsSystem(() => credits.openWallet(userId));
      await tx.runAsSystem(() =>
        credits.grant({
          walletId,
          type: 'PURCHASE',
          credits: START_CREDITS,
          referenceId: `bench-${i}`,
          idempotencyKey: `bench:${walletId}`,
        }),
      );
      wallets.push(walletId);
    }
    const hot = wallets[CLIENTS];
    const warmUp = wallets[CLIENTS + 1];

    const baseline = async (rowOf) => {
      const pool = new pg.Pool({ connectionString: appUrl, max: POOL });
      try {
        return await drive(
          CLIENTS,
          async (client) => [
            await timed(() => pool.query(`UPDATE public.bench_counters SET n = n + 1 WHERE id = $1`, [rowOf(client)])),
          ],
          name,
        );
      } finally {
        await pool.end();
      }
    };
    const ledger = (walletOf) =>
      drive(
        CLIENTS,
        async (client) => {
          const session = randomUUID();
          const walletId = walletOf(client);
          const hold = await timed(() => tx.runAsSystem(() => credits.hold(walletId, session)));
          const commit = await timed(() => tx.runAsSystem(() => credits.commit(session)));
          return [hold, commit];
        },
        name,
      );

    /** Anomaly counts of the wallets given (sums, negatives, chain, open holds) and their hold rows. */
    const anomalies = async (walletIds) => {
      const { rows } = await admin.query(
        `WITH chain AS (
           SELECT t.wallet_id, t.type, t.amount, t.held_delta, t.balance_after, t.held_after,
                  coalesce(lag(t.balance_after) OVER w, 0) + t.amount <> t.balance_after
                    OR coalesce(lag(t.held_after) OVER w, 0) + t.held_delta <> t.held_after AS broken
             FROM billing.credit_transactions t
            WHERE t.wallet_id = ANY ($1::uuid[])
           WINDOW w AS (PARTITION BY t.wallet_id ORDER BY t.seq)
         ), sums AS (
           SELECT wallet_id, sum(amount) AS amount, sum(held_delta) AS held,
                  count(*) FILTER (WHERE broken) AS broken,
                  count(*) FILTER (WHERE balance_after < 0 OR held_after < 0 OR balance_after < held_after) AS negative,
                  count(*) FILTER (WHERE type = 'HOLD') AS holds,
                  count(*) FILTER (WHERE type IN ('HOLD_COMMIT', 'HOLD_VOID')) AS finals
             FROM chain GROUP BY wallet_id
         )
         SELECT count(*) FILTER (WHERE w.balance <> s.amount OR w.held <> s.held)::int AS sum_mismatch,
                (count(*) FILTER (WHERE w.balance < 0 OR w.held < 0 OR w.balance < w.held)
                   + coalesce(sum(s.negative), 0))::int AS negative,
                coalesce(sum(s.broken), 0)::int AS broken_chain,
                coalesce(sum(s.holds - s.finals), 0)::int AS open_holds,
                coalesce(sum(s.holds + s.finals), 0)::int AS hold_rows
           FROM billing.credit_wallets w JOIN sums s ON s.wallet_id = w.id
          WHERE w.id = ANY ($1::uuid[])`,
        [walletIds],
      );
      return rows[0];
    };

    const results = [];
    const runLedger = async (label, walletIds, walletOf) => {
      const result = await ledger(walletOf);
      const found = await anomalies(walletIds);
      // Each phase uses wallets without holds before it: every hold row is from this phase.
      const written = found.hold_rows;
      const count =
        found.sum_mismatch +
        found.negative +
        found.broken_chain +
        found.open_holds +
        result.failures +
        Math.abs(written - result.ops);
      results.push({ label, ...result, anomalies: count, detail: { ...found, written } });
      return result;
    };
    const runBaseline = async (label, rowOf) => {
      const result = await baseline(rowOf);
      results.push({ label, ...result, anomalies: result.failures });
      return result;
    };

    out(
      `ledger benchmark: ${CLIENTS} clients, pool ${POOL}, ${SECONDS} s per phase, PostgreSQL ${version} (${server.kind}), Node ${process.version}`,
    );
    // Warm-up (JIT, plan and connection caches) on a wallet no phase reads: 1 s, not timed.
    // It also counts the statements the ledger sends (each one round trip), by observing
    // node-postgres' Client#query (the driver TypeORM uses); the measured phases run unobserved.
    const clientQuery = pg.Client.prototype.query;
    let statements = 0;
    let warmOps = 0;
    pg.Client.prototype.query = function countedQuery(...args) {
      statements += 1;
      return clientQuery.apply(this, args);
    };
    try {
      const warmUntil = performance.now() + 1000;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (performance.now() < warmUntil) {
            const session = randomUUID();
            await tx.runAsSystem(() => credits.hold(warmUp, session));
            await tx.runAsSystem(() => credits.commit(session));
            warmOps += 2;
          }
        }),
      );
    } finally {
      pg.Client.prototype.query = clientQuery;
    }
    const baseMany = await runBaseline(`baseline UPDATE, ${CLIENTS} rows`, (client) => client);
    const many = await runLedger(
      `ledger hold+commit, ${CLIENTS} wallets`,
      wallets.slice(0, CLIENTS),
      (c) => wallets[c],
    );
    const baseHot = await runBaseline('baseline UPDATE, 1 hot row', () => CLIENTS);
    const hotResult = await runLedger('ledger hold+commit, 1 hot wallet', [hot], () => hot);

    const us = (value, width = 10) => (Number.isFinite(value) ? value.toFixed(0) : 'n/a').padStart(width);
    out();
    out(
      'phase                                   ops/s    p50 ms   p99 ms  anomalies  node µs/op (kernel)  server µs/op (kernel)',
    );
    for (const r of results) {
      out(
        `${r.label.padEnd(36)} ${r.opsPerSecond.toFixed(0).padStart(8)} ${r.p50.toFixed(2).padStart(9)} ${r.p99
          .toFixed(2)
          .padStart(8)} ${String(r.anomalies).padStart(10)}  ${us(r.nodeUsPerOp)} ${us(r.nodeKernelUsPerOp, 8)}` +
          `  ${us(r.serverUsPerOp, 12)} ${us(r.serverKernelUsPerOp, 8)}`,
      );
    }
    out();
    out(`ledger ops = hold or commit (one transaction each); pairs/s = ops/s ÷ 2`);
    out(
      `statements (round trips) per ledger op, counted in the warm-up: ${(statements / warmOps).toFixed(2)} ` +
        `(3 expected: BEGIN + identity, the ledger call, COMMIT)`,
    );
    out(
      `CPU µs per op: this process (clients, TypeORM, pg) and the bench database's PostgreSQL backends; ` +
        `(kernel): the part spent in the kernel (sockets, WAL writes and flushes)`,
    );
    const cpuPerOp = (r) => r.nodeUsPerOp + r.serverUsPerOp;
    out(
      `CPU per op (this process + backends), ledger ÷ baseline, ${CLIENTS} wallets: ` +
        `${Number.isFinite(cpuPerOp(many)) ? (cpuPerOp(many) / cpuPerOp(baseMany)).toFixed(2) : 'n/a'}` +
        ` (varies less than ops/s when other work shares the machine)`,
    );
    out(`ratio ledger ÷ baseline, ${CLIENTS} wallets: ${(many.opsPerSecond / baseMany.opsPerSecond).toFixed(3)}`);
    out(`ratio ledger ÷ baseline, 1 hot wallet:  ${(hotResult.opsPerSecond / baseHot.opsPerSecond).toFixed(3)}`);
    out(
      `goal ≥ 2000 ledger ops/s on ${CLIENTS} wallets: ${many.opsPerSecond >= 2000 ? 'met' : 'NOT met'} (${many.opsPerSecond.toFixed(0)})`,
    );
    const total = results.reduce((sum, r) => sum + r.anomalies, 0);
    out(`anomalies: ${total}`);
    for (const r of results.filter((x) => x.anomalies > 0)) {
      out(`  ${r.label}: ${JSON.stringify(r.detail ?? {})} failures=${r.failures} first=${String(r.firstError)}`);
    }
    process.exitCode = total === 0 ? 0 : 1;
  } finally {
    await dataSource?.destroy().catch(() => {});
    await admin.end().catch(() => {});
    await maint.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await maint.end().catch(() => {});
    await server.stop();
  }
}

main().then(
  // Exit explicitly: embedded-postgres' exit hook would otherwise end the process with 0 at
  // `beforeExit`, hiding the anomalies' exit code.
  () => process.exit(Number(process.exitCode ?? 0)),
  (error) => {
    process.stderr.write(`ledger bench failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
