import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreditsService } from '../../src/modules/credits/credits.service.js';
import { toGtin14 } from '../../src/modules/vision/gtin.js';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { readPdf } from '../support/pdf-text.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const EVAL = join(ROOT, 'eval/videos');
const SAMPLE = 'sample-shelf.mp4';
const NO_BARCODE_VIDEO = join(ROOT, 'apps/api/test/fixtures/videos/shelf-pan.mp4');
const STORE_NAME = 'Abarrotes Doña Lupita';

interface ReportBody {
  session: { provider: string; framesUsed: number; resultMessage: string | null };
  store: { name: string };
  lines: Array<{ gtin: string | null; name: string; quantity: number; evidence: { url: string | null } }>;
  totals: { lines: number; units: number; linesToReview: number };
}

/**
 * Issue 6 end to end on the embedded-style default (in-process queue, local files, offline
 * barcode provider): sign up → store → session → tus upload of the sample video → READY →
 * report equal to the expected counts → hold committed → CSV/XLSX/PDF parse back. Plus a video
 * with no readable product, and a provider that fails on every attempt.
 */
describe('inventory report, end to end', () => {
  let database: TestDatabase;
  let api: TestApp;
  let dataDir: string;
  let owner: SignedIn;
  let storeId: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'miinventario-report-e2e-'));
    database = await createTestDatabase();
    api = await createTestApp(database, { listen: true, env: { DATA_DIR: dataDir } });
    owner = await signIn(api, uniquePhone());
    const store = await api.inject({
      method: 'POST',
      url: '/api/v1/stores',
      headers: bearer(owner),
      payload: { name: STORE_NAME, giro: 'abarrotes' },
    });
    expect(store.statusCode, store.body).toBe(201);
    storeId = store.json().id;
    // The welcome credit plus a purchase: enough for every session of this file.
    const credits = api.app.get(CreditsService);
    await credits.grant({
      walletId: await credits.walletForUser(owner.user.id),
      type: 'PURCHASE',
      credits: 5,
      referenceId: randomUUID(),
      idempotencyKey: `test-purchase:${owner.user.id}`,
    });
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function wallet() {
    const response = await api.inject({ method: 'GET', url: '/api/v1/credits/wallet', headers: bearer(owner) });
    expect(response.statusCode).toBe(200);
    return response.json() as { balance: number; held: number; available: number };
  }

  async function scan(file: string, app: TestApp = api, who: SignedIn = owner, store = storeId) {
    const start = await app.inject({
      method: 'POST',
      url: `/api/v1/stores/${store}/inventory-sessions`,
      headers: bearer(who),
      payload: {},
    });
    expect(start.statusCode, start.body).toBe(201);
    const sessionId = start.json().id as string;
    await new Promise<void>((resolve, reject) => {
      new tus.Upload(readFileSync(file), {
        endpoint: `${app.baseUrl}/api/v1/uploads`,
        headers: bearer(who),
        metadata: { sessionId, filename: 'estante.mp4', filetype: 'video/mp4' },
        onError: reject,
        onSuccess: () => resolve(),
      }).start();
    });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const session = (
        await app.inject({ method: 'GET', url: `/api/v1/inventory-sessions/${sessionId}`, headers: bearer(who) })
      ).json() as { state: string; failureCode: string | null };
      if (session.state === 'READY' || session.state === 'FAILED') return { sessionId, ...session };
      if (Date.now() > deadline) throw new Error(`session still ${session.state}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function ledger(sessionId: string) {
    const rows = await database.adminQuery<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM billing.credit_transactions WHERE reference_id = $1::text GROUP BY type`,
      [sessionId],
    );
    return Object.fromEntries(rows.map((row) => [row.type, row.n]));
  }

  it('counts the sample video exactly, commits the credit, and exports CSV, XLSX and PDF', async () => {
    const expected = (
      JSON.parse(readFileSync(join(EVAL, 'expected.json'), 'utf8')) as Record<
        string,
        { counts: Record<string, number> }
      >
    )[SAMPLE]!.counts;
    const before = await wallet();
    const { sessionId, state } = await scan(join(EVAL, SAMPLE));
    expect(state).toBe('READY');

    const response = await api.inject({
      method: 'GET',
      url: `/api/v1/inventory-sessions/${sessionId}/report`,
      headers: bearer(owner),
    });
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json() as ReportBody;
    const counted: Record<string, number> = {};
    for (const line of report.lines)
      counted[toGtin14(line.gtin!)!] = (counted[toGtin14(line.gtin!)!] ?? 0) + line.quantity;
    expect(counted).toEqual(expected);
    const units = Object.values(expected).reduce((sum, n) => sum + n, 0);
    expect(report.totals).toMatchObject({ lines: Object.keys(expected).length, units });
    expect(report.session.provider).toBe('barcode');
    expect(report.store.name).toBe(STORE_NAME);
    for (const line of report.lines) expect(line.evidence.url).toMatch(/^http/);

    // The hold was committed: one credit spent, nothing held.
    const after = await wallet();
    expect(after.balance).toBe(before.balance - 1);
    expect(after.held).toBe(0);
    expect(await ledger(sessionId)).toEqual({ HOLD: 1, HOLD_COMMIT: 1 });
    const cogs = await database.adminQuery<{ provider: string; success: boolean }>(
      `SELECT provider, success FROM billing.cogs_records WHERE session_id = $1`,
      [sessionId],
    );
    expect(cogs).toEqual([{ provider: 'barcode', success: true }]);
    const notes = await database.adminQuery<{ type: string }>(
      `SELECT type FROM auth.notifications WHERE user_id = $1 AND data->>'sessionId' = $2`,
      [owner.user.id, sessionId],
    );
    expect(notes).toEqual([{ type: 'INVENTORY_READY' }]);

    const download = async (format: string) => {
      const file = await api.inject({
        method: 'GET',
        url: `/api/v1/inventory-sessions/${sessionId}/export?format=${format}`,
        headers: bearer(owner),
      });
      expect(file.statusCode, file.body.slice(0, 300)).toBe(200);
      expect(file.headers['content-disposition']).toMatch(/^attachment; filename=".+\.(csv|xlsx|pdf)"$/);
      return Buffer.from(file.rawPayload);
    };
    const csv = await download('csv');
    expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parse(csv.subarray(3).toString('utf8'), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(report.lines.length);
    const csvGtins = rows.map((row) => Object.values(row).find((value) => /^\d{8,14}$/.test(value))).sort();
    expect(csvGtins).toEqual(report.lines.map((line) => line.gtin).sort());

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load((await download('xlsx')) as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0]!;
    const cells = new Set<string>();
    sheet.eachRow((row) => row.eachCell((cell) => cells.add(String(cell.value))));
    for (const line of report.lines) expect(cells.has(line.gtin!)).toBe(true);

    const pdf = readPdf(await download('pdf'));
    expect(pdf.pages).toBeGreaterThanOrEqual(1);
    expect(pdf.streams.join('\n')).toContain(STORE_NAME);
  }, 180_000);

  it('ends a video with no readable product READY with zero lines and a Spanish message', async () => {
    const { sessionId, state } = await scan(NO_BARCODE_VIDEO);
    expect(state).toBe('READY');
    const report = (
      await api.inject({ method: 'GET', url: `/api/v1/inventory-sessions/${sessionId}/report`, headers: bearer(owner) })
    ).json() as ReportBody;
    expect(report.lines).toEqual([]);
    expect(report.totals.units).toBe(0);
    expect(report.session.resultMessage).toMatch(/No encontramos productos/);
    // The video was processed: its credit is spent (documented choice).
    expect(await ledger(sessionId)).toEqual({ HOLD: 1, HOLD_COMMIT: 1 });
  }, 180_000);

  it('answers 409 REPORT_NOT_READY for a session still in progress and 404 to another store’s user', async () => {
    const start = await api.inject({
      method: 'POST',
      url: `/api/v1/stores/${storeId}/inventory-sessions`,
      headers: bearer(owner),
      payload: {},
    });
    const sessionId = start.json().id as string;
    const notReady = await api.inject({
      method: 'GET',
      url: `/api/v1/inventory-sessions/${sessionId}/report`,
      headers: bearer(owner),
    });
    expect(notReady.statusCode).toBe(409);
    expect(notReady.json().code).toBe('REPORT_NOT_READY');
    const stranger = await signIn(api, uniquePhone());
    for (const url of [`/report`, `/export?format=csv`]) {
      const response = await api.inject({
        method: 'GET',
        url: `/api/v1/inventory-sessions/${sessionId}${url}`,
        headers: bearer(stranger),
      });
      expect(response.statusCode).toBe(404);
    }
  });
});

describe('a vision provider that fails on every attempt', () => {
  let database: TestDatabase;
  let api: TestApp;
  let dataDir: string;
  let server: Server;
  let calls = 0;
  const ADMIN = 'proveedor-admin@miinventario.mx';

  beforeAll(async () => {
    server = createServer((request, response) => {
      calls += 1;
      request.resume();
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    dataDir = mkdtempSync(join(tmpdir(), 'miinventario-provider-e2e-'));
    database = await createTestDatabase();
    api = await createTestApp(database, {
      listen: true,
      env: {
        DATA_DIR: dataDir,
        ADMIN_IDENTIFIERS: ADMIN,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
        VISION_MAX_RETRIES: '1',
        VISION_TIMEOUT_SECONDS: '5',
        QUEUE_ATTEMPTS: '2',
        QUEUE_BACKOFF_MS: '50',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await database?.drop();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('FAILS the session with PROVIDER_ERROR, voids the hold once and records the COGS of each attempt', async () => {
    const admin = await signIn(api, ADMIN);
    const setting = await api.inject({
      method: 'PUT',
      url: '/api/v1/admin/settings/vision_provider',
      headers: bearer(admin),
      payload: { value: 'openai' },
    });
    expect(setting.statusCode, setting.body).toBe(200);
    const owner = await signIn(api, uniquePhone());
    const credits = api.app.get(CreditsService);
    await credits.grant({
      walletId: await credits.walletForUser(owner.user.id),
      type: 'PURCHASE',
      credits: 2,
      referenceId: randomUUID(),
      idempotencyKey: `test-purchase:${owner.user.id}`,
    });
    const store = await api.inject({
      method: 'POST',
      url: '/api/v1/stores',
      headers: bearer(owner),
      payload: { name: 'Miscelánea El Sol', giro: 'miscelanea' },
    });
    const storeId = store.json().id as string;
    const start = await api.inject({
      method: 'POST',
      url: `/api/v1/stores/${storeId}/inventory-sessions`,
      headers: bearer(owner),
      payload: {},
    });
    const sessionId = start.json().id as string;
    await new Promise<void>((resolve, reject) => {
      new tus.Upload(readFileSync(join(EVAL, SAMPLE)), {
        endpoint: `${api.baseUrl}/api/v1/uploads`,
        headers: bearer(owner),
        metadata: { sessionId, filename: 'estante.mp4', filetype: 'video/mp4' },
        onError: reject,
        onSuccess: () => resolve(),
      }).start();
    });
    const deadline = Date.now() + 120_000;
    let session: { state: string; failureCode: string | null };
    for (;;) {
      session = (
        await api.inject({ method: 'GET', url: `/api/v1/inventory-sessions/${sessionId}`, headers: bearer(owner) })
      ).json();
      if (session.state === 'READY' || session.state === 'FAILED') break;
      if (Date.now() > deadline) throw new Error(`session still ${session.state}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(session).toMatchObject({ state: 'FAILED', failureCode: 'PROVIDER_ERROR' });
    expect(calls).toBeGreaterThanOrEqual(2);
    const ledger = await database.adminQuery<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM billing.credit_transactions WHERE reference_id = $1::text GROUP BY type`,
      [sessionId],
    );
    expect(Object.fromEntries(ledger.map((row) => [row.type, row.n]))).toEqual({ HOLD: 1, HOLD_VOID: 1 });
    const cogs = await database.adminQuery<{ provider: string; success: boolean; error_code: string }>(
      `SELECT provider, success, error_code FROM billing.cogs_records WHERE session_id = $1`,
      [sessionId],
    );
    // One record per job attempt (QUEUE_ATTEMPTS = 2), each a failed OpenAI call.
    expect(cogs).toHaveLength(2);
    for (const row of cogs) expect(row).toMatchObject({ provider: 'openai', success: false });
    const items = await database.adminQuery(`SELECT id FROM inventory.inventory_items WHERE session_id = $1`, [
      sessionId,
    ]);
    expect(items).toEqual([]);
  }, 180_000);
});
