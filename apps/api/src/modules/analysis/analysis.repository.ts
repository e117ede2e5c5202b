import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** A report line to insert (`inventory.inventory_items`). Box in frame pixels. */
export interface NewItem {
  productId: string | null;
  gtin: string | null;
  detectedName: string | null;
  detectedBrand: string | null;
  category: string | null;
  quantity: number;
  confidence: number;
  needsReview: boolean;
  evidenceFrameId: string | null;
  evidenceBox: { x: number; y: number; w: number; h: number } | null;
  framesSeen: number;
  detection: Record<string, unknown>;
  sortIndex: number;
}

/**
 * SQL the analysis step writes as SYSTEM: report lines, the session's results, the evidence
 * frames it stored late, and the in-app notification.
 */
@Injectable()
export class AnalysisRepository {
  constructor(private readonly transactions: TransactionService) {}

  /** Replaces the DETECTION lines of a session (a re-run writes them again, never twice). */
  async replaceItems(session: { id: string; storeId: string }, items: readonly NewItem[]): Promise<number> {
    await this.transactions.query(
      `DELETE FROM inventory.inventory_items WHERE session_id = $1 AND source = 'DETECTION'`,
      [session.id],
    );
    if (items.length === 0) return 0;
    const rows = await this.transactions.query(
      `INSERT INTO inventory.inventory_items (store_id, session_id, product_id, gtin, detected_name, detected_brand,
              category, quantity, confidence, needs_review, source, evidence_frame_id, evidence_box, frames_seen,
              detection, sort_index)
       SELECT $1, $2, i.product_id, i.gtin, i.detected_name, i.detected_brand, i.category, i.quantity, i.confidence,
              i.needs_review, 'DETECTION', i.evidence_frame_id, i.evidence_box, i.frames_seen, i.detection, i.sort_index
         FROM jsonb_to_recordset($3::jsonb) AS i(product_id uuid, gtin text, detected_name text, detected_brand text,
              category text, quantity int, confidence real, needs_review boolean, evidence_frame_id uuid,
              evidence_box jsonb, frames_seen int, detection jsonb, sort_index int)
       RETURNING id`,
      [
        session.storeId,
        session.id,
        JSON.stringify(
          items.map((item) => ({
            product_id: item.productId,
            gtin: item.gtin,
            detected_name: item.detectedName,
            detected_brand: item.detectedBrand,
            category: item.category,
            quantity: item.quantity,
            confidence: item.confidence,
            needs_review: item.needsReview,
            evidence_frame_id: item.evidenceFrameId,
            evidence_box: item.evidenceBox,
            frames_seen: item.framesSeen,
            detection: item.detection,
            sort_index: item.sortIndex,
          })),
        ),
      ],
    );
    return rows.length;
  }

  /** Stores the results of a finished analysis on the session row. */
  async recordResults(
    sessionId: string,
    input: {
      provider: string;
      model: string | null;
      framesUsed: number;
      lines: number;
      units: number;
      review: number;
      processingMs: number;
      costUsdMicros: number;
      costMxnCentavos: number;
      resultMessage: string | null;
    },
  ): Promise<void> {
    await this.transactions.query(
      `UPDATE inventory.inventory_sessions
          SET provider = $2, model = $3, frames_used = $4, lines_count = $5, units_count = $6, review_count = $7,
              processing_ms = $8, cost_usd_micros = $9, cost_mxn_centavos = $10, result_message = $11
        WHERE id = $1`,
      [
        sessionId,
        input.provider,
        input.model,
        input.framesUsed,
        input.lines,
        input.units,
        input.review,
        input.processingMs,
        input.costUsdMicros,
        input.costMxnCentavos,
        input.resultMessage,
      ],
    );
  }

  /** Sets the stored object of a frame that became evidence after selection dropped it. */
  async setFrameStorageKey(frameId: string, storageKey: string): Promise<void> {
    await this.transactions.query(`UPDATE media.frames SET storage_key = $2 WHERE id = $1`, [frameId, storageKey]);
  }

  /** The person who started a session, to notify. */
  async sessionCreator(sessionId: string): Promise<string | null> {
    const rows = (await this.transactions.query(`SELECT created_by FROM inventory.inventory_sessions WHERE id = $1`, [
      sessionId,
    ])) as { created_by: string }[];
    return rows[0]?.created_by ?? null;
  }

  /** Writes an in-app notification once per (user, dedupe key). */
  async notify(input: {
    userId: string;
    storeId: string;
    type: string;
    title: string;
    body: string;
    data: Record<string, unknown>;
    dedupeKey: string;
  }): Promise<void> {
    await this.transactions.query(
      `INSERT INTO auth.notifications (user_id, store_id, type, title, body, data, dedupe_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (user_id, dedupe_key) DO NOTHING`,
      [input.userId, input.storeId, input.type, input.title, input.body, JSON.stringify(input.data), input.dedupeKey],
    );
  }
}
