import { stringify } from 'csv-stringify/sync';
import { confidencePercent, reportLabel, reportText, yesNo } from './report-text.js';
import type { InventoryReport, ReportLine } from './report.types.js';

/** Column keys of the CSV, in order (headers come from `column.<key>` of i18n/es-MX.json). */
export const CSV_COLUMNS = [
  'gtin',
  'name',
  'brand',
  'category',
  'quantity',
  'originalQuantity',
  'corrected',
  'confidence',
  'needsReview',
  'markedWrong',
  'source',
  'evidenceUrl',
  'lineId',
] as const;

/**
 * A text cell that a spreadsheet would read as a formula (first character `=`, `+`, `-`, `@`,
 * tab or carriage return) gets a leading apostrophe: product names come from cameras, AI models
 * and people (OWASP "CSV Injection").
 */
export function spreadsheetSafe(value: string | null | undefined): string {
  const text = value ?? '';
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

function row(line: ReportLine): (string | number)[] {
  return [
    line.gtin ?? '',
    spreadsheetSafe(line.name),
    spreadsheetSafe(line.brand),
    spreadsheetSafe(line.category),
    line.quantity,
    line.originalQuantity,
    yesNo(line.corrected),
    confidencePercent(line.confidence),
    yesNo(line.needsReview),
    yesNo(line.markedWrong),
    reportLabel('source', line.source),
    spreadsheetSafe(line.evidence.url),
    line.id,
  ];
}

/**
 * The report as CSV for Excel in Mexico (issue 6 "Exports"): one header row in Spanish, then one
 * row per line, in report order. No totals row, so the file stays a plain table for imports.
 *
 * Format decisions:
 * - **UTF-8 with a BOM** (EF BB BF): without it Excel opens a CSV in the Windows ANSI code page and
 *   "Categoría" / "Pingüinos" come out garbled.
 * - **Comma delimiter, decimal point**: Windows' es-MX regional settings use "," as list separator
 *   and "." as decimal symbol (unlike es-ES, which uses ";" and ","), so Excel-MX splits columns on
 *   commas and reads numbers with a point. Every number written here is a plain integer without
 *   grouping (quantities, confidence as a whole percentage 0–100), so no locale can misread it.
 * - **CRLF** record ends and RFC 4180 quoting (csv-stringify).
 * - Barcodes are written as digits. Excel shows long digit strings in scientific notation and
 *   drops a UPC's leading zero unless "Automatic Data Conversion" is off; the XLSX export keeps
 *   them as text for people, and this file keeps exact digits for machines.
 * - Yes/no columns are "Sí" / "No"; formula-like text is defused ({@link spreadsheetSafe}).
 *
 * @returns the file bytes (UTF-8, BOM first).
 */
export function renderReportCsv(report: InventoryReport): Buffer {
  const header = CSV_COLUMNS.map((column) => reportText(`column.${column}`));
  const text = stringify([header, ...report.lines.map(row)], {
    bom: true,
    delimiter: ',',
    record_delimiter: 'windows',
    quoted_match: /^\s|\s$/,
  });
  return Buffer.from(text, 'utf8');
}
