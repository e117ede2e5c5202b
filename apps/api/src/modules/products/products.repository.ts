import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** `inventory.products.source`. */
export const PRODUCT_SOURCES = ['CATALOG', 'ADMIN', 'STORE', 'DETECTION'] as const;
export type ProductSource = (typeof PRODUCT_SOURCES)[number];

/** A row of `inventory.products`. `gtin` is a zero-padded GTIN-14. */
export interface ProductRow {
  id: string;
  store_id: string | null;
  gtin: string | null;
  name: string;
  normalized_name: string;
  brand: string | null;
  category: string | null;
  quantity_label: string | null;
  image_url: string | null;
  source: ProductSource;
  external_ref: string | null;
  active: boolean;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

/** One global catalogue row to insert. */
export interface CatalogRowInput {
  gtin: string;
  name: string;
  normalizedName: string;
  imageUrl: string | null;
  externalRef: string | null;
}

/** A store product to insert. */
export interface StoreProductInput {
  storeId: string;
  gtin: string | null;
  name: string;
  normalizedName: string;
  brand: string | null;
  category: string | null;
  quantityLabel: string | null;
  source: Extract<ProductSource, 'STORE' | 'DETECTION'>;
  createdBy: string | null;
}

/** Columns a PATCH may change (undefined: unchanged). */
export interface ProductPatch {
  gtin?: string | null;
  name?: string;
  normalizedName?: string;
  brand?: string | null;
  category?: string | null;
  quantityLabel?: string | null;
  active?: boolean;
}

/** Keyset position in a store's product list: store products first, then by normalised name and id. */
export interface ProductListPosition {
  global: boolean;
  normalizedName: string;
  id: string;
}

/** Filters of {@link ProductsRepository.list}. */
export interface ProductListFilter {
  storeId: string;
  /** Exact GTIN-14. */
  gtin?: string;
  /** Digits the GTIN must contain. */
  gtinDigits?: string;
  /** Every word must appear in the normalised name or the (accent-folded) brand. */
  words?: string[];
  after?: ProductListPosition;
  limit: number;
}

const COLUMNS = `id, store_id, gtin, name, normalized_name, brand, category, quantity_label, image_url, source,
  external_ref, active, created_by, created_at, updated_at`;
const P_COLUMNS = COLUMNS.split(',')
  .map((column) => `p.${column.trim()}`)
  .join(', ');

/**
 * Lower-case and fold the accents of Spanish (and common Western) letters in SQL, for the brand
 * column, which is not stored normalised. Same result as `normalizeProductName` on those letters.
 */
const FOLDED_BRAND = `translate(lower(coalesce(p.brand, '')), 'áàâäãéèêëíìîïóòôöõúùûüñç', 'aaaaaeeeeiiiiooooouuuunc')`;

/** The `admin.settings` key that records the last catalogue seed (see CatalogSeederService). */
export const CATALOG_SEED_SETTING = 'catalog_seed';

/**
 * SQL of `inventory.products` (CONVENTIONS #5). Every statement runs in the caller's
 * transaction ({@link TransactionService}); row-level security decides what it sees: global
 * rows (`store_id` NULL) are readable by any identity and written by ADMIN/SYSTEM only;
 * store rows belong to the store's members (migration InitialSchema).
 */
@Injectable()
export class ProductsRepository {
  constructor(private readonly transactions: TransactionService) {}

  // ------------------------------------------------------------------ catalogue seeding (SYSTEM)

  /**
   * Serialises catalogue seeding across processes until the transaction ends
   * (`pg_advisory_xact_lock`), so instances starting together seed once.
   */
  async lockCatalogSeed(): Promise<void> {
    await this.transactions.query(`SELECT pg_advisory_xact_lock(hashtextextended('inventory.products:catalog', 0))`);
  }

  /**
   * Inserts global catalogue rows (`source` CATALOG) in one statement; rows whose GTIN is
   * already in the global catalogue (or repeated in `rows`) are skipped (ON CONFLICT DO NOTHING
   * on `products_global_gtin_key`). ADMIN/SYSTEM only (RLS).
   *
   * @returns how many rows were inserted.
   */
  async insertCatalogRows(rows: CatalogRowInput[]): Promise<number> {
    if (rows.length === 0) return 0;
    const inserted = (await this.transactions.query(
      `INSERT INTO inventory.products (store_id, gtin, name, normalized_name, image_url, external_ref, source)
       SELECT NULL, r.gtin, r.name, r.normalized_name, r.image_url, r.external_ref, 'CATALOG'
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
              AS r (gtin, name, normalized_name, image_url, external_ref)
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [
        rows.map((row) => row.gtin),
        rows.map((row) => row.name),
        rows.map((row) => row.normalizedName),
        rows.map((row) => row.imageUrl),
        rows.map((row) => row.externalRef),
      ],
    )) as unknown[];
    return inserted.length;
  }

  /** The JSON value of an `admin.settings` row, or undefined when absent. ADMIN/SYSTEM only (RLS). */
  async readSetting(key: string): Promise<unknown> {
    const rows = (await this.transactions.query(`SELECT value FROM admin.settings WHERE key = $1`, [key])) as Array<{
      value: unknown;
    }>;
    return rows[0]?.value;
  }

  /** Inserts or replaces an `admin.settings` row. ADMIN/SYSTEM only (RLS). */
  async writeSetting(key: string, value: unknown, description: string): Promise<void> {
    await this.transactions.query(
      `INSERT INTO admin.settings (key, value, description) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, description = EXCLUDED.description`,
      [key, JSON.stringify(value), description],
    );
  }

  // ------------------------------------------------------------------ matching

  /**
   * Active products with one of `gtins` (GTIN-14) that `storeId` may use: its own and the
   * global catalogue's. The caller ranks store rows above global ones.
   */
  async findByGtins(storeId: string, gtins: string[]): Promise<ProductRow[]> {
    if (gtins.length === 0) return [];
    return (await this.transactions.query(
      `SELECT ${COLUMNS} FROM inventory.products
        WHERE gtin = ANY ($2::text[]) AND active AND (store_id = $1 OR store_id IS NULL)`,
      [storeId, gtins],
    )) as ProductRow[];
  }

  /**
   * A bounded candidate set for name matching: active products of `storeId` and of the global
   * catalogue whose normalised name (or accent-folded brand) contains at least one of `words`
   * (letters and digits only, so no LIKE escaping is needed), those containing the most words
   * first, then the shortest names, at most `limit`. At the catalogue's size (thousands of rows)
   * the `LIKE '%…%'` scan is cheap; see ProductsService for when to add a trigram index.
   */
  async findNameCandidates(storeId: string, words: string[], limit: number): Promise<ProductRow[]> {
    if (words.length === 0) return [];
    const patterns = words.map((word) => `%${word}%`);
    return (await this.transactions.query(
      `SELECT ${P_COLUMNS}
         FROM inventory.products p
         CROSS JOIN LATERAL (
           SELECT count(*) AS hits FROM unnest($2::text[]) AS w (pattern)
            WHERE p.normalized_name LIKE w.pattern OR ${FOLDED_BRAND} LIKE w.pattern
         ) m
        WHERE p.active AND (p.store_id = $1 OR p.store_id IS NULL) AND m.hits > 0
        ORDER BY m.hits DESC, length(p.normalized_name), p.id
        LIMIT $3`,
      [storeId, patterns, limit],
    )) as ProductRow[];
  }

  // ------------------------------------------------------------------ store products

  /** One product the caller may read (a global one or one of their stores'), or null. */
  async findById(id: string): Promise<ProductRow | null> {
    const rows = (await this.transactions.query(`SELECT ${COLUMNS} FROM inventory.products WHERE id = $1`, [
      id,
    ])) as ProductRow[];
    return rows[0] ?? null;
  }

  /** The store's own product with this GTIN-14 (active or not), or null. */
  async findStoreProductByGtin(storeId: string, gtin: string): Promise<ProductRow | null> {
    const rows = (await this.transactions.query(
      `SELECT ${COLUMNS} FROM inventory.products WHERE store_id = $1 AND gtin = $2`,
      [storeId, gtin],
    )) as ProductRow[];
    return rows[0] ?? null;
  }

  /** The store's DETECTION product without barcode of this normalised name and brand, or null. */
  async findDetectedProductByName(
    storeId: string,
    normalizedName: string,
    brand: string | null,
  ): Promise<ProductRow | null> {
    const rows = (await this.transactions.query(
      `SELECT ${COLUMNS} FROM inventory.products
        WHERE store_id = $1 AND gtin IS NULL AND source = 'DETECTION' AND normalized_name = $2
          AND lower(coalesce(brand, '')) = lower(coalesce($3::text, ''))
        ORDER BY created_at, id
        LIMIT 1`,
      [storeId, normalizedName, brand],
    )) as ProductRow[];
    return rows[0] ?? null;
  }

  /**
   * Serialises the creation of one store's detected product without barcode (by normalised name)
   * until the transaction ends; a hash collision only makes two unrelated creations wait.
   */
  async lockDetectedName(storeId: string, normalizedName: string): Promise<void> {
    await this.transactions.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `inventory.products:detected:${storeId}:${normalizedName}`,
    ]);
  }

  /**
   * Inserts a store product. Returns null (and inserts nothing) when the store already has a
   * product with the same GTIN (`products_store_gtin_key`).
   */
  async insertStoreProduct(input: StoreProductInput): Promise<ProductRow | null> {
    const rows = (await this.transactions.query(
      `INSERT INTO inventory.products
         (store_id, gtin, name, normalized_name, brand, category, quantity_label, source, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        input.storeId,
        input.gtin,
        input.name,
        input.normalizedName,
        input.brand,
        input.category,
        input.quantityLabel,
        input.source,
        input.createdBy,
      ],
    )) as ProductRow[];
    return rows[0] ?? null;
  }

  /**
   * Applies `patch` to the store's product `id` (columns left undefined are unchanged).
   * Returns the updated row, or null when `id` is not a product of `storeId`.
   * A GTIN already used by another product of the store raises PostgreSQL 23505
   * (`products_store_gtin_key`); the service checks first and maps the race.
   */
  async update(storeId: string, id: string, patch: ProductPatch): Promise<ProductRow | null> {
    const sets: string[] = [];
    const params: unknown[] = [storeId, id];
    const set = (column: string, value: unknown) => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (patch.gtin !== undefined) set('gtin', patch.gtin);
    if (patch.name !== undefined) set('name', patch.name);
    if (patch.normalizedName !== undefined) set('normalized_name', patch.normalizedName);
    if (patch.brand !== undefined) set('brand', patch.brand);
    if (patch.category !== undefined) set('category', patch.category);
    if (patch.quantityLabel !== undefined) set('quantity_label', patch.quantityLabel);
    if (patch.active !== undefined) set('active', patch.active);
    if (sets.length === 0) {
      const rows = (await this.transactions.query(
        `SELECT ${COLUMNS} FROM inventory.products WHERE store_id = $1 AND id = $2`,
        params,
      )) as ProductRow[];
      return rows[0] ?? null;
    }
    const rows = (await this.transactions.query(
      `UPDATE inventory.products SET ${sets.join(', ')} WHERE store_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      params,
    )) as ProductRow[];
    return rows[0] ?? null;
  }

  /**
   * A page of the products a store can use: its own (active or not) first, then the active
   * global catalogue, each by normalised name and id. A global product whose GTIN the store
   * has its own product for is left out (the store's version replaces it).
   */
  async list(filter: ProductListFilter): Promise<ProductRow[]> {
    const params: unknown[] = [filter.storeId];
    const where = [
      `(p.store_id = $1 OR (p.store_id IS NULL AND p.active AND NOT (p.gtin IS NOT NULL AND EXISTS (
         SELECT 1 FROM inventory.products s WHERE s.store_id = $1 AND s.gtin = p.gtin))))`,
    ];
    const add = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.gtin !== undefined) where.push(`p.gtin = ${add(filter.gtin)}`);
    if (filter.gtinDigits !== undefined) where.push(`p.gtin LIKE ${add(`%${filter.gtinDigits}%`)}`);
    if (filter.words && filter.words.length > 0) {
      where.push(
        `(p.normalized_name || ' ' || ${FOLDED_BRAND}) LIKE ALL (${add(filter.words.map((word) => `%${word}%`))}::text[])`,
      );
    }
    if (filter.after) {
      where.push(
        `((p.store_id IS NULL), p.normalized_name, p.id) > (${add(filter.after.global)}::boolean, ${add(
          filter.after.normalizedName,
        )}::text, ${add(filter.after.id)}::uuid)`,
      );
    }
    return (await this.transactions.query(
      `SELECT ${P_COLUMNS} FROM inventory.products p
        WHERE ${where.join(' AND ')}
        ORDER BY (p.store_id IS NULL), p.normalized_name, p.id
        LIMIT ${add(filter.limit)}`,
      params,
    )) as ProductRow[];
  }
}
