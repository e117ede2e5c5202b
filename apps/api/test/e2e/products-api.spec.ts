import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

type Method = 'GET' | 'POST' | 'PATCH';

interface Product {
  id: string;
  storeId: string | null;
  gtin: string | null;
  barcode: string | null;
  name: string;
  brand: string | null;
  category: string | null;
  quantityLabel: string | null;
  source: string;
  active: boolean;
}

describe('store products API', () => {
  let database: TestDatabase;
  let testApp: TestApp;
  let owner: SignedIn;
  let operator: SignedIn;
  let stranger: SignedIn;
  let storeId: string;
  let strangerStoreId: string;

  const call = (who: SignedIn, method: Method, url: string, payload?: object) =>
    testApp.app.inject({ method, url, headers: bearer(who), ...(payload === undefined ? {} : { payload }) });
  const productsUrl = (store: string) => `/api/v1/stores/${store}/products`;

  async function createStore(who: SignedIn, name: string): Promise<string> {
    const response = await call(who, 'POST', '/api/v1/stores', { name, giro: 'abarrotes' });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  }

  const storeProductCount = async (store: string) =>
    (
      await database.adminQuery<{ n: number }>(
        'SELECT count(*)::int AS n FROM inventory.products WHERE store_id = $1',
        [store],
      )
    )[0]!.n;

  /** Expects an RFC 9457 problem with `status` and `code`; returns its body. */
  function expectProblem(
    response: Awaited<ReturnType<typeof call>>,
    status: number,
    code: string,
  ): { code: string; errors?: Array<{ field: string; message: string }> } {
    expect(response.statusCode, response.body).toBe(status);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem).toMatchObject({ status, code });
    return problem;
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    testApp = await createTestApp(database, { env: { RUN_WORKER: 'false' } });
    owner = await signIn(testApp, uniquePhone());
    storeId = await createStore(owner, 'Abarrotes Lupita');
    const phone = uniquePhone();
    const invited = await call(owner, 'POST', `/api/v1/stores/${storeId}/invitations`, { identifier: phone });
    expect(invited.statusCode, invited.body).toBe(201);
    operator = await signIn(testApp, phone);
    const accepted = await call(operator, 'POST', `/api/v1/invitations/${invited.json().id}/accept`);
    expect(accepted.statusCode, accepted.body).toBe(200);
    stranger = await signIn(testApp, uniquePhone());
    strangerStoreId = await createStore(stranger, 'Miscelánea Don Pepe');
  });

  afterAll(async () => {
    await testApp?.close();
    await database?.drop();
  });

  it('an OWNER adds a product; a UPC-A is stored as GTIN-14 and shown in its printed form', async () => {
    const response = await call(owner, 'POST', productsUrl(storeId), {
      name: '  Galletas   Marías de la casa ',
      gtin: '036602301467',
      brand: 'La Abuela',
      category: 'Galletas',
      quantityLabel: '',
    });
    expect(response.statusCode, response.body).toBe(201);
    const product = response.json() as Product;
    expect(product).toMatchObject({
      storeId,
      gtin: '00036602301467',
      barcode: '036602301467',
      name: 'Galletas Marías de la casa',
      brand: 'La Abuela',
      category: 'Galletas',
      quantityLabel: null,
      source: 'STORE',
      active: true,
    });
    const [row] = await database.adminQuery<{ normalized_name: string; created_by: string }>(
      'SELECT normalized_name, created_by FROM inventory.products WHERE id = $1',
      [product.id],
    );
    expect(row).toEqual({ normalized_name: 'galletas marias de la casa', created_by: owner.user.id });
  });

  it('refuses the same barcode twice in a store, in any of its forms (409), and writes nothing', async () => {
    const before = await storeProductCount(storeId);
    const again = await call(owner, 'POST', productsUrl(storeId), { name: 'Otra', gtin: '0036602301467' });
    expectProblem(again, 409, 'PRODUCT_GTIN_IN_USE');
    expect(await storeProductCount(storeId)).toBe(before);
  });

  it('answers 400 problem+json for a bad barcode or body, and writes nothing', async () => {
    const before = await storeProductCount(storeId);
    const badCheckDigit = await call(owner, 'POST', productsUrl(storeId), { name: 'Takis', gtin: '7501000164371' });
    expect(expectProblem(badCheckDigit, 400, 'VALIDATION_FAILED').errors?.map((error) => error.field)).toEqual([
      'gtin',
    ]);
    const badLength = await call(owner, 'POST', productsUrl(storeId), { name: 'Takis', gtin: '75010001' + '6' });
    expect(expectProblem(badLength, 400, 'VALIDATION_FAILED').errors?.map((error) => error.field)).toEqual(['gtin']);
    const letters = await call(owner, 'POST', productsUrl(storeId), { name: 'Takis', gtin: '75010OO164370' });
    expectProblem(letters, 400, 'VALIDATION_FAILED');
    const noName = await call(owner, 'POST', productsUrl(storeId), { name: '   ' });
    expect(expectProblem(noName, 400, 'VALIDATION_FAILED').errors?.map((error) => error.field)).toEqual(['name']);
    const unknownField = await call(owner, 'POST', productsUrl(storeId), { name: 'Takis', price: 10 });
    expectProblem(unknownField, 400, 'VALIDATION_FAILED');
    expect(await storeProductCount(storeId)).toBe(before);
  });

  it('an OPERATOR reads the products but cannot add or change them (403)', async () => {
    const before = await storeProductCount(storeId);
    expectProblem(await call(operator, 'POST', productsUrl(storeId), { name: 'Chicles' }), 403, 'FORBIDDEN');
    expect(await storeProductCount(storeId)).toBe(before);
    const list = await call(operator, 'GET', `${productsUrl(storeId)}?query=galletas%20marias`);
    expect(list.statusCode, list.body).toBe(200);
    const [own] = list.json().items as Product[];
    expect(own).toMatchObject({ storeId, name: 'Galletas Marías de la casa' });
    expectProblem(await call(operator, 'PATCH', `${productsUrl(storeId)}/${own!.id}`, { name: 'x' }), 403, 'FORBIDDEN');
  });

  it("answers 404 for a store I do not belong to, and for another store's product", async () => {
    const mine = (await call(owner, 'GET', `${productsUrl(storeId)}?query=galletas`)).json().items[0] as Product;
    expectProblem(await call(stranger, 'POST', productsUrl(storeId), { name: 'Intruso' }), 404, 'NOT_FOUND');
    expectProblem(await call(stranger, 'GET', productsUrl(storeId)), 404, 'NOT_FOUND');
    expectProblem(await call(stranger, 'PATCH', `${productsUrl(storeId)}/${mine.id}`, { name: 'x' }), 404, 'NOT_FOUND');
    // Through the stranger's own store, my product does not exist either.
    expectProblem(
      await call(stranger, 'PATCH', `${productsUrl(strangerStoreId)}/${mine.id}`, { name: 'x' }),
      404,
      'NOT_FOUND',
    );
    expectProblem(await call(owner, 'GET', '/api/v1/stores/not-a-uuid/products'), 400, 'VALIDATION_FAILED');
    expect(await storeProductCount(strangerStoreId)).toBe(0);
  });

  it('lists the global catalogue after the store products, by words (accents ignored) or barcode', async () => {
    const takis = await call(owner, 'GET', `${productsUrl(storeId)}?query=TAKIS%20original`);
    expect(takis.statusCode, takis.body).toBe(200);
    expect((takis.json().items as Product[]).map((item) => item.name)).toContain('Takis Original');

    const byBarcode = await call(owner, 'GET', `${productsUrl(storeId)}?query=7501000153800`);
    expect(byBarcode.json().items).toEqual([
      expect.objectContaining({
        storeId: null,
        source: 'CATALOG',
        name: 'Pingüinos Marinela',
        barcode: '7501000153800',
      }),
    ]);
    const noAccent = await call(owner, 'GET', `${productsUrl(storeId)}?query=pinguinos%20marinela`);
    expect((noAccent.json().items as Product[]).map((item) => item.gtin)).toContain('07501000153800');

    // A store product with a catalogue barcode replaces the global one in this store's list only.
    const override = await call(owner, 'POST', productsUrl(storeId), {
      name: 'Pingüinos (caja)',
      gtin: '7501000153800',
    });
    expect(override.statusCode, override.body).toBe(201);
    const replaced = await call(owner, 'GET', `${productsUrl(storeId)}?query=7501000153800`);
    expect((replaced.json().items as Product[]).map((item) => [item.storeId, item.name])).toEqual([
      [storeId, 'Pingüinos (caja)'],
    ]);
    const elsewhere = await call(stranger, 'GET', `${productsUrl(strangerStoreId)}?query=7501000153800`);
    expect((elsewhere.json().items as Product[]).map((item) => item.storeId)).toEqual([null]);
  });

  it('pages with a cursor: store products first, no repeats, and a bad cursor is 400', async () => {
    const seen: Product[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 3; page += 1) {
      const url: string = `${productsUrl(storeId)}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await call(owner, 'GET', url);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as { items: Product[]; nextCursor: string | null };
      expect(body.items).toHaveLength(2);
      seen.push(...body.items);
      cursor = body.nextCursor;
      expect(cursor).not.toBeNull();
    }
    expect(new Set(seen.map((item) => item.id)).size).toBe(6);
    expect(seen.slice(0, 2).every((item) => item.storeId === storeId)).toBe(true);
    expect(seen.slice(2).every((item) => item.storeId === null)).toBe(true);
    const bad = await call(owner, 'GET', `${productsUrl(storeId)}?cursor=bm9wZQ`);
    expect(expectProblem(bad, 400, 'VALIDATION_FAILED').errors?.map((error) => error.field)).toEqual(['query.cursor']);
  });

  it('an OWNER changes a store product; global products are read-only; a taken barcode is 409', async () => {
    const items = (await call(owner, 'GET', `${productsUrl(storeId)}?query=galletas`)).json().items as Product[];
    const galletas = items.find((item) => item.storeId === storeId)!;
    const changed = await call(owner, 'PATCH', `${productsUrl(storeId)}/${galletas.id}`, {
      name: 'Galletas María',
      brand: null,
      active: false,
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ id: galletas.id, name: 'Galletas María', brand: null, active: false });
    const [row] = await database.adminQuery<{ normalized_name: string }>(
      'SELECT normalized_name FROM inventory.products WHERE id = $1',
      [galletas.id],
    );
    expect(row!.normalized_name).toBe('galletas maria');

    const taken = await call(owner, 'PATCH', `${productsUrl(storeId)}/${galletas.id}`, { gtin: '7501000153800' });
    expectProblem(taken, 409, 'PRODUCT_GTIN_IN_USE');
    expectProblem(await call(owner, 'PATCH', `${productsUrl(storeId)}/${galletas.id}`, {}), 400, 'VALIDATION_FAILED');

    const global = (await call(owner, 'GET', `${productsUrl(storeId)}?query=7501000164370`)).json().items[0] as Product;
    expect(global.storeId).toBeNull();
    expectProblem(
      await call(owner, 'PATCH', `${productsUrl(storeId)}/${global.id}`, { name: 'Takis míos' }),
      403,
      'CATALOG_PRODUCT_READ_ONLY',
    );
    const [untouched] = await database.adminQuery<{ name: string }>(
      'SELECT name FROM inventory.products WHERE id = $1',
      [global.id],
    );
    expect(untouched!.name).toBe('Takis Original');
  });
});
