import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/app.factory.js';
import { normalizeProductName } from '../../src/modules/products/product-name.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../../src/modules/storage/object-storage.port.js';
import { gs1CheckDigit } from '../../src/modules/vision/gtin.js';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const ADMIN = 'ground-truth-admin@miinventario.mx';

type Method = 'GET' | 'POST' | 'PATCH';
type Box = { x: number; y: number; w: number; h: number };

interface ReportLine {
  id: string;
  productId: string | null;
  gtin: string | null;
  name: string;
  quantity: number;
  originalQuantity: number;
  markedWrong: boolean;
  corrected: boolean;
  source: 'DETECTION' | 'MANUAL';
  evidence: { frameId: string | null; url: string | null; box: Box | null };
}

interface Totals {
  lines: number;
  units: number;
  linesToReview: number;
}

interface DiffLine {
  key: string;
  productId: string | null;
  gtin: string | null;
  name: string;
  previousQuantity: number;
  currentQuantity: number;
  change: number;
  status: string;
  evidence: {
    previous: { frameId: string; url: string | null; box: Box | null } | null;
    current: { frameId: string; url: string | null; box: Box | null } | null;
  };
}

/** A valid EAN-13 from its first 12 digits. */
const ean13 = (body: string) => `${body}${gs1CheckDigit(body)}`;
/** The GTIN-14 the database keeps for an EAN-13. */
const gtin14 = (ean: string) => ean.padStart(14, '0');

/**
 * Issue 6 "Corrections" and "Count-to-count diff", through the real app on a real PostgreSQL:
 * READY sessions are made by starting them through the API, then (as superuser) moving them to
 * READY and inserting their lines, videos and frames — the video pipeline is not run here.
 */
describe('corrections, ground truth and the count-to-count diff', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'miinventario-corrections-e2e-'));
  const clock = new FakeClock();
  let database: TestDatabase;
  let api: TestApp;
  let admin: SignedIn;
  let owner: SignedIn;
  let stranger: SignedIn;
  let storeId: string;
  let strangerStoreId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    api = await createTestApp(database, { env: { ADMIN_IDENTIFIERS: ADMIN, DATA_DIR: dataDir }, clock });
    admin = await signIn(api, ADMIN);
    owner = await signIn(api, uniquePhone());
    stranger = await signIn(api, uniquePhone());
    await grant(owner, 10);
    await grant(stranger, 3);
    storeId = await createStore(owner, 'Abarrotes Doña Mary');
    strangerStoreId = await createStore(stranger, 'Miscelánea El Vecino');
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const adminQuery = <T>(sql: string, params: unknown[] = []) => database.adminQuery<T>(sql, params);
  const storage = () => api.app.get<ObjectStorage>(OBJECT_STORAGE);
  const call = (who: SignedIn, method: Method, url: string, payload?: object) =>
    api.inject({ method, url, headers: bearer(who), ...(payload === undefined ? {} : { payload }) });
  const patchItem = (who: SignedIn, sessionId: string, itemId: string, payload: object) =>
    call(who, 'PATCH', `/api/v1/inventory-sessions/${sessionId}/items/${itemId}`, payload);
  const addItem = (who: SignedIn, sessionId: string, payload: object) =>
    call(who, 'POST', `/api/v1/inventory-sessions/${sessionId}/items`, payload);
  const getDiff = (who: SignedIn, sessionId: string) =>
    call(who, 'GET', `/api/v1/inventory-sessions/${sessionId}/diff`);
  const getReport = async (who: SignedIn, sessionId: string) => {
    const response = await call(who, 'GET', `/api/v1/inventory-sessions/${sessionId}/report`);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { lines: ReportLine[]; totals: Totals };
  };
  /** The path and query of a signed URL (the app is reached by injection, not on its public address). */
  const pathOf = (url: string) => {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  };

  async function grant(who: SignedIn, credits: number): Promise<void> {
    const response = await call(admin, 'POST', `/api/v1/admin/credits/wallets/${who.user.id}/adjustments`, {
      credits,
      reason: 'créditos de prueba',
    });
    expect(response.statusCode, response.body).toBe(201);
  }

  async function createStore(who: SignedIn, name: string): Promise<string> {
    const response = await call(who, 'POST', '/api/v1/stores', { name, giro: 'abarrotes' });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  }

  /** Starts a session through the API; with `readyAt`, moves it to READY (as superuser) created 10 min before. */
  async function session(who: SignedIn, store: string, readyAt?: string): Promise<string> {
    const response = await call(who, 'POST', `/api/v1/stores/${store}/inventory-sessions`, {});
    expect(response.statusCode, response.body).toBe(201);
    const id = response.json().id as string;
    if (readyAt) {
      await adminQuery(
        `UPDATE inventory.inventory_sessions
            SET state = 'READY', progress = 100, created_at = $2::timestamptz - interval '10 minutes',
                uploading_at = $2::timestamptz - interval '9 minutes', uploaded_at = $2::timestamptz - interval '8 minutes',
                queued_at = $2::timestamptz - interval '8 minutes', processing_at = $2::timestamptz - interval '7 minutes',
                ready_at = $2::timestamptz, provider = 'barcode', frames_used = 3
          WHERE id = $1`,
        [id, readyAt],
      );
    }
    return id;
  }

  async function product(input: { storeId: string | null; name: string; gtin?: string; brand?: string }) {
    const [row] = await adminQuery<{ id: string }>(
      `INSERT INTO inventory.products (store_id, gtin, name, normalized_name, brand, source)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [
        input.storeId,
        input.gtin ? gtin14(input.gtin) : null,
        input.name,
        normalizeProductName(input.name),
        input.brand ?? null,
        input.storeId ? 'STORE' : 'ADMIN',
      ],
    );
    return row!.id;
  }

  let frameCounter = 0;
  /** A stored evidence frame of `sessionId` (its video row made on first use). */
  async function frame(store: string, sessionId: string): Promise<{ id: string; key: string; body: Buffer }> {
    const [video] = await adminQuery<{ id: string }>(
      `INSERT INTO media.videos (store_id, session_id, status, storage_backend) VALUES ($1, $2, 'VALID', 'local')
       ON CONFLICT (session_id) DO UPDATE SET status = EXCLUDED.status RETURNING id`,
      [store, sessionId],
    );
    frameCounter += 1;
    const key = `stores/${store}/sessions/${sessionId}/frames/${String(frameCounter).padStart(6, '0')}.jpg`;
    const body = randomBytes(2048);
    await storage().putBuffer(key, body, 'image/jpeg');
    const [row] = await adminQuery<{ id: string }>(
      `INSERT INTO media.frames (store_id, video_id, frame_index, timestamp_ms, storage_key, width, height)
       VALUES ($1, $2, $3, $4, $5, 1280, 720) RETURNING id`,
      [store, video!.id, frameCounter, frameCounter * 500, key],
    );
    return { id: row!.id, key, body };
  }

  interface ItemSpec {
    productId?: string;
    gtin?: string;
    name?: string;
    quantity: number;
    correctedQuantity?: number;
    markedWrong?: boolean;
    frameId?: string;
    box?: Box;
  }
  let sortIndex = 0;
  /** A DETECTION line of a session, as the pipeline writes it. */
  async function item(store: string, sessionId: string, spec: ItemSpec): Promise<string> {
    sortIndex += 1;
    const [row] = await adminQuery<{ id: string }>(
      `INSERT INTO inventory.inventory_items
         (store_id, session_id, product_id, gtin, detected_name, quantity, corrected_quantity, marked_wrong,
          confidence, evidence_frame_id, evidence_box, sort_index)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0.9, $9, $10, $11) RETURNING id`,
      [
        store,
        sessionId,
        spec.productId ?? null,
        spec.gtin ? gtin14(spec.gtin) : null,
        spec.name ?? null,
        spec.quantity,
        spec.correctedQuantity ?? null,
        spec.markedWrong ?? false,
        spec.frameId ?? null,
        spec.box ? JSON.stringify(spec.box) : null,
        sortIndex,
      ],
    );
    return row!.id;
  }

  /** Everything a correction writes, summed up: equal before and after means nothing was written. */
  async function footprint(): Promise<unknown> {
    const [row] = await adminQuery(
      `SELECT (SELECT count(*)::int FROM feedback.corrections) AS corrections,
              (SELECT count(*)::int FROM feedback.ground_truth) AS ground_truth,
              (SELECT count(*)::int FROM admin.audit_logs WHERE action = 'inventory.item_corrected') AS audits,
              (SELECT count(*)::int FROM inventory.inventory_items) AS items,
              (SELECT md5(coalesce(string_agg(concat_ws('|', id, quantity, corrected_quantity, product_id,
                        corrected_product_id, marked_wrong, corrected_at, corrected_by), ',' ORDER BY id), ''))
                 FROM inventory.inventory_items) AS lines`,
    );
    return row;
  }

  function expectProblem(response: Awaited<ReturnType<typeof call>>, status: number, code: string): void {
    expect({ status: response.statusCode, code: response.json().code }, response.body).toEqual({ status, code });
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  }

  it('documents the endpoints in the OpenAPI document the clients are generated from', () => {
    const document = buildOpenApiDocument(api.app);
    const operation = (path: string, method: 'get' | 'post' | 'patch') =>
      (document.paths[path] as Record<string, { operationId?: string; requestBody?: unknown; responses?: object }>)[
        method
      ];
    const patch = operation('/api/v1/inventory-sessions/{id}/items/{itemId}', 'patch');
    expect(patch?.operationId).toBe('correctInventoryItem');
    expect(JSON.stringify(patch?.requestBody)).toContain('CorrectInventoryItem');
    expect(JSON.stringify(patch?.responses)).toContain('InventoryCorrectionResult');
    const post = operation('/api/v1/inventory-sessions/{id}/items', 'post');
    expect(post?.operationId).toBe('addMissingInventoryItem');
    expect(JSON.stringify(post?.requestBody)).toContain('AddMissingInventoryItem');
    expect(operation('/api/v1/inventory-sessions/{id}/diff', 'get')?.operationId).toBe('getInventoryDiff');
    expect(operation('/api/v1/admin/ground-truth/export', 'get')?.operationId).toBe('exportGroundTruth');
    const schemas = document.components?.schemas ?? {};
    for (const id of [
      'CorrectInventoryItem',
      'AddMissingInventoryItem',
      'InventoryCorrectionResult',
      'InventoryDiff',
    ]) {
      expect(schemas, id).toHaveProperty(id);
    }
  });

  describe('correcting a READY report', () => {
    const GTIN_COLA = ean13('750105530001');
    const GTIN_GALLETAS = ean13('750100011122');
    let sessionId: string;
    let colaId: string;
    let sabritasId: string;
    let pinguinosId: string;
    let galletasId: string;
    let foreignProductId: string;
    let frameCola: { id: string; key: string; body: Buffer };
    let lineCola: string;
    let lineSabritas: string;
    let lineUnknown: string;
    const boxCola: Box = { x: 100, y: 40, w: 220, h: 380 };

    beforeAll(async () => {
      colaId = await product({ storeId, name: 'Coca-Cola 600 ml', gtin: GTIN_COLA, brand: 'Coca-Cola' });
      sabritasId = await product({ storeId: null, name: 'Sabritas Original 45 g (prueba)', brand: 'Sabritas' });
      pinguinosId = await product({ storeId, name: 'Pingüinos Marinela', brand: 'Marinela' });
      galletasId = await product({ storeId, name: 'Galletas Marías Gamesa', gtin: GTIN_GALLETAS });
      foreignProductId = await product({ storeId: strangerStoreId, name: 'Producto del vecino' });
      sessionId = await session(owner, storeId, '2025-03-02T18:00:00Z');
      frameCola = await frame(storeId, sessionId);
      const frameSabritas = await frame(storeId, sessionId);
      lineCola = await item(storeId, sessionId, {
        productId: colaId,
        gtin: GTIN_COLA,
        name: 'coca cola 600',
        quantity: 3,
        frameId: frameCola.id,
        box: boxCola,
      });
      lineSabritas = await item(storeId, sessionId, {
        productId: sabritasId,
        name: 'sabritas',
        quantity: 2,
        frameId: frameSabritas.id,
        box: { x: 5, y: 6, w: 70, h: 80 },
      });
      lineUnknown = await item(storeId, sessionId, { name: 'refresco verde', quantity: 4 });
    });

    it('changes a quantity: the report shows the new count and keeps the original; ground truth and audit are written', async () => {
      const before = await getReport(owner, sessionId);
      expect(before.totals).toEqual({ lines: 3, units: 9, linesToReview: 0 });

      const response = await patchItem(owner, sessionId, lineCola, { quantity: 5, reason: 'Conté de nuevo' });
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as { correctionId: string; line: ReportLine; totals: Totals };
      expect(body.correctionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.line).toMatchObject({
        id: lineCola,
        productId: colaId,
        name: 'Coca-Cola 600 ml',
        gtin: GTIN_COLA,
        quantity: 5,
        originalQuantity: 3,
        corrected: true,
        markedWrong: false,
        source: 'DETECTION',
        evidence: { frameId: frameCola.id, box: boxCola },
      });
      expect(body.totals).toEqual({ lines: 3, units: 11, linesToReview: 0 });

      const report = await getReport(owner, sessionId);
      expect(report.lines.find((line) => line.id === lineCola)).toMatchObject({ quantity: 5, originalQuantity: 3 });
      expect(report.totals.units).toBe(11);

      const [stored] = await adminQuery<{ quantity: number; corrected_quantity: number; corrected_by: string }>(
        `SELECT quantity, corrected_quantity, corrected_by FROM inventory.inventory_items WHERE id = $1`,
        [lineCola],
      );
      expect(stored).toEqual({ quantity: 3, corrected_quantity: 5, corrected_by: owner.user.id });

      const corrections = await adminQuery(
        `SELECT kind, item_id, session_id, store_id, old_value, new_value, reason, created_by
           FROM feedback.corrections WHERE id = $1`,
        [body.correctionId],
      );
      expect(corrections).toEqual([
        {
          kind: 'QUANTITY',
          item_id: lineCola,
          session_id: sessionId,
          store_id: storeId,
          old_value: { quantity: 3 },
          new_value: { quantity: 5 },
          reason: 'Conté de nuevo',
          created_by: owner.user.id,
        },
      ]);
      const truth = await adminQuery(
        `SELECT frame_id, box, product_id, gtin, product_name, true_count, source, item_id, session_id, store_id
           FROM feedback.ground_truth WHERE correction_id = $1`,
        [body.correctionId],
      );
      expect(truth).toEqual([
        {
          frame_id: frameCola.id,
          box: boxCola,
          product_id: colaId,
          gtin: gtin14(GTIN_COLA),
          product_name: 'Coca-Cola 600 ml',
          true_count: 5,
          source: 'CORRECTION',
          item_id: lineCola,
          session_id: sessionId,
          store_id: storeId,
        },
      ]);
      const audits = await adminQuery<{
        actor_user_id: string;
        target_type: string;
        store_id: string;
        metadata: Record<string, unknown>;
      }>(
        `SELECT actor_user_id, target_type, store_id, metadata FROM admin.audit_logs
          WHERE action = 'inventory.item_corrected' AND target_id = $1`,
        [lineCola],
      );
      expect(audits).toHaveLength(1);
      expect(audits[0]).toMatchObject({
        actor_user_id: owner.user.id,
        target_type: 'inventory_item',
        store_id: storeId,
        metadata: {
          sessionId,
          correctionId: body.correctionId,
          kind: 'QUANTITY',
          oldValue: { quantity: 3 },
          newValue: { quantity: 5 },
        },
      });
    });

    it('writes nothing when the body repeats the current values (a retried request)', async () => {
      const before = await footprint();
      const response = await patchItem(owner, sessionId, lineCola, { quantity: 5 });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json().correctionId).toBeNull();
      expect(response.json().line).toMatchObject({ quantity: 5, originalQuantity: 3 });
      expect(await footprint()).toEqual(before);
    });

    it("changes a line's product, as an OPERATOR of the store", async () => {
      const phone = uniquePhone();
      const invited = await call(owner, 'POST', `/api/v1/stores/${storeId}/invitations`, { identifier: phone });
      expect(invited.statusCode, invited.body).toBe(201);
      const operator = await signIn(api, phone);
      const accepted = await call(operator, 'POST', `/api/v1/invitations/${invited.json().id}/accept`);
      expect(accepted.statusCode, accepted.body).toBe(200);

      const response = await patchItem(operator, sessionId, lineSabritas, { productId: pinguinosId.toUpperCase() });
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as { correctionId: string; line: ReportLine; totals: Totals };
      expect(body.line).toMatchObject({
        id: lineSabritas,
        productId: pinguinosId,
        name: 'Pingüinos Marinela',
        quantity: 2,
        originalQuantity: 2,
        corrected: true,
      });
      expect(body.totals).toEqual({ lines: 3, units: 11, linesToReview: 0 });
      const [stored] = await adminQuery(
        `SELECT product_id, corrected_product_id, corrected_quantity, corrected_by FROM inventory.inventory_items WHERE id = $1`,
        [lineSabritas],
      );
      expect(stored).toEqual({
        product_id: sabritasId,
        corrected_product_id: pinguinosId,
        corrected_quantity: null,
        corrected_by: operator.user.id,
      });
      const [correction] = await adminQuery(
        `SELECT kind, old_value, new_value, created_by FROM feedback.corrections WHERE id = $1`,
        [body.correctionId],
      );
      expect(correction).toEqual({
        kind: 'PRODUCT',
        old_value: { productId: sabritasId },
        new_value: { productId: pinguinosId },
        created_by: operator.user.id,
      });
      const [truth] = await adminQuery(
        `SELECT product_id, product_name, true_count, frame_id FROM feedback.ground_truth WHERE correction_id = $1`,
        [body.correctionId],
      );
      expect(truth).toMatchObject({ product_id: pinguinosId, product_name: 'Pingüinos Marinela', true_count: 2 });
      expect((truth as { frame_id: string }).frame_id).not.toBeNull();
    });

    it('marks a line wrong: it counts 0, leaves the totals, and its ground truth says 0', async () => {
      const response = await patchItem(owner, sessionId, lineUnknown, { markedWrong: true, reason: 'No es mío' });
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as { correctionId: string; line: ReportLine; totals: Totals };
      expect(body.line).toMatchObject({
        id: lineUnknown,
        productId: null,
        name: 'refresco verde',
        quantity: 0,
        originalQuantity: 4,
        markedWrong: true,
      });
      expect(body.totals).toEqual({ lines: 2, units: 7, linesToReview: 0 });
      const [truth] = await adminQuery(
        `SELECT g.true_count, g.product_id, g.product_name, g.frame_id, c.kind, c.old_value, c.new_value
           FROM feedback.ground_truth g JOIN feedback.corrections c ON c.id = g.correction_id
          WHERE g.correction_id = $1`,
        [body.correctionId],
      );
      expect(truth).toEqual({
        true_count: 0,
        product_id: null,
        product_name: 'refresco verde',
        frame_id: null,
        kind: 'MARK_WRONG',
        old_value: { markedWrong: false },
        new_value: { markedWrong: true },
      });
      const report = await getReport(owner, sessionId);
      expect(report.totals).toEqual({ lines: 2, units: 7, linesToReview: 0 });
      expect(report.lines).toHaveLength(3);
    });

    it('adds a missed product by name: a MANUAL line with original quantity 0', async () => {
      const response = await addItem(owner, sessionId, {
        name: '  Chicles   Canel’s ',
        brand: 'Canel’s',
        quantity: 7,
        reason: 'Estaban en el mostrador',
      });
      expect(response.statusCode, response.body).toBe(201);
      const body = response.json() as { correctionId: string; line: ReportLine; totals: Totals };
      expect(body.line).toMatchObject({
        productId: null,
        gtin: null,
        name: 'Chicles Canel’s',
        quantity: 7,
        originalQuantity: 0,
        corrected: true,
        markedWrong: false,
        source: 'MANUAL',
        evidence: { frameId: null, url: null, box: null },
      });
      expect(body.totals).toEqual({ lines: 3, units: 14, linesToReview: 0 });
      const report = await getReport(owner, sessionId);
      expect(report.lines[report.lines.length - 1]!.id).toBe(body.line.id);
      const [truth] = await adminQuery(
        `SELECT g.true_count, g.product_id, g.product_name, g.frame_id, g.box, g.item_id, c.kind, c.old_value, c.new_value,
                c.reason
           FROM feedback.ground_truth g JOIN feedback.corrections c ON c.id = g.correction_id
          WHERE g.correction_id = $1`,
        [body.correctionId],
      );
      expect(truth).toEqual({
        true_count: 7,
        product_id: null,
        product_name: 'Chicles Canel’s',
        frame_id: null,
        box: null,
        item_id: body.line.id,
        kind: 'ADD_MISSING',
        old_value: null,
        new_value: { productId: null, name: 'Chicles Canel’s', brand: 'Canel’s', gtin: null, quantity: 7 },
        reason: 'Estaban en el mostrador',
      });
      const [audit] = await adminQuery<{ metadata: { kind: string } }>(
        `SELECT metadata FROM admin.audit_logs WHERE action = 'inventory.item_corrected' AND target_id = $1`,
        [body.line.id],
      );
      expect(audit!.metadata.kind).toBe('ADD_MISSING');
    });

    it('adds a missed product by productId, and by a barcode the store knows', async () => {
      const byId = await addItem(owner, sessionId, { productId: colaId, quantity: 2 });
      expect(byId.statusCode, byId.body).toBe(201);
      expect(byId.json().line).toMatchObject({
        productId: colaId,
        gtin: GTIN_COLA,
        name: 'Coca-Cola 600 ml',
        quantity: 2,
        source: 'MANUAL',
      });
      const byBarcode = await addItem(owner, sessionId, { name: 'galletas marias', gtin: GTIN_GALLETAS, quantity: 1 });
      expect(byBarcode.statusCode, byBarcode.body).toBe(201);
      expect(byBarcode.json().line).toMatchObject({
        productId: galletasId,
        gtin: GTIN_GALLETAS,
        name: 'Galletas Marías Gamesa',
        quantity: 1,
      });
      expect(byBarcode.json().totals).toEqual({ lines: 5, units: 17, linesToReview: 0 });
      const [truth] = await adminQuery(
        `SELECT product_id, gtin, true_count FROM feedback.ground_truth WHERE correction_id = $1`,
        [byBarcode.json().correctionId],
      );
      expect(truth).toEqual({ product_id: galletasId, gtin: gtin14(GTIN_GALLETAS), true_count: 1 });
    });

    it('refuses bad bodies with 400 problem+json and writes nothing', async () => {
      const before = await footprint();
      const patches: Array<[object, string]> = [
        [{}, '(body)'],
        [{ reason: 'solo una razón' }, '(body)'],
        [{ quantity: -1 }, 'quantity'],
        [{ quantity: 2.5 }, 'quantity'],
        [{ quantity: '3' }, 'quantity'],
        [{ markedWrong: true, quantity: 2 }, 'quantity'],
        [{ productId: 'not-a-uuid' }, 'productId'],
        [{ quantity: 1, extra: true }, '(body)'],
        [{ productId: foreignProductId }, 'productId'],
        [{ productId: '6f1c1a52-98b4-4a1e-9a52-1d5a3f0f0c11' }, 'productId'],
      ];
      for (const [payload, field] of patches) {
        const response = await patchItem(owner, sessionId, lineCola, payload);
        expectProblem(response, 400, 'VALIDATION_FAILED');
        expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
      }
      const additions: Array<[object, string]> = [
        [{ name: 'Chetos', quantity: 0 }, 'quantity'],
        [{ name: 'Chetos' }, 'quantity'],
        [{ quantity: 2 }, 'name'],
        [{ productId: colaId, name: 'Coca', quantity: 2 }, 'name'],
        [{ productId: colaId, gtin: GTIN_COLA, quantity: 2 }, 'productId'],
        [{ name: 'Chetos', gtin: '7501055300010', quantity: 2 }, 'gtin'],
        [{ productId: foreignProductId, quantity: 2 }, 'productId'],
      ];
      for (const [payload, field] of additions) {
        const response = await addItem(owner, sessionId, payload);
        expectProblem(response, 400, 'VALIDATION_FAILED');
        expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
      }
      expectProblem(await patchItem(owner, sessionId, 'not-a-uuid', { quantity: 1 }), 400, 'VALIDATION_FAILED');
      expect(await footprint()).toEqual(before);
    });

    it("answers 404 to another store's member on every endpoint, and writes nothing", async () => {
      const before = await footprint();
      expectProblem(await patchItem(stranger, sessionId, lineCola, { quantity: 99 }), 404, 'NOT_FOUND');
      expectProblem(await patchItem(stranger, sessionId, lineCola, { markedWrong: true }), 404, 'NOT_FOUND');
      expectProblem(await addItem(stranger, sessionId, { name: 'Intruso', quantity: 1 }), 404, 'NOT_FOUND');
      expectProblem(await getDiff(stranger, sessionId), 404, 'NOT_FOUND');
      expect(await footprint()).toEqual(before);
      // Admins are not store members either: corrections are the store's.
      expectProblem(await patchItem(admin, sessionId, lineCola, { quantity: 99 }), 404, 'NOT_FOUND');
      expect(await footprint()).toEqual(before);
    });

    it('answers 404 for a line that is not in the session', async () => {
      const other = await session(owner, storeId, '2025-03-01T18:00:00Z');
      const elsewhere = await item(storeId, other, { name: 'otra sesión', quantity: 1 });
      const before = await footprint();
      expectProblem(await patchItem(owner, sessionId, elsewhere, { quantity: 2 }), 404, 'NOT_FOUND');
      expectProblem(
        await patchItem(owner, sessionId, '0d3c5a3e-5f7a-4b8e-9a43-0a1b2c3d4e5f', { quantity: 2 }),
        404,
        'NOT_FOUND',
      );
      expect(await footprint()).toEqual(before);
    });

    it('answers 409 REPORT_NOT_READY on a session that is not READY, and writes nothing', async () => {
      const pending = await session(owner, storeId);
      const line = await item(storeId, pending, { name: 'todavía procesando', quantity: 1 });
      const before = await footprint();
      expectProblem(await patchItem(owner, pending, line, { quantity: 2 }), 409, 'REPORT_NOT_READY');
      expectProblem(await addItem(owner, pending, { name: 'Chetos', quantity: 1 }), 409, 'REPORT_NOT_READY');
      expectProblem(await getDiff(owner, pending), 409, 'REPORT_NOT_READY');
      expect(await footprint()).toEqual(before);
    });
  });

  describe('count-to-count diff', () => {
    const GTIN_FRIJOL = ean13('750100022233');
    let diffStoreId: string;
    let first: string;
    let previous: string;
    let current: string;
    let ids: Record<string, string>;
    const frames: Record<string, string> = {};

    beforeAll(async () => {
      diffStoreId = await createStore(owner, 'Abarrotes La Esquina');
      ids = {
        leche: await product({ storeId: diffStoreId, name: 'Leche Lala 1 L' }),
        atun: await product({ storeId: null, name: 'Atún Dolores en agua (prueba)' }),
        jugo: await product({ storeId: diffStoreId, name: 'Jugo Jumex Mango' }),
        cerveza: await product({ storeId: diffStoreId, name: 'Cerveza Victoria' }),
        frijol: await product({ storeId: diffStoreId, name: 'Frijoles La Sierra', gtin: GTIN_FRIJOL }),
      };
      first = await session(owner, diffStoreId, '2025-02-01T16:00:00Z');
      await item(diffStoreId, first, { productId: ids.leche!, quantity: 9 });

      previous = await session(owner, diffStoreId, '2025-03-01T16:00:00Z');
      const f = async (name: string, sessionId: string) => {
        frames[name] = (await frame(diffStoreId, sessionId)).id;
        return frames[name];
      };
      // leche 5 → 5 (SAME), atún 3 + 1 → 2 (DOWN), barcode-only 1 → 3 corrected (UP, matched by barcode to
      // the product), chicles by name 2 → gone (DISAPPEARED), jabón by case- and accent-free name 3 → 3
      // (SAME), cerveza 2 → marked wrong (DISAPPEARED), jugo 0 → 6 (APPEARED).
      await item(diffStoreId, previous, {
        productId: ids.leche!,
        quantity: 5,
        frameId: await f('lechePrev', previous),
      });
      await item(diffStoreId, previous, { productId: ids.atun!, quantity: 3, frameId: await f('atunPrev', previous) });
      await item(diffStoreId, previous, { productId: ids.atun!, quantity: 1 });
      await item(diffStoreId, previous, { gtin: GTIN_FRIJOL, name: 'frijol', quantity: 1 });
      await item(diffStoreId, previous, {
        name: 'Chicles Canel’s',
        quantity: 2,
        frameId: await f('chicles', previous),
      });
      await item(diffStoreId, previous, { name: 'Jabón Zote', quantity: 3 });
      await item(diffStoreId, previous, { productId: ids.cerveza!, quantity: 2 });

      // A newer session that never got READY sits between the two counts: it is skipped.
      const failed = await session(owner, diffStoreId);
      await adminQuery(
        `UPDATE inventory.inventory_sessions
            SET state = 'FAILED', failure_code = 'VIDEO_UNREADABLE', failed_at = '2025-03-10T10:00:00Z',
                created_at = '2025-03-10T09:55:00Z'
          WHERE id = $1`,
        [failed],
      );

      current = await session(owner, diffStoreId, '2025-04-01T16:00:00Z');
      await item(diffStoreId, current, { productId: ids.leche!, quantity: 5, frameId: await f('lecheCur', current) });
      await item(diffStoreId, current, { productId: ids.atun!, quantity: 2, frameId: await f('atunCur', current) });
      await item(diffStoreId, current, {
        productId: ids.frijol!,
        gtin: GTIN_FRIJOL,
        quantity: 2,
        correctedQuantity: 3,
        frameId: await f('frijolCur', current),
        box: { x: 1, y: 2, w: 3, h: 4 },
      });
      await item(diffStoreId, current, { name: 'JABON ZOTE', quantity: 3 });
      await item(diffStoreId, current, { productId: ids.cerveza!, quantity: 2, markedWrong: true });
      await item(diffStoreId, current, { productId: ids.jugo!, quantity: 6, frameId: await f('jugoCur', current) });
    });

    it('compares with the previous READY count: appeared, disappeared, up, down and same, with both evidence frames', async () => {
      const response = await getDiff(owner, current);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as {
        sessionId: string;
        previousSessionId: string;
        readyAt: string;
        previousReadyAt: string;
        lines: DiffLine[];
        totals: Record<string, number>;
      };
      expect(body).toMatchObject({
        sessionId: current,
        previousSessionId: previous,
        readyAt: '2025-04-01T16:00:00.000Z',
        previousReadyAt: '2025-03-01T16:00:00.000Z',
      });
      const summary = body.lines.map((line) => [line.name, line.status, line.previousQuantity, line.currentQuantity]);
      expect(summary).toEqual([
        ['Cerveza Victoria', 'DISAPPEARED', 2, 0],
        ['Chicles Canel’s', 'DISAPPEARED', 2, 0],
        ['Atún Dolores en agua (prueba)', 'DOWN', 4, 2],
        ['Jugo Jumex Mango', 'APPEARED', 0, 6],
        ['Frijoles La Sierra', 'UP', 1, 3],
        ['JABON ZOTE', 'SAME', 3, 3],
        ['Leche Lala 1 L', 'SAME', 5, 5],
      ]);
      const byName = Object.fromEntries(body.lines.map((line) => [line.name, line]));
      expect(byName['Atún Dolores en agua (prueba)']).toMatchObject({
        key: `product:${ids.atun}`,
        productId: ids.atun,
        change: -2,
        evidence: { previous: { frameId: frames.atunPrev }, current: { frameId: frames.atunCur } },
      });
      expect(byName['Atún Dolores en agua (prueba)']!.evidence.previous!.url).toContain('/api/v1/objects/');
      expect(byName['Atún Dolores en agua (prueba)']!.evidence.current!.url).toContain('/api/v1/objects/');
      expect(byName['Frijoles La Sierra']).toMatchObject({
        key: `product:${ids.frijol}`,
        productId: ids.frijol,
        gtin: GTIN_FRIJOL,
        change: 2,
        evidence: { previous: null, current: { frameId: frames.frijolCur, box: { x: 1, y: 2, w: 3, h: 4 } } },
      });
      expect(byName['Chicles Canel’s']).toMatchObject({
        key: 'name:chicles canel’s',
        productId: null,
        change: -2,
        evidence: { previous: { frameId: frames.chicles }, current: null },
      });
      expect(byName['Jugo Jumex Mango']).toMatchObject({
        change: 6,
        evidence: { previous: null, current: { frameId: frames.jugoCur } },
      });
      expect(byName['JABON ZOTE']!.key).toBe('name:jabon zote');
      expect(body.totals).toEqual({
        previousUnits: 17,
        currentUnits: 19,
        change: 2,
        appeared: 1,
        disappeared: 2,
        up: 1,
        down: 1,
        same: 2,
      });
      // The evidence URL serves the frame without a token.
      const url = byName['Leche Lala 1 L']!.evidence.current!.url!;
      expect((await api.inject({ method: 'GET', url: pathOf(url) })).statusCode).toBe(200);
    });

    it('follows corrections: a corrected count changes the diff', async () => {
      const [line] = await adminQuery<{ id: string }>(
        `SELECT id FROM inventory.inventory_items WHERE session_id = $1 AND product_id = $2`,
        [current, ids.leche],
      );
      const corrected = await patchItem(owner, current, line!.id, { quantity: 1 });
      expect(corrected.statusCode, corrected.body).toBe(200);
      const body = (await getDiff(owner, current)).json() as { lines: DiffLine[]; totals: Record<string, number> };
      expect(body.lines.find((entry) => entry.productId === ids.leche)).toMatchObject({
        status: 'DOWN',
        previousQuantity: 5,
        currentQuantity: 1,
        change: -4,
      });
      expect(body.totals).toMatchObject({ previousUnits: 17, currentUnits: 15, change: -2, down: 2, same: 1 });
    });

    it("answers 200 for a store's first count: previousSessionId null and every line APPEARED", async () => {
      const response = await getDiff(owner, first);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({
        sessionId: first,
        previousSessionId: null,
        previousReadyAt: null,
        lines: [
          {
            key: `product:${ids.leche}`,
            name: 'Leche Lala 1 L',
            previousQuantity: 0,
            currentQuantity: 9,
            change: 9,
            status: 'APPEARED',
            evidence: { previous: null, current: null },
          },
        ],
        totals: { previousUnits: 0, currentUnits: 9, change: 9, appeared: 1, disappeared: 0, up: 0, down: 0, same: 0 },
      });
    });
  });

  describe('ground-truth export (ADMIN)', () => {
    const exportUrl = '/api/v1/admin/ground-truth/export';

    it('answers 403 FORBIDDEN to a non-admin and 401 without a token', async () => {
      expectProblem(await call(owner, 'GET', exportUrl), 403, 'FORBIDDEN');
      const anonymous = await api.inject({ method: 'GET', url: exportUrl });
      expect(anonymous.statusCode).toBe(401);
    });

    it('streams one JSON line per ground-truth row, with frame URLs valid for a day that serve the frame', async () => {
      const response = await call(admin, 'GET', exportUrl);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
      expect(response.headers['content-disposition']).toContain('ground-truth.jsonl');
      const rows = response.body
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const [{ n }] = (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM feedback.ground_truth`)) as [
        { n: number },
      ];
      expect(n).toBeGreaterThanOrEqual(7);
      expect(rows).toHaveLength(n);
      const created = rows.map((row) => row.createdAt as string);
      expect([...created].sort()).toEqual(created);

      const [quantityTruth] = await adminQuery<{ id: string; frame_id: string; storage_key: string }>(
        `SELECT g.id, g.frame_id, f.storage_key FROM feedback.ground_truth g
           JOIN feedback.corrections c ON c.id = g.correction_id JOIN media.frames f ON f.id = g.frame_id
          WHERE c.kind = 'QUANTITY' AND g.true_count = 5`,
      );
      const row = rows.find((candidate) => candidate.id === quantityTruth!.id) as {
        frame: { id: string; key: string; url: string; width: number; height: number };
        [key: string]: unknown;
      };
      expect(row).toMatchObject({
        storeId,
        kind: 'QUANTITY',
        source: 'CORRECTION',
        box: { x: 100, y: 40, w: 220, h: 380 },
        productName: 'Coca-Cola 600 ml',
        gtin: gtin14(ean13('750105530001')),
        trueCount: 5,
        frame: { id: quantityTruth!.frame_id, key: quantityTruth!.storage_key, width: 1280, height: 720 },
      });
      const url = new URL(row.frame.url);
      expect(Number(url.searchParams.get('expires'))).toBe(Math.floor(clock.now().getTime() / 1000) + 24 * 3600);
      const fetched = await api.inject({ method: 'GET', url: pathOf(row.frame.url) });
      expect(fetched.statusCode).toBe(200);
      const stored = await storage().getStream(row.frame.key);
      const chunks: Buffer[] = [];
      for await (const chunk of stored) chunks.push(chunk as Buffer);
      expect(fetched.rawPayload.equals(Buffer.concat(chunks))).toBe(true);

      const manual = rows.find((candidate) => candidate.productName === 'Chicles Canel’s');
      expect(manual).toMatchObject({ kind: 'ADD_MISSING', frame: null, box: null, trueCount: 7 });

      const [audit] = await adminQuery<{ actor_user_id: string; metadata: { operation: string } }>(
        `SELECT actor_user_id, metadata FROM admin.audit_logs WHERE action = 'admin.action' AND target_type = 'ground_truth'`,
      );
      expect(audit).toMatchObject({ actor_user_id: admin.user.id, metadata: { operation: 'ground_truth.export' } });
    });

    it('pages through more rows than one page, each once and in order, and filters by store and time', async () => {
      const strangerSession = await session(stranger, strangerStoreId, '2025-05-01T12:00:00Z');
      // 1,203 rows, many sharing a microsecond: the keyset must break ties by id and keep microseconds.
      await adminQuery(
        `INSERT INTO feedback.ground_truth (store_id, session_id, product_name, true_count, created_at)
         SELECT $1, $2, 'fila ' || i, i % 9, timestamptz '2025-05-01 12:00:00.000001+00' + (i / 7) * interval '1 microsecond'
           FROM generate_series(1, 1203) AS i`,
        [strangerStoreId, strangerSession],
      );
      const response = await call(admin, 'GET', `${exportUrl}?storeId=${strangerStoreId}`);
      expect(response.statusCode, response.body).toBe(200);
      const rows = response.body
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as { id: string; storeId: string; productName: string; trueCount: number });
      expect(rows).toHaveLength(1203);
      expect(new Set(rows.map((row) => row.id)).size).toBe(1203);
      expect(rows.every((row) => row.storeId === strangerStoreId)).toBe(true);
      const expected = await adminQuery<{ id: string }>(
        `SELECT id FROM feedback.ground_truth WHERE store_id = $1 ORDER BY created_at, id`,
        [strangerStoreId],
      );
      expect(rows.map((row) => row.id)).toEqual(expected.map((row) => row.id));

      const windowed = await call(
        admin,
        'GET',
        `${exportUrl}?storeId=${strangerStoreId}&from=2025-05-01T12:00:00.000010Z&to=2025-05-01T12:00:00.000020Z`,
      );
      expect(windowed.statusCode, windowed.body).toBe(200);
      // i / 7 (integer division) in 9..18 → i in 63..132.
      expect(windowed.body.split('\n').filter((line) => line.length > 0)).toHaveLength(70);

      expectProblem(await call(admin, 'GET', `${exportUrl}?storeId=nope`), 400, 'VALIDATION_FAILED');
      expectProblem(
        await call(admin, 'GET', `${exportUrl}?from=2025-06-01T00:00:00Z&to=2025-05-01T00:00:00Z`),
        400,
        'VALIDATION_FAILED',
      );
    });
  });
});
