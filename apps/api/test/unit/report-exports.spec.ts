import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvidenceThumbnail } from '../../src/modules/reports/evidence-thumbnail.js';
import { renderReportCsv } from '../../src/modules/reports/report-csv.renderer.js';
import { renderReport } from '../../src/modules/reports/report-exports.js';
import { pdfSafeText, renderReportPdf } from '../../src/modules/reports/report-pdf.renderer.js';
import { renderReportXlsx } from '../../src/modules/reports/report-xlsx.renderer.js';
import {
  UNIDENTIFIED_PRODUCT_NAME,
  type InventoryReport,
  type ReportLine,
} from '../../src/modules/reports/report.types.js';
import { readPdf, type PdfDocumentText } from '../support/pdf-text.js';

// ---------------------------------------------------------------------------------------------
// A 60-line report: accents, an unidentified product, a corrected line, a wrong one, a manual one,
// a UPC-A with a leading zero and a name that looks like a spreadsheet formula.
// ---------------------------------------------------------------------------------------------

const NAMES = [
  'Pingüinos Marinela',
  'Jalapeños La Costeña',
  'Café de Olla',
  'Piña en Almíbar',
  'Limón Ácido',
  'Azúcar Morena',
  'Ñoquis Caseros',
  'Atún en Agua',
];
const STORE_NAME = 'Abarrotes Doña Lupita';
const FORMULA_NAME = '=HYPERLINK("http://malo.example")';

function buildReport(): InventoryReport {
  const lines: ReportLine[] = Array.from({ length: 60 }, (_unused, i) => {
    const line: ReportLine = {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      productId: `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      gtin: `75010001${String(10000 + i).slice(1)}`,
      name: `${NAMES[i % NAMES.length]} ${i}`,
      brand: i % 3 === 0 ? 'Marca Señera' : null,
      category: i % 4 === 0 ? 'Botanas' : null,
      quantity: (i % 7) + 1,
      originalQuantity: (i % 7) + 1,
      confidence: 0.5 + (i % 50) / 100,
      needsReview: false,
      markedWrong: false,
      corrected: false,
      source: 'DETECTION',
      evidence: {
        frameId: `20000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        url: `https://objetos.example/frames/${i}.jpg?expires=1&signature=abc`,
        box: { x: 10, y: 10, w: 40, h: 40 },
      },
    };
    return line;
  });
  Object.assign(lines[0]!, {
    productId: null,
    gtin: null,
    name: UNIDENTIFIED_PRODUCT_NAME,
    brand: null,
    needsReview: true,
    confidence: 0.35,
  });
  Object.assign(lines[1]!, { quantity: 12, originalQuantity: 9, corrected: true });
  Object.assign(lines[2]!, { markedWrong: true });
  Object.assign(lines[3]!, {
    source: 'MANUAL',
    originalQuantity: 0,
    quantity: 4,
    corrected: true,
    evidence: { frameId: null, url: null, box: null },
  });
  Object.assign(lines[4]!, { gtin: '036602301467' });
  Object.assign(lines[5]!, { name: FORMULA_NAME, productId: null });
  return {
    session: {
      id: '30000000-0000-4000-8000-000000000001',
      state: 'READY',
      createdAt: new Date('2025-01-15T16:30:00Z'),
      readyAt: new Date('2025-01-15T16:34:10Z'),
      provider: 'barcode',
      model: null,
      framesUsed: 42,
      processingMs: 250_400,
      costUsdMicros: 0,
      costMxnCentavos: 0,
      resultMessage: 'Revisa 1 producto con poca confianza.',
    },
    store: { id: '40000000-0000-4000-8000-000000000001', name: STORE_NAME, timeZone: 'America/Mexico_City' },
    lines,
    totals: {
      lines: lines.length,
      units: lines.reduce((sum, line) => sum + line.quantity, 0),
      linesToReview: lines.filter((line) => line.needsReview).length,
    },
  };
}

describe('report exports', () => {
  const report = buildReport();
  let thumbnail: Buffer;
  let tmp: string;

  beforeAll(async () => {
    thumbnail = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c0392b' } })
      .jpeg()
      .toBuffer();
    tmp = await mkdtemp(join(tmpdir(), 'miinventario-report-'));
  });

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  describe('CSV', () => {
    const csv = renderReportCsv(report);
    const records = parse(csv, { bom: true, columns: true }) as Array<Record<string, string>>;

    it('starts with the UTF-8 BOM and uses CRLF line ends and commas (Excel, es-MX)', () => {
      expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const text = csv.toString('utf8');
      expect(text.slice(1, text.indexOf('\r\n'))).toBe(
        'Código de barras,Producto,Marca,Categoría,Cantidad,Cantidad detectada,Corregido,Confianza (%),' +
          'Por revisar,Marcado como incorrecto,Origen,Evidencia (enlace),ID de línea',
      );
      expect(text.split('\r\n').filter((line) => line.length > 0)).toHaveLength(61);
    });

    it('parses back with every line, in order, with its effective quantity', () => {
      expect(records).toHaveLength(60);
      records.forEach((record, i) => {
        const line = report.lines[i]!;
        expect(record['ID de línea']).toBe(line.id);
        expect(Number(record.Cantidad)).toBe(line.quantity);
        expect(Number(record['Cantidad detectada'])).toBe(line.originalQuantity);
        expect(Number(record['Confianza (%)'])).toBe(Math.round(line.confidence * 100));
      });
      expect(records[0]).toMatchObject({
        Producto: 'Producto no identificado',
        'Código de barras': '',
        'Por revisar': 'Sí',
      });
      expect(records[1]).toMatchObject({ Cantidad: '12', 'Cantidad detectada': '9', Corregido: 'Sí' });
      expect(records[2]).toMatchObject({ 'Marcado como incorrecto': 'Sí' });
      expect(records[3]).toMatchObject({ Origen: 'Agregada a mano', 'Evidencia (enlace)': '' });
      expect(records[4]!['Código de barras']).toBe('036602301467');
      expect(records[8]!.Producto).toBe('Pingüinos Marinela 8');
      expect(records[9]).toMatchObject({ Producto: 'Jalapeños La Costeña 9', Marca: 'Marca Señera' });
      expect(records.reduce((sum, record) => sum + Number(record.Cantidad), 0)).toBe(report.totals.units);
    });

    it('defuses text that a spreadsheet would run as a formula', () => {
      expect(records[5]!.Producto).toBe(`'${FORMULA_NAME}`);
    });
  });

  describe('XLSX', () => {
    let workbook: ExcelJS.Workbook;

    beforeAll(async () => {
      workbook = new ExcelJS.Workbook();
      await workbook.xlsx.load((await renderReportXlsx(report)) as unknown as ArrayBuffer);
    });

    it('has an "Inventario" sheet with a styled header, every line and a totals row', () => {
      const sheet = workbook.getWorksheet('Inventario')!;
      expect(sheet).toBeDefined();
      const header = sheet.getRow(1);
      expect(header.getCell(1).value).toBe('Código de barras');
      expect(header.getCell(2).value).toBe('Producto');
      expect(header.getCell(1).font?.bold).toBe(true);
      expect(sheet.getColumn(2).width).toBeGreaterThan(30);
      expect(sheet.rowCount).toBe(62);
      report.lines.forEach((line, i) => {
        const row = sheet.getRow(i + 2);
        expect(row.getCell(2).value).toBe(line.name === FORMULA_NAME ? `'${FORMULA_NAME}` : line.name);
        expect(row.getCell(5).value).toBe(line.quantity);
        expect(row.getCell(13).value).toBe(line.id);
      });
      // The UPC-A keeps its leading zero as text.
      expect(sheet.getRow(6).getCell(1).value).toBe('036602301467');
      expect(sheet.getRow(2).getCell(8).numFmt).toBe('0%');
      expect(sheet.getRow(3).getCell(6).value).toBe(9);
      const evidence = sheet.getRow(2).getCell(12).value as { text: string; hyperlink: string };
      expect(evidence).toMatchObject({ text: 'Ver evidencia', hyperlink: report.lines[0]!.evidence.url });
      const totals = sheet.getRow(62);
      expect(totals.getCell(2).value).toBe('Totales: 60 líneas');
      expect(totals.getCell(5).value).toBe(report.totals.units);
      expect(totals.getCell(9).value).toBe(1);
    });

    it('has a "Resumen" sheet with the store and the date in its time zone', () => {
      const sheet = workbook.getWorksheet('Resumen')!;
      const values = new Map<string, unknown>();
      sheet.eachRow((row) => values.set(String(row.getCell(1).value), row.getCell(2).value));
      expect(values.get('Tienda')).toBe(STORE_NAME);
      // 16:30 UTC is 10:30 in Mexico City (UTC−6, no daylight saving since 2022).
      expect((values.get('Fecha del inventario') as Date).toISOString()).toBe('2025-01-15T10:30:00.000Z');
      expect(values.get('Unidades')).toBe(report.totals.units);
      expect(values.get('Estado')).toBe('Listo');
      expect(String(values.get('Fuente de datos'))).toContain('Open Food Facts');
    });
  });

  describe('PDF', () => {
    let pdf: Buffer;
    let content: PdfDocumentText;
    const loaded: string[] = [];

    beforeAll(async () => {
      pdf = await renderReportPdf(report, {
        loadThumbnail: async (line) => {
          loaded.push(line.id);
          const index = report.lines.indexOf(line);
          if (index === 7) return Buffer.from('not an image');
          if (index === 9) throw new Error('storage unavailable');
          return index % 2 === 0 ? thumbnail : null;
        },
      });
      content = readPdf(pdf);
    });

    it('is a compressed PDF of several pages with the header repeated and numbered pages', () => {
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(pdf.toString('latin1')).toContain('/FlateDecode');
      expect(content.pages).toBeGreaterThanOrEqual(2);
      expect(content.streams).toHaveLength(content.pages);
      content.streams.forEach((page, i) => {
        expect(page).toContain('Código de barras');
        expect(page).toContain(`Página ${i + 1} de ${content.pages}`);
      });
    });

    it('shows the store, the date in its time zone, every line with accents, and the totals', () => {
      const text = content.streams.join('\n');
      expect(text).toContain(`Tienda: ${STORE_NAME}`);
      expect(text).toContain('15 de enero de 2025 a las 10:30 a.m.');
      for (const line of report.lines) expect(text).toContain(pdfSafeText(line.name));
      expect(text).toContain('Pingüinos Marinela 8');
      expect(text).toContain('Producto no identificado');
      expect(text).toContain('detectadas: 9');
      expect(text).toContain(`60 líneas · ${report.totals.units} unidades · 1 por revisar`);
      expect(text).toContain('Open Food Facts');
    });

    it('embeds the thumbnails it could load and survives a bad or failing loader', () => {
      expect(loaded).toHaveLength(60);
      const drawable = report.lines.filter((_line, i) => i % 2 === 0 && i !== 7).length;
      expect(content.images).toBe(drawable);
      const text = content.streams.join('\n');
      expect(text.split('Sin imagen').length - 1).toBe(60 - drawable);
    });

    it('folds characters the standard fonts cannot show', () => {
      expect(pdfSafeText('Ñandú 10:30\u202fa.m. ő 😀\u0007')).toBe('Ñandú 10:30 a.m. o ?');
    });
  });

  describe('thumbnails and file names', () => {
    it('crops the evidence box (plus a margin) out of a local frame', async () => {
      const frame = join(tmp, 'frame.jpg');
      await sharp({ create: { width: 400, height: 300, channels: 3, background: '#336699' } })
        .jpeg()
        .toFile(frame);
      const line: ReportLine = {
        ...report.lines[10]!,
        evidence: { frameId: 'f', url: null, box: { x: 100, y: 50, w: 100, h: 80 }, thumbnailPath: frame },
      };
      const crop = await loadEvidenceThumbnail(line);
      expect(await sharp(crop!).metadata()).toMatchObject({ format: 'jpeg', width: 120, height: 96 });
      const whole = await loadEvidenceThumbnail({ ...line, evidence: { ...line.evidence, box: null } });
      expect(await sharp(whole!).metadata()).toMatchObject({ width: 160, height: 120 });
      expect(
        await loadEvidenceThumbnail({ ...line, evidence: { ...line.evidence, thumbnailPath: join(tmp, 'nope.jpg') } }),
      ).toBeNull();
      expect(await loadEvidenceThumbnail(report.lines[10]!)).toBeNull();
    });

    it('names the download after the store and the day in its time zone', async () => {
      const late = { ...report, session: { ...report.session, readyAt: new Date('2025-01-16T03:00:00Z') } };
      const rendered = await renderReport(late, 'csv');
      expect(rendered.fileName).toBe('inventario-abarrotes-dona-lupita-2025-01-15.csv');
      expect(rendered.contentType).toBe('text/csv; charset=utf-8');
      expect(rendered.contentDisposition).toBe(
        'attachment; filename="inventario-abarrotes-dona-lupita-2025-01-15.csv"',
      );
    });
  });
});
