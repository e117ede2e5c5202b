import { z } from 'zod';
import { REPORT_EXPORT_FORMATS } from '../reports/report.types.js';

const BoxSchema = z
  .object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() })
  .describe('where the product is in the evidence frame, pixels');

/** One line of an inventory report. */
export const ReportLineSchema = z
  .object({
    id: z.uuid(),
    productId: z.uuid().nullable(),
    gtin: z.string().nullable().describe('barcode in its usual form (EAN-8, UPC-A or EAN-13)'),
    name: z.string().describe('product name; "Producto no identificado" when unknown'),
    brand: z.string().nullable(),
    category: z.string().nullable(),
    quantity: z.number().int().describe('units (the corrected count when corrected)'),
    originalQuantity: z.number().int().describe('what the pipeline counted'),
    confidence: z.number().min(0).max(1),
    needsReview: z.boolean().describe('confidence below the review threshold'),
    markedWrong: z.boolean(),
    corrected: z.boolean(),
    source: z.enum(['DETECTION', 'MANUAL']),
    evidence: z.object({
      frameId: z.uuid().nullable(),
      url: z.string().nullable().describe('signed URL of the frame that proves the line; expires'),
      box: BoxSchema.nullable(),
    }),
  })
  .meta({ id: 'ReportLine' });

/** An inventory report (issue 6 "Report"). Times UTC (ISO 8601); costs USD micro-dollars and MXN centavos. */
export const ReportViewSchema = z
  .object({
    session: z.object({
      id: z.uuid(),
      state: z.string(),
      createdAt: z.iso.datetime(),
      readyAt: z.iso.datetime().nullable(),
      provider: z.string().nullable(),
      model: z.string().nullable(),
      framesUsed: z.number().int().nullable(),
      processingMs: z.number().int().nullable(),
      costUsdMicros: z.number().int().nullable(),
      costMxnCentavos: z.number().int().nullable(),
      resultMessage: z.string().nullable().describe('Spanish note, e.g. when no product was readable'),
    }),
    store: z.object({ id: z.uuid(), name: z.string(), timeZone: z.string() }),
    lines: z.array(ReportLineSchema),
    totals: z.object({
      lines: z.number().int(),
      units: z.number().int(),
      linesToReview: z.number().int(),
    }),
  })
  .meta({ id: 'InventoryReport' });
export type ReportView = z.infer<typeof ReportViewSchema>;

export const ExportQuerySchema = z
  .strictObject({ format: z.enum(REPORT_EXPORT_FORMATS).describe('csv | xlsx | pdf') })
  .meta({ id: 'ExportReportQuery' });
export type ExportQueryDto = z.infer<typeof ExportQuerySchema>;
