/**
 * The inventory report as the export renderers take it (issue 6 "Exports"). The report
 * service builds it from a READY (or FAILED) session, its store and its items; the renderers
 * (`report-csv.renderer.ts`, `report-xlsx.renderer.ts`, `report-pdf.renderer.ts`) only format
 * it and never touch the database.
 *
 * Units: times are `Date` (UTC instants; renderers show them in `store.timeZone`), durations
 * in milliseconds, confidence 0–1, money in USD micro-dollars and MXN centavos, evidence boxes
 * in frame pixels.
 */

/** Shown for a line whose product was not identified (issue 6: kept, never dropped). */
export const UNIDENTIFIED_PRODUCT_NAME = 'Producto no identificado';

/** Where a line came from: the vision pipeline, or added by hand by a correction. */
export type ReportLineSource = 'DETECTION' | 'MANUAL';

/** An axis-aligned box in frame pixels (origin top-left). */
export interface ReportBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The frame that proves a line. */
export interface ReportEvidence {
  /** `media.frames.id`, or null when the line has no evidence (a manual line). */
  frameId: string | null;
  /** Signed URL of the evidence frame (or its thumbnail) for people to open; null when none. */
  url: string | null;
  /** Where the product is in the frame, pixels; null when unknown. */
  box: ReportBox | null;
  /**
   * Local path of the evidence frame image (JPEG/PNG) for the PDF thumbnails; with `box`, the
   * default loader (`loadEvidenceThumbnail`) crops the product out of it. Absent when the frame
   * is not on local disk: the caller's `loadThumbnail` then fetches it (S3) or returns null.
   */
  thumbnailPath?: string | null;
}

/** One line of the report. */
export interface ReportLine {
  /** `inventory.inventory_items.id`. */
  id: string;
  /** The product (after correction), or null when not identified. */
  productId: string | null;
  /** Barcode in its usual printed form (EAN-8, UPC-A or EAN-13; see `displayGtin`), or null. */
  gtin: string | null;
  /** Product name; {@link UNIDENTIFIED_PRODUCT_NAME} when not identified. */
  name: string;
  brand: string | null;
  category: string | null;
  /** Units counted: the corrected quantity when the line was corrected, the detected one otherwise. */
  quantity: number;
  /** Units the pipeline found (equals `quantity` for an uncorrected line; 0 for a manual line). */
  originalQuantity: number;
  /** 0–1. */
  confidence: number;
  /** Low confidence or ambiguous: the owner should check it. */
  needsReview: boolean;
  /** The owner marked the detection as wrong. */
  markedWrong: boolean;
  /** The owner changed the quantity or the product. */
  corrected: boolean;
  source: ReportLineSource;
  evidence: ReportEvidence;
}

/** The inventory session the report is about. */
export interface ReportSession {
  id: string;
  /** Session state (READY for a finished report). */
  state: string;
  createdAt: Date;
  readyAt: Date | null;
  /** Vision provider (barcode, openai, anthropic, openai-compatible) and model, when known. */
  provider: string | null;
  model: string | null;
  /** Frames sent to the provider. */
  framesUsed: number | null;
  /** Processing time, milliseconds. */
  processingMs: number | null;
  /** Provider cost, USD micro-dollars (internal; not printed in the owner's exports). */
  costUsdMicros: number | null;
  /** Provider cost, MXN centavos (internal; not printed in the owner's exports). */
  costMxnCentavos: number | null;
  /** Message shown with the result (Spanish), if any. */
  resultMessage: string | null;
}

/** The store, for the heading and the time zone of every date shown. */
export interface ReportStore {
  id: string;
  name: string;
  /** IANA time zone, e.g. America/Mexico_City. */
  timeZone: string;
}

/** Totals as the report service computed them. */
export interface ReportTotals {
  /** Lines in the report. */
  lines: number;
  /** Σ quantity (effective quantities). */
  units: number;
  /** Lines with `needsReview`. */
  linesToReview: number;
}

/** A whole inventory report. */
export interface InventoryReport {
  session: ReportSession;
  store: ReportStore;
  /** In the order they are shown. */
  lines: ReportLine[];
  totals: ReportTotals;
}

/** Export formats of `GET /inventory-sessions/{id}/export?format=…`. */
export const REPORT_EXPORT_FORMATS = ['csv', 'xlsx', 'pdf'] as const;
export type ReportExportFormat = (typeof REPORT_EXPORT_FORMATS)[number];
