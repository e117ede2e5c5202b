import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { Inject, Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import { loadEvidenceThumbnail } from '../reports/evidence-thumbnail.js';
import { renderReport, type RenderedReport } from '../reports/report-exports.js';
import { UNIDENTIFIED_PRODUCT_NAME, type InventoryReport, type ReportExportFormat } from '../reports/report.types.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../storage/object-storage.port.js';
import { displayGtin } from '../vision/gtin.js';
import type { ReportView } from './report.dto.js';
import { ReportRepository, type ReportItemRow } from './report.repository.js';

/**
 * Inventory reports (issue 6 "Report", "Exports"): the lines of a session with product,
 * quantity (corrected when corrected, the original kept), confidence, review flag and the
 * signed URL of the frame that proves each line; totals; provider, model, frames, time and
 * cost. Exports in Spanish: CSV (UTF-8 with BOM), XLSX, PDF with evidence thumbnails.
 */
@Injectable()
export class ReportService {
  constructor(
    private readonly sessions: InventorySessionService,
    private readonly reports: ReportRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /**
   * The report of a session of a store the caller belongs to.
   *
   * @throws NOT_FOUND (404) unknown session or foreign store; REPORT_NOT_READY (409) the
   *   session is not READY yet (or FAILED).
   */
  async build(userId: string, sessionId: string): Promise<{ report: InventoryReport; keys: Map<string, string> }> {
    await this.sessions.get(userId, sessionId);
    const head = await this.reports.head(sessionId);
    if (!head) throw new NotFoundDomainException('Inventory session');
    if (head.state !== 'READY') {
      throw new DomainException('REPORT_NOT_READY', `The session is ${head.state}; its report exists once READY.`);
    }
    const rows = await this.reports.items(sessionId);
    const keys = new Map<string, string>();
    const lines = await Promise.all(rows.map((row) => this.line(row, keys)));
    const counted = lines.filter((line) => !line.markedWrong);
    return {
      keys,
      report: {
        session: {
          id: head.id,
          state: head.state,
          createdAt: head.created_at,
          readyAt: head.ready_at,
          provider: head.provider,
          model: head.model,
          framesUsed: head.frames_used,
          processingMs: head.processing_ms,
          costUsdMicros: head.cost_usd_micros === null ? null : Number(head.cost_usd_micros),
          costMxnCentavos: head.cost_mxn_centavos,
          resultMessage: head.result_message,
        },
        store: { id: head.store_id, name: head.store_name, timeZone: head.time_zone },
        lines,
        totals: {
          lines: counted.length,
          units: counted.reduce((sum, line) => sum + line.quantity, 0),
          linesToReview: counted.filter((line) => line.needsReview && !line.corrected).length,
        },
      },
    };
  }

  /** {@link build} as the API returns it. */
  async view(userId: string, sessionId: string): Promise<ReportView> {
    const { report } = await this.build(userId, sessionId);
    return {
      ...report,
      session: {
        ...report.session,
        createdAt: report.session.createdAt.toISOString(),
        readyAt: report.session.readyAt?.toISOString() ?? null,
      },
      lines: report.lines.map((line) => ({
        ...line,
        evidence: { frameId: line.evidence.frameId, url: line.evidence.url, box: line.evidence.box },
      })),
    };
  }

  /**
   * The report as a CSV, XLSX or PDF file (Spanish, es-MX; dates in the store's time zone).
   *
   * @throws as {@link build}.
   */
  async export(userId: string, sessionId: string, format: ReportExportFormat): Promise<RenderedReport> {
    const { report, keys } = await this.build(userId, sessionId);
    if (format !== 'pdf') return renderReport(report, format);
    const directory = await mkdtemp(join(tmpdir(), 'miinventario-report-'));
    try {
      return await renderReport(report, 'pdf', {
        pdf: {
          loadThumbnail: async (line) => {
            const key = keys.get(line.id);
            if (!key) return null;
            try {
              const path = join(directory, `${line.id}.jpg`);
              await writeFile(path, await buffer(await this.storage.getStream(key)));
              return await loadEvidenceThumbnail({ ...line, evidence: { ...line.evidence, thumbnailPath: path } });
            } catch {
              return null;
            }
          },
        },
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  private async line(row: ReportItemRow, keys: Map<string, string>): Promise<InventoryReport['lines'][number]> {
    const gtin = row.product_gtin ?? row.gtin;
    if (row.frame_storage_key) keys.set(row.id, row.frame_storage_key);
    const corrected = row.corrected_at !== null;
    return {
      id: row.id,
      productId: row.corrected_product_id ?? row.product_id,
      gtin: gtin ? displayGtin(gtin) : null,
      name: row.product_name ?? row.detected_name ?? UNIDENTIFIED_PRODUCT_NAME,
      brand: row.product_brand ?? row.detected_brand,
      category: row.product_category ?? row.category,
      quantity: row.marked_wrong ? 0 : (row.corrected_quantity ?? row.quantity),
      originalQuantity: row.quantity,
      confidence: Number(row.confidence),
      needsReview: row.needs_review,
      markedWrong: row.marked_wrong,
      corrected,
      source: row.source,
      evidence: {
        frameId: row.evidence_frame_id,
        url: row.frame_storage_key ? await this.storage.signedUrl(row.frame_storage_key) : null,
        box: row.evidence_box,
      },
    };
  }
}
