import ExcelJS from 'exceljs';
import { spreadsheetSafe } from './report-csv.renderer.js';
import { formatStoreDateTime, reportLabel, reportText, safeTimeZone, storeWallClock, yesNo } from './report-text.js';
import type { InventoryReport, ReportLine } from './report.types.js';

/** One column of the "Inventario" sheet. */
interface Column {
  key: string;
  /** Width in characters. */
  width: number;
  numFmt?: string;
  alignment?: Partial<ExcelJS.Alignment>;
  value(line: ReportLine): ExcelJS.CellValue;
}

const HEADER_FILL: ExcelJS.Fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FF1F4E79' } };
const REVIEW_FILL: ExcelJS.Fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFFFF2CC' } };
const WRONG_FONT: Partial<ExcelJS.Font> = { color: { argb: 'FF9C0006' } };
const DATE_FORMAT = 'dd/mm/yyyy hh:mm';

const COLUMNS: Column[] = [
  // Text format: Excel must not turn 7501000164370 into 7.50E+12 nor drop a UPC's leading zero.
  { key: 'gtin', width: 17, numFmt: '@', value: (line) => line.gtin ?? '' },
  { key: 'name', width: 42, value: (line) => spreadsheetSafe(line.name) },
  { key: 'brand', width: 18, value: (line) => spreadsheetSafe(line.brand) },
  { key: 'category', width: 18, value: (line) => spreadsheetSafe(line.category) },
  { key: 'quantity', width: 11, numFmt: '#,##0', value: (line) => line.quantity },
  { key: 'originalQuantity', width: 13, numFmt: '#,##0', value: (line) => line.originalQuantity },
  { key: 'corrected', width: 11, alignment: { horizontal: 'center' }, value: (line) => yesNo(line.corrected) },
  {
    key: 'confidenceShort',
    width: 11,
    numFmt: '0%',
    value: (line) => (Number.isFinite(line.confidence) ? Math.min(Math.max(line.confidence, 0), 1) : 0),
  },
  { key: 'needsReview', width: 12, alignment: { horizontal: 'center' }, value: (line) => yesNo(line.needsReview) },
  { key: 'markedWrong', width: 14, alignment: { horizontal: 'center' }, value: (line) => yesNo(line.markedWrong) },
  { key: 'source', width: 16, value: (line) => reportLabel('source', line.source) },
  {
    key: 'evidence',
    width: 15,
    value: (line) =>
      line.evidence.url && /^https?:\/\//i.test(line.evidence.url)
        ? { text: reportText('value.openEvidence'), hyperlink: line.evidence.url }
        : '',
  },
  { key: 'lineId', width: 38, value: (line) => line.id },
];

/** 1-based column number of `key` in {@link COLUMNS}. */
function columnNumber(key: string): number {
  return COLUMNS.findIndex((column) => column.key === key) + 1;
}

function linesSheet(workbook: ExcelJS.Workbook, report: InventoryReport): void {
  const sheet = workbook.addWorksheet(reportText('sheet.lines'), {
    views: [{ state: 'frozen', ySplit: 1 }],
    pageSetup: { orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 },
  });
  sheet.columns = COLUMNS.map((column) => ({
    key: column.key,
    width: column.width,
    style: column.numFmt ? { numFmt: column.numFmt } : {},
  }));
  const header = sheet.getRow(1);
  header.values = COLUMNS.map((column) => reportText(`column.${column.key}`));
  header.font = { bold: true, color: { argb: 'FFFFFFFF' } };
  header.alignment = { vertical: 'middle', wrapText: true };
  header.height = 30;
  COLUMNS.forEach((_column, index) => {
    header.getCell(index + 1).fill = HEADER_FILL;
  });

  for (const line of report.lines) {
    const row = sheet.addRow(COLUMNS.map((column) => column.value(line)));
    COLUMNS.forEach((column, index) => {
      const cell = row.getCell(index + 1);
      if (column.alignment) cell.alignment = column.alignment;
      if (line.needsReview) cell.fill = REVIEW_FILL;
      if (line.markedWrong) cell.font = WRONG_FONT;
    });
    const evidence = row.getCell(columnNumber('evidence'));
    if (typeof evidence.value === 'object' && evidence.value !== null) {
      evidence.font = { color: { argb: 'FF0563C1' }, underline: true };
    }
    if (line.productId === null) {
      const nameCell = row.getCell(columnNumber('name'));
      nameCell.font = { ...nameCell.font, italic: true };
    }
  }
  if (report.lines.length > 0) {
    sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: report.lines.length + 1, column: COLUMNS.length } };
  }

  // Totals as the report computed them (not formulas: lines marked wrong may be left out of the units).
  const totals = sheet.addRow([]);
  totals.getCell(columnNumber('name')).value =
    `${reportText('totalsLabel')}: ${report.totals.lines} ${reportText('summary.lines').toLowerCase()}`;
  totals.getCell(columnNumber('quantity')).value = report.totals.units;
  totals.getCell(columnNumber('quantity')).numFmt = '#,##0';
  totals.getCell(columnNumber('needsReview')).value = report.totals.linesToReview;
  totals.font = { bold: true };
  COLUMNS.forEach((_column, index) => {
    totals.getCell(index + 1).border = { top: { style: 'thin' } };
  });
}

function summarySheet(workbook: ExcelJS.Workbook, report: InventoryReport): void {
  const sheet = workbook.addWorksheet(reportText('sheet.summary'));
  sheet.columns = [
    { key: 'label', width: 30 },
    { key: 'value', width: 60 },
  ];
  const { session, store } = report;
  const timeZone = safeTimeZone(store.timeZone);
  const rows: [string, ExcelJS.CellValue, string?][] = [
    ['summary.store', store.name],
    ['summary.date', storeWallClock(session.createdAt, timeZone), DATE_FORMAT],
    ['summary.readyAt', session.readyAt ? storeWallClock(session.readyAt, timeZone) : '', DATE_FORMAT],
    ['summary.timeZone', timeZone],
    ['summary.state', reportLabel('state', session.state)],
    ['summary.provider', reportLabel('provider', session.provider)],
    ['summary.model', session.model ?? ''],
    ['summary.framesUsed', session.framesUsed ?? ''],
    [
      'summary.processingSeconds',
      session.processingMs !== null ? Math.round(session.processingMs / 100) / 10 : '',
      '#,##0.0',
    ],
    ['summary.lines', report.totals.lines, '#,##0'],
    ['summary.units', report.totals.units, '#,##0'],
    ['summary.linesToReview', report.totals.linesToReview, '#,##0'],
    ['summary.message', session.resultMessage ?? ''],
    ['summary.sessionId', session.id],
    ['summary.dataSource', reportText('attribution')],
  ];
  const title = sheet.addRow([reportText('title')]);
  title.font = { bold: true, size: 14 };
  sheet.addRow([formatStoreDateTime(session.createdAt, timeZone)]);
  sheet.addRow([]);
  for (const [key, value, numFmt] of rows) {
    const row = sheet.addRow([reportText(key), typeof value === 'string' ? spreadsheetSafe(value) : value]);
    row.getCell(1).font = { bold: true };
    row.getCell(2).alignment = { horizontal: 'left', wrapText: true };
    if (numFmt) row.getCell(2).numFmt = numFmt;
  }
}

/**
 * The report as an Excel workbook (issue 6 "Exports"; exceljs), in Spanish:
 *
 * - sheet **"Inventario"**: a styled header row (bold white on blue, frozen, auto-filter), one row
 *   per line with set column widths — barcode as text (no scientific notation, leading zeros
 *   kept), quantities as numbers, confidence as a percentage, "Sí"/"No" flags, a "Ver evidencia"
 *   link to the signed evidence URL — lines to review shaded yellow, lines marked wrong in red,
 *   unidentified products in italics; then a bold totals row (lines, units, lines to review).
 * - sheet **"Resumen"**: store, dates in the store's time zone (as Excel dates), state, detection
 *   method, frames, processing time, totals, session id and the Open Food Facts (ODbL) notice.
 *   Provider costs are internal and are not included.
 *
 * @returns the .xlsx bytes.
 */
export async function renderReportXlsx(report: InventoryReport): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'MiInventario';
  workbook.title = `${reportText('title')} — ${report.store.name}`;
  // Fixed from the report, not the clock, so the same report gives the same workbook metadata.
  workbook.created = report.session.readyAt ?? report.session.createdAt;
  workbook.modified = workbook.created;
  linesSheet(workbook, report);
  summarySheet(workbook, report);
  const bytes = await workbook.xlsx.writeBuffer();
  return Buffer.from(bytes as unknown as ArrayBuffer);
}
