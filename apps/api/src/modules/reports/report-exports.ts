import { renderReportCsv } from './report-csv.renderer.js';
import { renderReportPdf, type PdfRenderOptions } from './report-pdf.renderer.js';
import { reportFileName } from './report-text.js';
import { renderReportXlsx } from './report-xlsx.renderer.js';
import type { InventoryReport, ReportExportFormat } from './report.types.js';

/** Media type of each export format (RFC 4180 CSV, Office Open XML, PDF). */
export const REPORT_CONTENT_TYPES: Record<ReportExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pdf: 'application/pdf',
};

/** A rendered export, ready to send. */
export interface RenderedReport {
  body: Buffer;
  contentType: string;
  /** ASCII download name, e.g. `inventario-abarrotes-lupita-2025-01-15.pdf`. */
  fileName: string;
  /** `attachment; filename="…"` (the name is ASCII-only by construction). */
  contentDisposition: string;
}

/**
 * Renders `report` in `format` (csv | xlsx | pdf) with the pure renderers of this folder, for
 * `GET /inventory-sessions/{id}/export?format=…` (DESIGN.md "API surface").
 *
 * @param options.pdf thumbnail loader of the PDF (see {@link PdfRenderOptions}); ignored otherwise.
 * @returns bytes, media type and download name.
 */
export async function renderReport(
  report: InventoryReport,
  format: ReportExportFormat,
  options: { pdf?: PdfRenderOptions } = {},
): Promise<RenderedReport> {
  let body: Buffer;
  if (format === 'csv') body = renderReportCsv(report);
  else if (format === 'xlsx') body = await renderReportXlsx(report);
  else body = await renderReportPdf(report, options.pdf);
  const fileName = reportFileName(report, format);
  return {
    body,
    contentType: REPORT_CONTENT_TYPES[format],
    fileName,
    contentDisposition: `attachment; filename="${fileName}"`,
  };
}
