import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** A report line joined with its product and evidence frame. */
export interface ReportItemRow {
  id: string;
  product_id: string | null;
  corrected_product_id: string | null;
  gtin: string | null;
  detected_name: string | null;
  detected_brand: string | null;
  category: string | null;
  quantity: number;
  corrected_quantity: number | null;
  confidence: number;
  needs_review: boolean;
  marked_wrong: boolean;
  corrected_at: Date | null;
  source: 'DETECTION' | 'MANUAL';
  evidence_frame_id: string | null;
  evidence_box: { x: number; y: number; w: number; h: number } | null;
  frames_seen: number | null;
  product_name: string | null;
  product_brand: string | null;
  product_gtin: string | null;
  product_category: string | null;
  frame_storage_key: string | null;
}

/** The session and store columns of a report. */
export interface ReportHeadRow {
  id: string;
  state: string;
  created_at: Date;
  ready_at: Date | null;
  provider: string | null;
  model: string | null;
  frames_used: number | null;
  processing_ms: number | null;
  cost_usd_micros: string | null;
  cost_mxn_centavos: number | null;
  result_message: string | null;
  store_id: string;
  store_name: string;
  time_zone: string;
}

/** SQL of a session's report (in the caller's RLS transaction: members of the store only). */
@Injectable()
export class ReportRepository {
  constructor(private readonly transactions: TransactionService) {}

  async head(sessionId: string): Promise<ReportHeadRow | null> {
    const rows = (await this.transactions.query(
      `SELECT s.id, s.state, s.created_at, s.ready_at, s.provider, s.model, s.frames_used, s.processing_ms,
              s.cost_usd_micros, s.cost_mxn_centavos, s.result_message, st.id AS store_id, st.name AS store_name,
              st.time_zone
         FROM inventory.inventory_sessions s JOIN tenancy.stores st ON st.id = s.store_id
        WHERE s.id = $1`,
      [sessionId],
    )) as ReportHeadRow[];
    return rows[0] ?? null;
  }

  /** Lines of a session in report order; the corrected product wins over the detected one. */
  async items(sessionId: string): Promise<ReportItemRow[]> {
    return (await this.transactions.query(
      `SELECT i.id, i.product_id, i.corrected_product_id, i.gtin, i.detected_name, i.detected_brand, i.category,
              i.quantity, i.corrected_quantity, i.confidence, i.needs_review, i.marked_wrong, i.corrected_at, i.source,
              i.evidence_frame_id, i.evidence_box, i.frames_seen,
              p.name AS product_name, p.brand AS product_brand, p.gtin AS product_gtin, p.category AS product_category,
              f.storage_key AS frame_storage_key
         FROM inventory.inventory_items i
         LEFT JOIN inventory.products p ON p.id = coalesce(i.corrected_product_id, i.product_id)
         LEFT JOIN media.frames f ON f.id = i.evidence_frame_id
        WHERE i.session_id = $1
        ORDER BY i.sort_index, i.created_at, i.id`,
      [sessionId],
    )) as ReportItemRow[];
  }
}
