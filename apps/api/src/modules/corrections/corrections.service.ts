import { Inject, Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { ReportService } from '../analysis/report.service.js';
import { AuditService } from '../audit/audit.service.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import type { SessionView } from '../inventory/inventory-session.dto.js';
import { cleanProductName } from '../products/product-name.js';
import { ProductsService } from '../products/products.service.js';
import type { AddMissingItemDto, CorrectionResultView, CorrectItemDto } from './corrections.dto.js';
import {
  CorrectionsRepository,
  type CorrectableItemRow,
  type CorrectionKind,
  type UsableProductRow,
} from './corrections.repository.js';

/**
 * Corrections of inventory reports (issue 6 "Corrections"; DESIGN.md "API modules": feedback).
 *
 * An OWNER or OPERATOR of the store changes a line's quantity or product, marks a line wrong, or
 * adds a product the count missed. The pipeline's values stay in the line (`quantity`,
 * `product_id`); the correction goes to `corrected_quantity`, `corrected_product_id`,
 * `marked_wrong`, which the report shows instead, keeping the originals (`originalQuantity`).
 *
 * Each request that changes something is one correction, written in the request's one
 * transaction (RequestTransactionInterceptor), so all of it or nothing is kept:
 * 1. the line is updated (or the MANUAL line inserted);
 * 2. one `feedback.corrections` row: `kind` MARK_WRONG when `markedWrong` changed, else PRODUCT
 *    when the product changed, else QUANTITY (ADD_MISSING for a new line); `old_value` /
 *    `new_value` hold every changed field (`quantity`, `productId`, `markedWrong`), effective values;
 * 3. one `feedback.ground_truth` row (source CORRECTION): the line's evidence frame and box, the
 *    true product, its barcode and name, and the true count (0 when marked wrong);
 * 4. an audit entry `inventory.item_corrected`.
 *
 * A PATCH whose values equal the line's current ones writes nothing and answers
 * `correctionId: null` (a retried request does not duplicate ground truth).
 */
@Injectable()
export class CorrectionsService {
  constructor(
    private readonly corrections: CorrectionsRepository,
    private readonly sessions: InventorySessionService,
    private readonly reports: ReportService,
    private readonly products: ProductsService,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Corrects line `itemId` of session `sessionId` as `userId` (a member of the store).
   *
   * @param dto `{ quantity?: int ≥ 0 (units), productId?: uuid, markedWrong?: boolean, reason?: string }`.
   * @returns `{ correctionId (null: nothing changed), line (as the report now shows it), totals }`.
   * @throws NOT_FOUND (404) unknown session, a session of a store the caller is not a member of, or
   *   no such line in the session; REPORT_NOT_READY (409) the session is not READY;
   *   VALIDATION_FAILED (400, field `productId`) a product neither global nor the store's.
   */
  async correctItem(
    userId: string,
    sessionId: string,
    itemId: string,
    dto: CorrectItemDto,
  ): Promise<CorrectionResultView> {
    const session = await this.readySession(userId, sessionId);
    const item = await this.corrections.lockItem(sessionId, itemId);
    if (!item) throw new NotFoundDomainException('Inventory item');

    const current = effective(item);
    const oldValue: Record<string, unknown> = {};
    const newValue: Record<string, unknown> = {};
    if (dto.quantity !== undefined && dto.quantity !== current.quantity) {
      oldValue.quantity = current.quantity;
      newValue.quantity = dto.quantity;
    }
    if (dto.productId !== undefined && dto.productId !== current.productId) {
      await this.usableProduct(session.storeId, dto.productId);
      oldValue.productId = current.productId;
      newValue.productId = dto.productId;
    }
    if (dto.markedWrong !== undefined && dto.markedWrong !== current.markedWrong) {
      oldValue.markedWrong = current.markedWrong;
      newValue.markedWrong = dto.markedWrong;
    }
    if (Object.keys(newValue).length === 0) return this.result(userId, sessionId, itemId, null);

    const kind: CorrectionKind =
      'markedWrong' in newValue ? 'MARK_WRONG' : 'productId' in newValue ? 'PRODUCT' : 'QUANTITY';
    await this.corrections.correctItem(itemId, {
      correctedQuantity: newValue.quantity as number | undefined,
      correctedProductId: newValue.productId as string | undefined,
      markedWrong: newValue.markedWrong as boolean | undefined,
      at: this.clock.now(),
      by: userId,
    });
    const correctionId = await this.record(session, itemId, kind, oldValue, newValue, dto.reason, userId);
    return this.result(userId, sessionId, itemId, correctionId);
  }

  /**
   * Adds a product the count missed to session `sessionId` as a MANUAL line, as `userId` (a
   * member of the store). With `productId` the line is that product; with `name` it is the typed
   * product, linked to the store's (else the catalogue's) product with the same barcode when
   * `gtin` is known. The line's original quantity is 0 (the pipeline saw nothing) and its
   * corrected quantity `quantity`; it has no evidence frame.
   *
   * @param dto `{ productId? | name (+ brand?, gtin?), quantity: int ≥ 1 (units), reason? }`.
   * @returns `{ correctionId, line (the new line as the report shows it), totals }`.
   * @throws NOT_FOUND (404) unknown or foreign session; REPORT_NOT_READY (409) the session is not
   *   READY; VALIDATION_FAILED (400, field `productId`) a product neither global nor the store's.
   */
  async addMissingItem(userId: string, sessionId: string, dto: AddMissingItemDto): Promise<CorrectionResultView> {
    const session = await this.readySession(userId, sessionId);
    let product: Pick<UsableProductRow, 'id' | 'gtin' | 'name' | 'brand' | 'category'> | null = null;
    if (dto.productId !== undefined) {
      product = await this.usableProduct(session.storeId, dto.productId);
    } else if (dto.gtin !== undefined) {
      const [match] = await this.products.matchDetections(session.storeId, [{ gtin14: dto.gtin }]);
      if (match) product = { id: match.id, gtin: match.gtin, name: match.name, brand: match.brand, category: null };
    }
    const name = dto.name !== undefined ? cleanProductName(dto.name) : product!.name;
    const brand = dto.brand !== undefined ? cleanProductName(dto.brand) : (product?.brand ?? null);
    const gtin = dto.gtin ?? product?.gtin ?? null;
    const itemId = await this.corrections.insertManualItem({
      storeId: session.storeId,
      sessionId,
      productId: product?.id ?? null,
      gtin,
      name,
      brand,
      category: product?.category ?? null,
      correctedQuantity: dto.quantity,
      at: this.clock.now(),
      by: userId,
    });
    const newValue = { productId: product?.id ?? null, name, brand, gtin, quantity: dto.quantity };
    const correctionId = await this.record(session, itemId, 'ADD_MISSING', null, newValue, dto.reason, userId);
    return this.result(userId, sessionId, itemId, correctionId);
  }

  /**
   * The session, if the caller is a member of its store and it is READY.
   *
   * @throws NOT_FOUND (404); REPORT_NOT_READY (409).
   */
  private async readySession(userId: string, sessionId: string): Promise<SessionView> {
    const session = await this.sessions.get(userId, sessionId);
    if (session.state !== 'READY') {
      throw new DomainException(
        'REPORT_NOT_READY',
        `The session is ${session.state}; its report can be corrected once READY.`,
      );
    }
    return session;
  }

  /** @throws VALIDATION_FAILED (400, field `productId`) when the store may not use the product. */
  private async usableProduct(storeId: string, productId: string): Promise<UsableProductRow> {
    const product = await this.corrections.findUsableProduct(storeId, productId);
    if (!product) {
      throw new DomainException('VALIDATION_FAILED', 'The product is not in the catalogue or the store.', [
        { field: 'productId', message: 'no such product in the global catalogue or the store' },
      ]);
    }
    return product;
  }

  /** Steps 2–4 of a correction (see the class comment); returns the correction's id. */
  private async record(
    session: SessionView,
    itemId: string,
    kind: CorrectionKind,
    oldValue: Record<string, unknown> | null,
    newValue: Record<string, unknown>,
    reason: string | undefined,
    userId: string,
  ): Promise<string> {
    const correctionId = await this.corrections.insertCorrection({
      storeId: session.storeId,
      sessionId: session.id,
      itemId,
      kind,
      oldValue,
      newValue,
      reason: reason ?? null,
      createdBy: userId,
    });
    const groundTruthId = await this.corrections.insertGroundTruth(correctionId, itemId, userId);
    await this.audit.record({
      action: 'inventory.item_corrected',
      targetType: 'inventory_item',
      targetId: itemId,
      storeId: session.storeId,
      metadata: {
        sessionId: session.id,
        correctionId,
        groundTruthId,
        kind,
        oldValue,
        newValue,
        reason: reason ?? null,
      },
    });
    return correctionId;
  }

  /** The line and totals as the report shows them now (same transaction: the correction included). */
  private async result(
    userId: string,
    sessionId: string,
    itemId: string,
    correctionId: string | null,
  ): Promise<CorrectionResultView> {
    const report = await this.reports.view(userId, sessionId);
    const line = report.lines.find((candidate) => candidate.id === itemId);
    if (!line) throw new NotFoundDomainException('Inventory item');
    return { correctionId, line, totals: report.totals };
  }
}

/** A line's current values as the owner sees them (corrected, else detected). */
function effective(item: CorrectableItemRow): { quantity: number; productId: string | null; markedWrong: boolean } {
  return {
    quantity: item.corrected_quantity ?? item.quantity,
    productId: item.corrected_product_id ?? item.product_id,
    markedWrong: item.marked_wrong,
  };
}
