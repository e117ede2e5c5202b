import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** The columns of a report line a correction reads and writes (`inventory.inventory_items`). */
export interface CorrectableItemRow {
  id: string;
  store_id: string;
  session_id: string;
  /** What the pipeline found (kept). */
  product_id: string | null;
  quantity: number;
  /** What the owner said (null: not corrected). */
  corrected_product_id: string | null;
  corrected_quantity: number | null;
  marked_wrong: boolean;
}

/** A product a store may put on a line: global (active) or the store's own. */
export interface UsableProductRow {
  id: string;
  store_id: string | null;
  gtin: string | null;
  name: string;
  brand: string | null;
  category: string | null;
}

/** `feedback.corrections.kind`. */
export type CorrectionKind = 'QUANTITY' | 'PRODUCT' | 'MARK_WRONG' | 'ADD_MISSING';

/** The changes of one correction; an absent field is left as it is. */
export interface ItemCorrection {
  correctedQuantity?: number;
  correctedProductId?: string;
  markedWrong?: boolean;
  at: Date;
  by: string;
}

/** A MANUAL line: the pipeline saw nothing (quantity 0, no product), the owner counted `correctedQuantity`. */
export interface ManualItemInput {
  storeId: string;
  sessionId: string;
  productId: string | null;
  /** GTIN-14, or null. */
  gtin: string | null;
  name: string;
  brand: string | null;
  category: string | null;
  correctedQuantity: number;
  at: Date;
  by: string;
}

export interface CorrectionInput {
  storeId: string;
  sessionId: string;
  itemId: string;
  kind: CorrectionKind;
  oldValue: Record<string, unknown> | null;
  newValue: Record<string, unknown>;
  reason: string | null;
  createdBy: string;
}

/** A ground-truth row joined with its correction and frame, for the export. */
export interface GroundTruthExportDbRow {
  id: string;
  created_at: Date;
  /** created_at with microseconds (keyset cursor; a JS Date keeps only milliseconds). */
  cursor_at: string;
  store_id: string;
  session_id: string;
  item_id: string | null;
  correction_id: string | null;
  kind: string | null;
  source: string;
  frame_id: string | null;
  frame_storage_key: string | null;
  frame_width: number | null;
  frame_height: number | null;
  box: { x: number; y: number; w: number; h: number } | null;
  product_id: string | null;
  gtin: string | null;
  product_name: string | null;
  true_count: number;
}

/** Filters and position of one export page. */
export interface GroundTruthPageQuery {
  storeId?: string;
  from?: string;
  to?: string;
  /** The last row of the previous page (`cursor_at`, id). */
  after?: { at: string; id: string };
  limit: number;
}

const ITEM_COLUMNS =
  'id, store_id, session_id, product_id, quantity, corrected_product_id, corrected_quantity, marked_wrong';

/**
 * SQL of corrections and ground truth (issue 6 "Corrections"): the correction columns of
 * `inventory.inventory_items` (corrected_quantity, corrected_product_id, marked_wrong,
 * corrected_at, corrected_by; MANUAL lines), `feedback.corrections` and `feedback.ground_truth`.
 * Reads `inventory.products` and `media.frames` only to check a product and to name a frame,
 * as the report repository does. Every statement runs in the caller's transaction, under
 * row-level security (members of the store; ADMIN for the export).
 */
@Injectable()
export class CorrectionsRepository {
  constructor(private readonly transactions: TransactionService) {}

  /**
   * Line `itemId` of session `sessionId`, locked (`FOR UPDATE`) until the transaction ends, so
   * two corrections of one line run one after the other; null when absent (or not visible).
   */
  async lockItem(sessionId: string, itemId: string): Promise<CorrectableItemRow | null> {
    const rows = (await this.transactions.query(
      `SELECT ${ITEM_COLUMNS} FROM inventory.inventory_items WHERE id = $1 AND session_id = $2 FOR UPDATE`,
      [itemId, sessionId],
    )) as CorrectableItemRow[];
    return rows[0] ?? null;
  }

  /** Product `productId` if store `storeId` may use it (an active global product, or its own); else null. */
  async findUsableProduct(storeId: string, productId: string): Promise<UsableProductRow | null> {
    const rows = (await this.transactions.query(
      `SELECT id, store_id, gtin, name, brand, category
         FROM inventory.products
        WHERE id = $1 AND (store_id = $2 OR (store_id IS NULL AND active))`,
      [productId, storeId],
    )) as UsableProductRow[];
    return rows[0] ?? null;
  }

  /** Writes a correction on a line (only the fields given) and stamps corrected_at / corrected_by. */
  async correctItem(itemId: string, correction: ItemCorrection): Promise<void> {
    await this.transactions.query(
      `UPDATE inventory.inventory_items
          SET corrected_quantity = CASE WHEN $2::boolean THEN $3::int ELSE corrected_quantity END,
              corrected_product_id = CASE WHEN $4::boolean THEN $5::uuid ELSE corrected_product_id END,
              marked_wrong = coalesce($6::boolean, marked_wrong),
              corrected_at = $7,
              corrected_by = $8
        WHERE id = $1`,
      [
        itemId,
        correction.correctedQuantity !== undefined,
        correction.correctedQuantity ?? null,
        correction.correctedProductId !== undefined,
        correction.correctedProductId ?? null,
        correction.markedWrong ?? null,
        correction.at,
        correction.by,
      ],
    );
  }

  /**
   * Inserts a MANUAL line after the session's last one (`sort_index` = max + 1): original
   * quantity 0 and no original product (the pipeline saw nothing), corrected quantity and
   * product as given, confidence 1, no evidence. Returns its id.
   */
  async insertManualItem(input: ManualItemInput): Promise<string> {
    const rows = (await this.transactions.query(
      `INSERT INTO inventory.inventory_items
         (store_id, session_id, product_id, gtin, detected_name, detected_brand, category, quantity, confidence,
          needs_review, source, corrected_quantity, corrected_product_id, corrected_at, corrected_by, sort_index)
       SELECT $1::uuid, $2::uuid, NULL, $4::text, $5::text, $6::text, $7::text, 0, 1, false, 'MANUAL', $8::int,
              $3::uuid, $9::timestamptz, $10::uuid,
              coalesce((SELECT max(sort_index) + 1 FROM inventory.inventory_items WHERE session_id = $2::uuid), 0)
       RETURNING id`,
      [
        input.storeId,
        input.sessionId,
        input.productId,
        input.gtin,
        input.name,
        input.brand,
        input.category,
        input.correctedQuantity,
        input.at,
        input.by,
      ],
    )) as Array<{ id: string }>;
    return rows[0]!.id;
  }

  /** Appends a row to `feedback.corrections`; returns its id. */
  async insertCorrection(input: CorrectionInput): Promise<string> {
    const rows = (await this.transactions.query(
      `INSERT INTO feedback.corrections (store_id, session_id, item_id, kind, old_value, new_value, reason, created_by)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)
       RETURNING id`,
      [
        input.storeId,
        input.sessionId,
        input.itemId,
        input.kind,
        input.oldValue === null ? null : JSON.stringify(input.oldValue),
        JSON.stringify(input.newValue),
        input.reason,
        input.createdBy,
      ],
    )) as Array<{ id: string }>;
    return rows[0]!.id;
  }

  /**
   * The ground-truth row of correction `correctionId`, from the line as corrected (read in the
   * same statement): the line's evidence frame and box, its effective product (corrected, else
   * detected) with that product's barcode and name (else the line's), and the true count — 0
   * when the line is marked wrong, else its corrected (else detected) quantity. Returns its id.
   */
  async insertGroundTruth(correctionId: string, itemId: string, createdBy: string): Promise<string> {
    const rows = (await this.transactions.query(
      `INSERT INTO feedback.ground_truth
         (store_id, session_id, correction_id, item_id, frame_id, box, product_id, gtin, product_name, true_count,
          source, created_by)
       SELECT i.store_id, i.session_id, $1::uuid, i.id, i.evidence_frame_id, i.evidence_box,
              coalesce(i.corrected_product_id, i.product_id), coalesce(p.gtin, i.gtin),
              coalesce(p.name, i.detected_name),
              CASE WHEN i.marked_wrong THEN 0 ELSE coalesce(i.corrected_quantity, i.quantity) END,
              'CORRECTION', $3::uuid
         FROM inventory.inventory_items i
         LEFT JOIN inventory.products p ON p.id = coalesce(i.corrected_product_id, i.product_id)
        WHERE i.id = $2
       RETURNING id`,
      [correctionId, itemId, createdBy],
    )) as Array<{ id: string }>;
    return rows[0]!.id;
  }

  /**
   * One page of ground truth, oldest first (keyset on created_at, id), with the correction's
   * kind and the frame's storage key and size. Every store's rows for ADMIN (row-level security).
   */
  async groundTruthPage(query: GroundTruthPageQuery): Promise<GroundTruthExportDbRow[]> {
    return (await this.transactions.query(
      `SELECT g.id, g.created_at,
              to_char(g.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at,
              g.store_id, g.session_id, g.item_id, g.correction_id, c.kind, g.source,
              g.frame_id, f.storage_key AS frame_storage_key, f.width AS frame_width, f.height AS frame_height,
              g.box, g.product_id, g.gtin, g.product_name, g.true_count
         FROM feedback.ground_truth g
         LEFT JOIN feedback.corrections c ON c.id = g.correction_id
         LEFT JOIN media.frames f ON f.id = g.frame_id
        WHERE ($1::uuid IS NULL OR g.store_id = $1)
          AND ($2::timestamptz IS NULL OR g.created_at >= $2)
          AND ($3::timestamptz IS NULL OR g.created_at < $3)
          AND ($4::timestamptz IS NULL OR (g.created_at, g.id) > ($4::timestamptz, $5::uuid))
        ORDER BY g.created_at, g.id
        LIMIT $6`,
      [
        query.storeId ?? null,
        query.from ?? null,
        query.to ?? null,
        query.after?.at ?? null,
        query.after?.id ?? null,
        query.limit,
      ],
    )) as GroundTruthExportDbRow[];
  }
}
