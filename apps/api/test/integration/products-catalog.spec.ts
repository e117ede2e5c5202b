import { createHash, randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransactionService } from '../../src/database/transaction.service.js';
import {
  catalogFilePath,
  CatalogSeederService,
  type CatalogSeedResult,
} from '../../src/modules/products/catalog-seeder.service.js';
import { ProductsService } from '../../src/modules/products/products.service.js';
import { gs1CheckDigit, isValidGtin } from '../../src/modules/vision/gtin.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** The bundled file, located from this test (not through the code under test). */
const CATALOG_CSV = fileURLToPath(new URL('../../data/catalog/openfoodfacts_mx_lifyzer_2019.csv', import.meta.url));

/** What seeding the bundled file must report, computed here straight from the CSV. */
async function expectedCounts(): Promise<{ read: number; invalid: number; valid: number; distinct: number }> {
  const rows = parse(await readFile(CATALOG_CSV), { columns: true, bom: true }) as Array<Record<string, string>>;
  const valid = rows.filter((row) => isValidGtin(row.barcode!.trim()) && row.product_name!.trim() !== '');
  const distinct = new Set(valid.map((row) => row.barcode!.trim().padStart(14, '0'))).size;
  return { read: rows.length, invalid: rows.length - valid.length, valid: valid.length, distinct };
}

/** `body` + its GS1 check digit. */
const withCheckDigit = (body: string) => `${body}${gs1CheckDigit(body)}`;

/** This file needs no job worker. */
const APP_OPTIONS = { env: { RUN_WORKER: 'false' } };

describe('products catalogue (real PostgreSQL)', () => {
  let database: TestDatabase;
  let first: TestApp;
  let second: TestApp | undefined;
  let tmp: string;
  let storeA: string;
  let storeB: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    first = await createTestApp(database, APP_OPTIONS);
    tmp = await mkdtemp(join(tmpdir(), 'miinventario-catalog-'));
    const owner = randomUUID();
    await database.adminQuery(`INSERT INTO auth.users (id, phone) VALUES ($1, $2)`, [
      owner,
      `+52558${randomInt(1e7).toString().padStart(7, '0')}`,
    ]);
    const stores = await database.adminQuery<{ id: string }>(
      `INSERT INTO tenancy.stores (name, giro, created_by) VALUES ('Abarrotes Lupita', 'abarrotes', $1),
         ('Miscelánea Don Pepe', 'miscelanea', $1) RETURNING id`,
      [owner],
    );
    [storeA, storeB] = stores.map((row) => row.id) as [string, string];
  });

  afterAll(async () => {
    await second?.close();
    await first?.close();
    await database?.drop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const seeder = () => first.app.get(CatalogSeederService);
  const products = () => first.app.get(ProductsService);
  const asSystem = <T>(work: () => Promise<T>) => first.app.get(TransactionService).runAsSystem(work);
  const catalogCount = async () =>
    (
      await database.adminQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM inventory.products WHERE source = 'CATALOG' AND store_id IS NULL`,
      )
    )[0]!.n;
  const marker = async () =>
    (
      await database.adminQuery<{ value: Record<string, unknown> }>(
        `SELECT value FROM admin.settings WHERE key = 'catalog_seed'`,
      )
    )[0]?.value;

  it('finds the bundled file from the package root', () => {
    expect(catalogFilePath()).toBe(CATALOG_CSV);
  });

  it('seeds the bundled catalogue at start: read, inserted, invalid and duplicates match the file', async () => {
    const expected = await expectedCounts();
    // The extract's own check column says 3,199 of 3,227 rows carry a valid GTIN (SOURCES.md).
    expect(expected).toMatchObject({ read: 3227, valid: 3199 });
    const sha256 = createHash('sha256')
      .update(await readFile(CATALOG_CSV))
      .digest('hex');
    expect(await marker()).toMatchObject({
      sha256,
      read: expected.read,
      inserted: expected.distinct,
      invalid: expected.invalid,
      duplicates: expected.valid - expected.distinct,
    });
    expect(await catalogCount()).toBe(expected.distinct);

    const rows = await database.adminQuery<{ gtin: string; name: string; normalized_name: string }>(
      `SELECT gtin, name, normalized_name FROM inventory.products
        WHERE store_id IS NULL AND gtin IN ('07501000164370', '07501000153800', '00000075001759')
        ORDER BY gtin`,
    );
    expect(rows).toEqual([
      { gtin: '00000075001759', name: 'Boing Mango', normalized_name: 'boing mango' },
      { gtin: '07501000153800', name: 'Pingüinos Marinela', normalized_name: 'pinguinos marinela' },
      { gtin: '07501000164370', name: 'Takis Original', normalized_name: 'takis original' },
    ]);
    const decoded = await database.adminQuery<{ name: string }>(
      `SELECT name FROM inventory.products WHERE store_id IS NULL AND name LIKE 'Queso Asadero%'`,
    );
    expect(decoded.map((row) => row.name)).toContain('Queso Asadero "Aguascalientes"');
  });

  it('a second start reads and inserts nothing; a forced run counts every valid row as a duplicate', async () => {
    const before = await marker();
    const count = await catalogCount();
    second = await createTestApp(database, APP_OPTIONS);
    expect(await catalogCount()).toBe(count);
    expect(await marker()).toEqual(before);

    const again = await second.app.get(CatalogSeederService).seed();
    expect(again).toMatchObject({ skipped: true, read: 0, inserted: 0, invalid: 0, duplicates: 0 });

    const expected = await expectedCounts();
    const forced = await seeder().seed({ force: true });
    expect(forced).toMatchObject({
      skipped: false,
      read: expected.read,
      inserted: 0,
      invalid: expected.invalid,
      duplicates: expected.valid,
    });
    expect(await catalogCount()).toBe(count);
  });

  it('a new file is seeded again: new barcodes inserted, known ones kept, bad rows skipped and counted', async () => {
    const upcA = '036602301467'; // a real UPC-A (zxing test image upca-1)
    const fresh = withCheckDigit('750999000001');
    const file = join(tmp, 'catalog-update.csv');
    await writeFile(
      file,
      '\uFEFFbarcode,product_name,image_url\r\n' +
        '7501000164370,Takis Original (renamed),\r\n' + // known barcode: kept as it was
        `${upcA},Galletas de Prueba &amp; Nata,https://example.com/a.jpg\r\n` +
        `${fresh},Refresco   de  Prueba,javascript:alert(1)\r\n` +
        `${fresh},Refresco de Prueba otra vez,\r\n` + // repeated in the file
        `${fresh.slice(0, -1)}${(Number(fresh.at(-1)) + 1) % 10},Código con dígito malo,\r\n` +
        '750123,Código corto,\r\n' +
        `${withCheckDigit('750999000002')},   ,\r\n` + // no name
        `${withCheckDigit('750999000003')}\r\n` + // no name column at all
        '7501000111206,"Pan "blanco" roto,\r\n', // a stray quote is tolerated: a known barcode
    );
    const result: CatalogSeedResult = await seeder().seed({ file });
    expect(result).toMatchObject({ skipped: false, read: 9, inserted: 2, invalid: 4, duplicates: 3 });
    const rows = await database.adminQuery<{ gtin: string; name: string; image_url: string | null }>(
      `SELECT gtin, name, image_url FROM inventory.products
        WHERE store_id IS NULL AND gtin IN ('07501000164370', $1, $2) ORDER BY gtin`,
      [`00${upcA}`, `0${fresh}`],
    );
    expect(rows).toEqual([
      { gtin: `00${upcA}`, name: 'Galletas de Prueba & Nata', image_url: 'https://example.com/a.jpg' },
      { gtin: '07501000164370', name: 'Takis Original', image_url: expect.any(String) },
      { gtin: `0${fresh}`, name: 'Refresco de Prueba', image_url: null },
    ]);
  });

  it('refuses a file that is not CSV (a quote never closed) and writes nothing', async () => {
    const before = await marker();
    const count = await catalogCount();
    const file = join(tmp, 'catalog-broken.csv');
    await writeFile(
      file,
      `barcode,product_name\n${withCheckDigit('750999000004')},Buena\n${withCheckDigit('750999000005')},"Sin cerrar\n` +
        `${withCheckDigit('750999000006')},Perdida\n`,
    );
    await expect(seeder().seed({ file })).rejects.toThrow(/cannot be read as CSV \(nothing was seeded\)/);
    await writeFile(join(tmp, 'no-columns.csv'), 'codigo,nombre\n7501000164370,Takis\n');
    await expect(seeder().seed({ file: join(tmp, 'no-columns.csv') })).rejects.toThrow(/no "barcode" column/);
    await expect(seeder().seed({ file: join(tmp, 'missing.csv') })).rejects.toThrow(/ENOENT/);
    expect(await catalogCount()).toBe(count);
    expect(await marker()).toEqual(before);
  });

  it('matches a UPC-A, its EAN-13 form and its GTIN-14 to the same product; a store product beats it', async () => {
    const upcA = '036602301467';
    const [asUpc, asEan, asGtin14, unknown] = await products().matchDetections(storeA, [
      { gtin14: upcA },
      { gtin14: `0${upcA}` },
      { gtin14: `00${upcA}` },
      { gtin14: withCheckDigit('750999000009') },
    ]);
    expect(asUpc).toMatchObject({ storeId: null, source: 'CATALOG', gtin: `00${upcA}`, matchedBy: 'barcode' });
    expect(asEan?.id).toBe(asUpc?.id);
    expect(asGtin14?.id).toBe(asUpc?.id);
    expect(unknown).toBeNull();

    // Store A's own product with the EAN-13 form of the same code replaces the global one for A only.
    const own = await asSystem(() =>
      products().createDetectedProduct(storeA, { gtin14: `0${upcA}`, name: 'Galletas Nata (tienda)' }),
    );
    expect(own).toMatchObject({ created: true, product: { storeId: storeA, gtin: `00${upcA}`, source: 'DETECTION' } });
    const [inA] = await products().matchDetections(storeA, [{ gtin14: upcA }]);
    const [inB] = await products().matchDetections(storeB, [{ gtin14: upcA }]);
    expect(inA?.id).toBe(own.product.id);
    expect(inB?.id).toBe(asUpc?.id);
  });

  it('matches name-only detections by normalised name and brand, and leaves unknown ones unmatched', async () => {
    const [pinguinos, withBrand, sibling, nonsense, empty] = await products().matchDetections(storeA, [
      { name: 'PINGUINOS', brand: 'Marinela' },
      { name: 'Pingüinos', brand: null },
      { name: 'Boing Sandía' },
      { name: 'Tornillos de acero 3/8' },
      { name: '   ' },
    ]);
    expect(pinguinos).toMatchObject({
      gtin: '07501000153800',
      name: 'Pingüinos Marinela',
      matchedBy: 'name',
      score: 1,
    });
    expect(withBrand?.id).toBe(pinguinos?.id);
    expect(withBrand!.score).toBeGreaterThanOrEqual(0.6);
    expect(sibling).toBeNull(); // "Boing Mango" / "Boing Fresa" are other flavours
    expect(nonsense).toBeNull();
    expect(empty).toBeNull();
  });

  it('creates detected products once per store and barcode, and once per store and name', async () => {
    const gtin = withCheckDigit('750999000010');
    const firstCall = await asSystem(() =>
      products().createDetectedProduct(storeB, { gtin14: gtin, name: 'Salsa Misteriosa', brand: 'Casera' }),
    );
    const secondCall = await asSystem(() =>
      products().createDetectedProduct(storeB, { gtin14: gtin, name: 'Otro nombre' }),
    );
    expect(firstCall.created).toBe(true);
    expect(secondCall).toMatchObject({
      created: false,
      product: { id: firstCall.product.id, name: 'Salsa Misteriosa' },
    });

    const byName = await Promise.all(
      [1, 2, 3].map(() =>
        asSystem(() => products().createDetectedProduct(storeB, { name: 'Dulce  de Tamarindo ', brand: 'La Abuela' })),
      ),
    );
    expect(new Set(byName.map((result) => result.product.id)).size).toBe(1);
    expect(byName.filter((result) => result.created)).toHaveLength(1);
    const rows = await database.adminQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM inventory.products WHERE store_id = $1 AND normalized_name = 'dulce de tamarindo'`,
      [storeB],
    );
    expect(rows[0]!.n).toBe(1);

    // Store B's detected product is not matched for store A.
    const [inA] = await products().matchDetections(storeA, [{ name: 'Dulce de Tamarindo', brand: 'La Abuela' }]);
    const [inB] = await products().matchDetections(storeB, [{ name: 'Dulce de Tamarindo', brand: 'La Abuela' }]);
    expect(inA).toBeNull();
    expect(inB?.id).toBe(byName[0]!.product.id);

    await expect(
      asSystem(() => products().createDetectedProduct(storeB, { gtin14: '7501000164371', name: 'x' })),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
