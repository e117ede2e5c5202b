import PDFDocument from 'pdfkit';
import {
  confidencePercent,
  formatInteger,
  formatStoreDateTime,
  lineStatus,
  REPORT_LOCALE,
  reportLabel,
  reportText,
  safeTimeZone,
} from './report-text.js';
import type { InventoryReport, ReportLine } from './report.types.js';

/** Options of {@link renderReportPdf}. */
export interface PdfRenderOptions {
  /**
   * The evidence thumbnail of a line as JPEG or PNG bytes (the two formats PDF embeds), or null
   * for none. Default: none. `loadEvidenceThumbnail` (evidence-thumbnail.ts) reads local frames;
   * a caller with S3 frames passes its own. A loader that throws or returns bytes that are not
   * JPEG/PNG costs only that picture ("Sin imagen"), never the report.
   */
  loadThumbnail?(line: ReportLine): Promise<Buffer | null>;
  /** Thumbnails loaded at once (default 4). */
  thumbnailConcurrency?: number;
}

// Letter paper (8.5 × 11 in, the usual size in Mexico), points (1/72 in).
const PAGE_SIZE = 'LETTER';
const MARGIN = 40;
const FOOTER_SPACE = 26;
const ROW_HEIGHT = 52;
const HEADER_HEIGHT = 22;
const THUMB = 44;
const TOTALS_SPACE = 64;

const COLORS = {
  text: '#1c1917',
  muted: '#57534e',
  rule: '#d6d3d1',
  headerFill: '#1f4e79',
  reviewFill: '#fff6d5',
  placeholder: '#f5f5f4',
  status: { wrong: '#9c0006', review: '#8a5a00', corrected: '#1f4e79', ok: '#2f6b2f' },
};

interface PdfColumn {
  key: string;
  width: number;
  align?: 'left' | 'right';
}

const COLUMNS: PdfColumn[] = [
  { key: 'evidence', width: 54 },
  { key: 'name', width: 196 },
  { key: 'gtin', width: 88 },
  { key: 'quantity', width: 56, align: 'right' },
  { key: 'confidenceShort', width: 58, align: 'right' },
  { key: 'status', width: 80 },
];
const TABLE_WIDTH = COLUMNS.reduce((sum, column) => sum + column.width, 0);

/** Characters Windows-1252 (WinAnsiEncoding) adds in 0x80–0x9F; 0x20–0x7E and 0xA0–0xFF are Latin-1. */
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

function isWinAnsi(char: string): boolean {
  const code = char.codePointAt(0)!;
  return (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff) || WIN_ANSI_EXTRA.has(char);
}

/**
 * Text the PDF's standard fonts can show. Helvetica is a standard-14 font with WinAnsiEncoding
 * (Windows-1252), which covers Spanish (á é í ó ú ü ñ ¿ ¡ and their capitals). Other characters
 * (from cameras, AI models or people) are folded: space separators (such as the narrow no-break
 * space ICU puts in times) become spaces, control characters go, accented letters outside the
 * set lose their accent (ő → o), and anything else becomes "?".
 */
export function pdfSafeText(value: string): string {
  let out = '';
  for (const char of value.normalize('NFC').replace(/\p{Zs}/gu, ' ')) {
    if (isWinAnsi(char)) out += char;
    else if (/\p{Cc}|\p{Cf}/u.test(char)) out += char === '\n' || char === '\t' ? ' ' : '';
    else {
      const folded = char.normalize('NFD').replace(/\p{M}+/gu, '');
      out += folded.length > 0 && [...folded].every(isWinAnsi) ? folded : '?';
    }
  }
  return out;
}

/** Runs `work` over `items` with at most `limit` at once; results in input order. */
async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(runners);
  return results;
}

function statusColor(line: ReportLine): string {
  if (line.markedWrong) return COLORS.status.wrong;
  if (line.needsReview) return COLORS.status.review;
  if (line.corrected) return COLORS.status.corrected;
  return COLORS.status.ok;
}

/**
 * The report as a PDF in Spanish (issue 6 "Exports"; pdfkit), Letter paper:
 *
 * - heading: title, store name, date and time the inventory was taken in the store's time zone
 *   (es-MX long form, e.g. "15 de enero de 2025 a las 10:30 a.m."), session id, state and
 *   detection method;
 * - a table of every line (evidence thumbnail, product name with brand/category, barcode,
 *   quantity — with the detected one when corrected —, confidence, status), continued over as
 *   many pages as needed with the column header repeated on each; lines to review are shaded,
 *   unidentified products are in italics;
 * - totals (lines, units, lines to review) and the Open Food Facts (ODbL) notice;
 * - a footer on every page with the store and "Página N de M".
 *
 * Texts come from `i18n/es-MX.json`; all text uses the built-in Helvetica (WinAnsi, see
 * {@link pdfSafeText}), so nothing is downloaded or embedded. Content streams are compressed.
 * The document's creation date is the report's (not the clock), so the same report renders to
 * the same text.
 *
 * @returns the PDF bytes.
 */
export async function renderReportPdf(report: InventoryReport, options: PdfRenderOptions = {}): Promise<Buffer> {
  const thumbnails = await mapLimit(report.lines, options.thumbnailConcurrency ?? 4, async (line) => {
    if (!options.loadThumbnail) return null;
    try {
      return await options.loadThumbnail(line);
    } catch {
      return null;
    }
  });

  const timeZone = safeTimeZone(report.store.timeZone);
  const taken = report.session.createdAt;
  const doc = new PDFDocument({
    size: PAGE_SIZE,
    margin: MARGIN,
    bufferPages: true,
    compress: true,
    lang: REPORT_LOCALE,
    info: {
      Title: pdfSafeText(`${reportText('title')} — ${report.store.name}`),
      Author: 'MiInventario',
      Creator: 'MiInventario',
      CreationDate: report.session.readyAt ?? taken,
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const text = (value: string, x: number, y: number, opts: PDFKit.Mixins.TextOptions = {}) =>
    doc.text(pdfSafeText(value), x, y, { lineBreak: false, ...opts });
  const bottom = () => doc.page.height - MARGIN - FOOTER_SPACE;
  const left = MARGIN;

  // ------------------------------------------------------------------ heading (first page)
  let y = MARGIN;
  doc.fillColor(COLORS.text).font('Helvetica-Bold').fontSize(18);
  text(reportText('title'), left, y, { width: TABLE_WIDTH, height: 24, ellipsis: true });
  y += 26;
  doc.font('Helvetica-Bold').fontSize(12);
  text(reportText('pdf.storeLine', { store: report.store.name }), left, y, {
    width: TABLE_WIDTH,
    height: 16,
    ellipsis: true,
  });
  y += 18;
  doc.font('Helvetica').fontSize(10).fillColor(COLORS.muted);
  text(reportText('pdf.dateLine', { date: formatStoreDateTime(taken, timeZone), timeZone }), left, y, {
    width: TABLE_WIDTH,
    height: 14,
    ellipsis: true,
  });
  y += 14;
  text(
    reportText('pdf.sessionLine', {
      id: report.session.id,
      state: reportLabel('state', report.session.state),
      provider: reportLabel('provider', report.session.provider) || reportText('value.none'),
    }),
    left,
    y,
    { width: TABLE_WIDTH, height: 14, ellipsis: true },
  );
  y += 14;
  if (report.session.resultMessage) {
    text(report.session.resultMessage, left, y, { width: TABLE_WIDTH, height: 14, ellipsis: true });
    y += 14;
  }
  y += 10;

  // ------------------------------------------------------------------ table
  const drawTableHeader = (top: number): number => {
    doc.rect(left, top, TABLE_WIDTH, HEADER_HEIGHT).fill(COLORS.headerFill);
    doc.fillColor('#ffffff').font('Helvetica-Bold').fontSize(8.5);
    let x = left;
    for (const column of COLUMNS) {
      text(reportText(`column.${column.key}`), x + 4, top + 7, {
        width: column.width - 8,
        height: 10,
        ellipsis: true,
        align: column.align ?? 'left',
      });
      x += column.width;
    }
    return top + HEADER_HEIGHT;
  };

  const drawRow = (line: ReportLine, thumbnail: Buffer | null, top: number) => {
    if (line.needsReview) doc.rect(left, top, TABLE_WIDTH, ROW_HEIGHT).fill(COLORS.reviewFill);
    const cell = (key: string) => {
      const index = COLUMNS.findIndex((column) => column.key === key);
      const start = left + COLUMNS.slice(0, index).reduce((sum, column) => sum + column.width, 0);
      return { x: start + 4, width: COLUMNS[index]!.width - 8 };
    };

    // Evidence thumbnail, or a grey "Sin imagen" square.
    const thumbX = left + (COLUMNS[0]!.width - THUMB) / 2;
    const thumbY = top + (ROW_HEIGHT - THUMB) / 2;
    let drawn = false;
    if (thumbnail) {
      try {
        doc.image(thumbnail, thumbX, thumbY, { fit: [THUMB, THUMB], align: 'center', valign: 'center' });
        drawn = true;
      } catch {
        drawn = false; // not a JPEG/PNG: fall back to the placeholder
      }
    }
    if (!drawn) {
      doc.rect(thumbX, thumbY, THUMB, THUMB).fill(COLORS.placeholder);
      doc.fillColor(COLORS.muted).font('Helvetica').fontSize(6);
      text(reportText('value.noImage'), thumbX, thumbY + THUMB / 2 - 3, { width: THUMB, height: 8, align: 'center' });
    }

    // Product name (two lines at most) and brand · category.
    const name = cell('name');
    doc
      .fillColor(COLORS.text)
      .font(line.productId === null ? 'Helvetica-Oblique' : 'Helvetica-Bold')
      .fontSize(9);
    doc.text(pdfSafeText(line.name), name.x, top + 6, { width: name.width, height: 22, ellipsis: true });
    const details = [line.brand, line.category].filter((value): value is string => !!value).join(' · ');
    if (details) {
      doc.fillColor(COLORS.muted).font('Helvetica').fontSize(7.5);
      text(details, name.x, top + 32, { width: name.width, height: 10, ellipsis: true });
    }

    // Barcode.
    const gtin = cell('gtin');
    doc.fillColor(COLORS.text).font('Helvetica').fontSize(9);
    text(line.gtin ?? reportText('value.none'), gtin.x, top + 6, { width: gtin.width, height: 12, ellipsis: true });

    // Quantity (and the detected one when corrected).
    const quantity = cell('quantity');
    doc.fillColor(COLORS.text).font('Helvetica-Bold').fontSize(11);
    text(formatInteger(line.quantity), quantity.x, top + 6, { width: quantity.width, height: 14, align: 'right' });
    if (line.corrected && line.originalQuantity !== line.quantity) {
      doc.fillColor(COLORS.muted).font('Helvetica').fontSize(6.5);
      text(
        reportText('pdf.unitsOriginal', { count: formatInteger(line.originalQuantity) }),
        quantity.x - 10,
        top + 24,
        { width: quantity.width + 10, height: 9, align: 'right', ellipsis: true },
      );
    }

    // Confidence.
    const confidence = cell('confidenceShort');
    doc.fillColor(COLORS.text).font('Helvetica').fontSize(9);
    text(`${confidencePercent(line.confidence)} %`, confidence.x, top + 6, {
      width: confidence.width,
      height: 12,
      align: 'right',
    });

    // Status.
    const status = cell('status');
    doc.fillColor(statusColor(line)).font('Helvetica-Bold').fontSize(8.5);
    text(lineStatus(line), status.x, top + 6, { width: status.width, height: 12, ellipsis: true });
    doc.fillColor(COLORS.muted).font('Helvetica').fontSize(7);
    text(reportLabel('source', line.source), status.x, top + 20, { width: status.width, height: 9, ellipsis: true });

    doc
      .moveTo(left, top + ROW_HEIGHT)
      .lineTo(left + TABLE_WIDTH, top + ROW_HEIGHT)
      .lineWidth(0.5)
      .strokeColor(COLORS.rule)
      .stroke();
  };

  if (report.lines.length === 0) {
    doc.fillColor(COLORS.muted).font('Helvetica-Oblique').fontSize(10);
    text(reportText('pdf.empty'), left, y, { width: TABLE_WIDTH, height: 14 });
    y += 24;
  } else {
    y = drawTableHeader(y);
    report.lines.forEach((line, index) => {
      if (y + ROW_HEIGHT > bottom()) {
        doc.addPage();
        y = drawTableHeader(MARGIN);
      }
      drawRow(line, thumbnails[index] ?? null, y);
      y += ROW_HEIGHT;
    });
    y += 12;
  }

  // ------------------------------------------------------------------ totals
  if (y + TOTALS_SPACE > bottom()) {
    doc.addPage();
    y = MARGIN;
  }
  doc.fillColor(COLORS.text).font('Helvetica-Bold').fontSize(11);
  text(reportText('pdf.totals'), left, y, { width: TABLE_WIDTH, height: 14 });
  y += 16;
  doc.font('Helvetica').fontSize(10);
  text(
    reportText('pdf.totalsLine', {
      lines: formatInteger(report.totals.lines),
      units: formatInteger(report.totals.units),
      linesToReview: formatInteger(report.totals.linesToReview),
    }),
    left,
    y,
    { width: TABLE_WIDTH, height: 14, ellipsis: true },
  );
  y += 22;
  doc.fillColor(COLORS.muted).font('Helvetica').fontSize(7);
  text(reportText('attribution'), left, y, { width: TABLE_WIDTH, height: 10, ellipsis: true });

  // ------------------------------------------------------------------ footers
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i += 1) {
    doc.switchToPage(i);
    // Writing below the bottom margin would make pdfkit open a new page: lift the margin meanwhile.
    const margins = { ...doc.page.margins };
    doc.page.margins.bottom = 0;
    const footerY = doc.page.height - MARGIN - 8;
    doc.fillColor(COLORS.muted).font('Helvetica').fontSize(8);
    text(reportText('pdf.footer', { store: report.store.name }), left, footerY, {
      width: TABLE_WIDTH * 0.7,
      height: 10,
      ellipsis: true,
    });
    text(reportText('pdf.page', { page: i - range.start + 1, pages: range.count }), left, footerY, {
      width: TABLE_WIDTH,
      height: 10,
      align: 'right',
    });
    doc.page.margins = margins;
  }

  doc.end();
  return finished;
}
