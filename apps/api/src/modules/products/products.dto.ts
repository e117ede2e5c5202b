import { z } from 'zod';
import { singleLineText } from '../../common/http/text.js';
import { isValidGtin, toGtin14 } from '../vision/gtin.js';
import { MAX_PRODUCT_NAME_LENGTH } from './product-name.js';
import { PRODUCT_SOURCES, type ProductListPosition } from './products.repository.js';

/** A uuid path parameter (lower-cased). */
export { UuidParamSchema } from '../../common/http/params.js';

/**
 * A barcode as typed or scanned: 8 (EAN-8), 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14) digits
 * with a valid GS1 check digit (GS1 General Specifications §7.9); stored as a zero-padded
 * GTIN-14, so a UPC-A and its EAN-13 form are the same product.
 */
const gtin = z
  .string()
  .trim()
  .regex(/^(\d{8}|\d{12,14})$/, { message: '8, 12, 13 or 14 digits', abort: true })
  .refine(isValidGtin, { message: 'The GS1 check digit (last digit) is wrong.' })
  .overwrite((value) => toGtin14(value) ?? value)
  .describe('EAN-8, UPC-A, EAN-13 or GTIN-14 digits with a valid check digit; returned as GTIN-14');

const name = singleLineText(MAX_PRODUCT_NAME_LENGTH).describe('Product name as the shop calls it');
const optionalText = (max: number, what: string) =>
  z
    .string()
    .trim()
    .max(max)
    .nullable()
    .overwrite((value) => (value === '' ? null : value))
    .describe(`${what}; empty or null for none`);
const brand = optionalText(80, 'Brand, e.g. Bimbo');
const category = optionalText(80, 'Category, e.g. Botanas');
const quantityLabel = optionalText(40, 'Package size as printed, e.g. 600 ml');

/** `POST /stores/{storeId}/products` body. */
export const CreateProductSchema = z
  .strictObject({
    name,
    gtin: gtin.nullable().optional(),
    brand: brand.optional(),
    category: category.optional(),
    quantityLabel: quantityLabel.optional(),
  })
  .meta({ id: 'CreateStoreProduct' });
export type CreateProductDto = z.infer<typeof CreateProductSchema>;

/** `PATCH /stores/{storeId}/products/{productId}` body: the fields to change (at least one). */
export const UpdateProductSchema = z
  .strictObject({
    name: name.optional(),
    gtin: gtin.nullable().optional().describe('new barcode; null removes it'),
    brand: brand.optional(),
    category: category.optional(),
    quantityLabel: quantityLabel.optional(),
    active: z.boolean().optional().describe('false hides the product from matching (kept for past reports)'),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message: 'Give at least one field to change.',
  })
  .meta({ id: 'UpdateStoreProduct' });
export type UpdateProductDto = z.infer<typeof UpdateProductSchema>;

/** A product as the members of a store see it. Times are UTC. */
export const ProductViewSchema = z
  .object({
    id: z.uuid(),
    storeId: z.uuid().nullable().describe('null: a product of the global catalogue (read-only)'),
    gtin: z.string().nullable().describe('GTIN-14 (14 digits, zero-padded)'),
    barcode: z.string().nullable().describe('the usual printed form: EAN-8, UPC-A (12) or EAN-13'),
    name: z.string(),
    brand: z.string().nullable(),
    category: z.string().nullable(),
    quantityLabel: z.string().nullable(),
    imageUrl: z.string().nullable().describe('image link of the catalogue source, if any'),
    source: z
      .enum(PRODUCT_SOURCES)
      .describe('CATALOG (Open Food Facts), ADMIN, STORE (added by an owner), DETECTION (from an inventory)'),
    active: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Product' });
export type ProductView = z.infer<typeof ProductViewSchema>;

/** A page of products. */
export const ProductPageSchema = z
  .object({
    items: z.array(ProductViewSchema),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next page; null at the end'),
  })
  .meta({ id: 'ProductPage' });
export type ProductPage = z.infer<typeof ProductPageSchema>;

/** Encodes a list position as the opaque `nextCursor` (base64url JSON). */
export function encodeProductCursor(position: ProductListPosition): string {
  return Buffer.from(JSON.stringify([position.global ? 1 : 0, position.normalizedName, position.id])).toString(
    'base64url',
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Decodes a `cursor`; null when it is not one {@link encodeProductCursor} made. */
export function decodeProductCursor(cursor: string): ProductListPosition | null {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 3) return null;
    const [global, normalizedName, id] = value as unknown[];
    if ((global !== 0 && global !== 1) || typeof normalizedName !== 'string' || typeof id !== 'string') return null;
    if (!UUID.test(id) || normalizedName.length > 1000) return null;
    return { global: global === 1, normalizedName, id: id.toLowerCase() };
  } catch {
    return null;
  }
}

/** Query of `GET /stores/{storeId}/products`. */
export const ListProductsQuerySchema = z
  .strictObject({
    query: z
      .string()
      .trim()
      .max(100)
      .optional()
      .describe('words of the name or brand (accents ignored), or barcode digits'),
    limit: z.coerce.number().int().min(1).max(100).default(20).describe('products per page, 1–100'),
    cursor: z
      .string()
      .max(2000)
      .refine((value) => decodeProductCursor(value) !== null, { message: 'Not a nextCursor value.' })
      .optional()
      .describe('nextCursor of the previous page'),
  })
  .meta({ id: 'ListProductsQuery' });
export type ListProductsQueryDto = z.infer<typeof ListProductsQuerySchema>;

/** OpenAPI descriptions of {@link ListProductsQuerySchema} (query schemas are not documented by themselves). */
export const LIST_PRODUCTS_QUERY_DOCS = {
  query: {
    name: 'query',
    required: false,
    schema: { type: 'string', maxLength: 100 },
    description: 'words of the name or brand (accents ignored), or barcode digits',
  },
  limit: {
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    description: 'products per page',
  },
  cursor: {
    name: 'cursor',
    required: false,
    schema: { type: 'string' },
    description: 'nextCursor of the previous page',
  },
} as const;
