import { z } from 'zod';
import { ReportLineSchema, ReportViewSchema } from '../analysis/report.dto.js';
import { MAX_PRODUCT_NAME_LENGTH } from '../products/product-name.js';
import { isValidGtin, toGtin14 } from '../vision/gtin.js';

/** A uuid path parameter (lower-cased). */
export { UuidParamSchema } from '../../common/http/params.js';

/** Largest count a correction accepts, units (a guard against typos such as 1e9). */
export const MAX_CORRECTED_QUANTITY = 1_000_000;

/** A uuid in a body, lower-cased like the path parameters. */
const uuid = () => z.uuid().transform((value) => value.toLowerCase());

const reason = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .describe('why (free text, kept with the correction and in the audit log)');

/**
 * A barcode as typed or scanned: 8 (EAN-8), 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14) digits with a
 * valid GS1 check digit (GS1 General Specifications §7.9); kept as a zero-padded GTIN-14.
 */
const gtin = z
  .string()
  .trim()
  .regex(/^(\d{8}|\d{12,14})$/, '8, 12, 13 or 14 digits')
  .refine(isValidGtin, { message: 'The GS1 check digit (last digit) is wrong.' })
  .overwrite((value) => toGtin14(value) ?? value)
  .describe('EAN-8, UPC-A, EAN-13 or GTIN-14 digits with a valid check digit');

/**
 * `PATCH /inventory-sessions/{id}/items/{itemId}` body: what the owner or operator says about a
 * report line. At least one of `quantity`, `productId`, `markedWrong`; `reason` alone changes
 * nothing. `markedWrong: true` takes no `quantity` (a wrong line counts 0); a line stays marked wrong,
 * counting 0, until `markedWrong: false` (a `quantity` sent meanwhile is kept for then).
 */
export const CorrectItemSchema = z
  .strictObject({
    quantity: z
      .number()
      .int()
      .min(0)
      .max(MAX_CORRECTED_QUANTITY)
      .optional()
      .describe('the true count, units (0 = none on the shelf)'),
    productId: uuid()
      .optional()
      .describe('the true product: a product of the global catalogue or of the store (GET /stores/{id}/products)'),
    markedWrong: z
      .boolean()
      .optional()
      .describe('true: the detection is wrong and the line counts 0; false: undo that'),
    reason: reason.optional(),
  })
  .refine((body) => body.quantity !== undefined || body.productId !== undefined || body.markedWrong !== undefined, {
    message: 'Give at least one of quantity, productId or markedWrong.',
  })
  .refine((body) => !(body.markedWrong === true && body.quantity !== undefined), {
    message: 'A line marked wrong counts 0: send either markedWrong: true or a quantity.',
    path: ['quantity'],
  })
  .meta({ id: 'CorrectInventoryItem' });
export type CorrectItemDto = z.infer<typeof CorrectItemSchema>;

/**
 * `POST /inventory-sessions/{id}/items` body: a product the count missed, added as a MANUAL line.
 * Either `productId` (a product of the global catalogue or of the store), or `name` (+ `brand`,
 * `gtin`) for a product typed by hand.
 */
export const AddMissingItemSchema = z
  .strictObject({
    productId: uuid().optional().describe('the product, from the catalogue or the store (excludes name/brand/gtin)'),
    name: z
      .string()
      .trim()
      .min(1)
      .max(MAX_PRODUCT_NAME_LENGTH)
      .optional()
      .describe('product name as the shop calls it, when there is no productId'),
    brand: z.string().trim().min(1).max(80).optional().describe('brand, with name'),
    gtin: gtin.optional().describe('barcode, with name: a known barcode links the line to its product'),
    quantity: z.number().int().min(1).max(MAX_CORRECTED_QUANTITY).describe('units on the shelf'),
    reason: reason.optional(),
  })
  .refine((body) => (body.productId === undefined) !== (body.name === undefined), {
    message: 'Give either productId or name.',
    path: ['name'],
  })
  .refine((body) => body.productId === undefined || (body.brand === undefined && body.gtin === undefined), {
    message: 'brand and gtin go with name; a productId brings its own.',
    path: ['productId'],
  })
  .meta({ id: 'AddMissingInventoryItem' });
export type AddMissingItemDto = z.infer<typeof AddMissingItemSchema>;

/** What a correction returns: the line as the report now shows it, and the report's new totals. */
export const CorrectionResultSchema = z
  .object({
    correctionId: z
      .uuid()
      .nullable()
      .describe('the recorded correction; null when the body changed nothing (a repeated request): nothing written'),
    line: ReportLineSchema,
    totals: ReportViewSchema.shape.totals,
  })
  .meta({ id: 'InventoryCorrectionResult' });
export type CorrectionResultView = z.infer<typeof CorrectionResultSchema>;

export const DIFF_STATUSES = ['APPEARED', 'DISAPPEARED', 'UP', 'DOWN', 'SAME'] as const;
export type DiffStatus = (typeof DIFF_STATUSES)[number];

const DiffEvidenceSchema = z
  .object({
    frameId: z.uuid(),
    url: z.string().nullable().describe('signed URL of the frame; expires'),
    box: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }).nullable(),
  })
  .nullable()
  .describe('the frame that proves the count; null when that count has no line or no frame (a manual line)');

/** One product of a count-to-count diff. */
export const DiffLineSchema = z
  .object({
    key: z.string().describe('what matched the two counts: product:<uuid>, gtin:<GTIN-14> or name:<normalised name>'),
    productId: z.uuid().nullable(),
    gtin: z.string().nullable().describe('barcode in its usual form (EAN-8, UPC-A or EAN-13)'),
    name: z.string(),
    previousQuantity: z.number().int().describe('units in the previous count (0: absent)'),
    currentQuantity: z.number().int().describe('units in this count (0: absent)'),
    change: z.number().int().describe('currentQuantity − previousQuantity, units'),
    status: z
      .enum(DIFF_STATUSES)
      .describe('APPEARED 0 → n, DISAPPEARED n → 0, UP / DOWN more / fewer units, SAME unchanged'),
    evidence: z.object({ previous: DiffEvidenceSchema, current: DiffEvidenceSchema }),
  })
  .meta({ id: 'InventoryDiffLine' });
export type DiffLineView = z.infer<typeof DiffLineSchema>;

/**
 * `GET /inventory-sessions/{id}/diff`: this count against the store's previous READY one.
 * Times UTC (ISO 8601); quantities in units, the corrected ones.
 */
export const InventoryDiffSchema = z
  .object({
    sessionId: z.uuid(),
    readyAt: z.iso.datetime().nullable(),
    previousSessionId: z
      .uuid()
      .nullable()
      .describe('the READY session of the store started just before this one; null: this is the first count'),
    previousReadyAt: z.iso.datetime().nullable(),
    lines: z.array(DiffLineSchema).describe('DISAPPEARED, DOWN, APPEARED, UP, then SAME; by name within each'),
    totals: z.object({
      previousUnits: z.number().int(),
      currentUnits: z.number().int(),
      change: z.number().int(),
      appeared: z.number().int().describe('lines APPEARED'),
      disappeared: z.number().int(),
      up: z.number().int(),
      down: z.number().int(),
      same: z.number().int(),
    }),
  })
  .meta({ id: 'InventoryDiff' });
export type InventoryDiffView = z.infer<typeof InventoryDiffSchema>;

/** `GET /admin/ground-truth/export` query: optional filters, combined with AND. */
export const GroundTruthExportQuerySchema = z
  .strictObject({
    storeId: uuid().optional().describe('only rows of this store'),
    from: z.iso.datetime({ offset: true }).optional().describe('rows created at or after this instant'),
    to: z.iso.datetime({ offset: true }).optional().describe('rows created before this instant'),
  })
  // Compared at millisecond precision (JS dates): a sub-millisecond inversion only gives an empty export.
  .refine((query) => !query.from || !query.to || new Date(query.from) <= new Date(query.to), {
    message: 'from must not be after to',
    path: ['to'],
  })
  .meta({ id: 'GroundTruthExportQuery' });
export type GroundTruthExportQueryDto = z.infer<typeof GroundTruthExportQuerySchema>;

/** OpenAPI descriptions of {@link GroundTruthExportQuerySchema} (query schemas are not documented by themselves). */
export const GROUND_TRUTH_EXPORT_QUERY_DOCS = {
  storeId: {
    name: 'storeId',
    required: false,
    schema: { type: 'string', format: 'uuid' },
    description: 'only rows of this store',
  },
  from: {
    name: 'from',
    required: false,
    schema: { type: 'string', format: 'date-time' },
    description: 'rows created at or after this instant (inclusive)',
  },
  to: {
    name: 'to',
    required: false,
    schema: { type: 'string', format: 'date-time' },
    description: 'rows created before this instant (exclusive)',
  },
} as const;

/**
 * One line of the ground-truth export (JSON Lines). Box in frame pixels; `frame.url` is signed
 * for {@link GROUND_TRUTH_URL_TTL_SECONDS}; gtin is a GTIN-14.
 */
export interface GroundTruthExportRow {
  id: string;
  createdAt: string;
  storeId: string;
  sessionId: string;
  itemId: string | null;
  correctionId: string | null;
  kind: string | null;
  source: string;
  frame: { id: string; key: string | null; url: string | null; width: number | null; height: number | null } | null;
  box: { x: number; y: number; w: number; h: number } | null;
  productId: string | null;
  gtin: string | null;
  productName: string | null;
  trueCount: number;
}

/** How long the frame URLs of a ground-truth export stay valid: one day, seconds. */
export const GROUND_TRUTH_URL_TTL_SECONDS = 24 * 3600;
