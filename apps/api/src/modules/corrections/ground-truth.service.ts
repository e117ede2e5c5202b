import { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import type { RequestIdentity } from '../../common/http/request-context.js';
import { TransactionService } from '../../database/transaction.service.js';
import { AuditService } from '../audit/audit.service.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../storage/object-storage.port.js';
import {
  GROUND_TRUTH_URL_TTL_SECONDS,
  type GroundTruthExportQueryDto,
  type GroundTruthExportRow,
} from './corrections.dto.js';
import { CorrectionsRepository, type GroundTruthExportDbRow } from './corrections.repository.js';

/** Rows read per short transaction while streaming an export. */
export const GROUND_TRUTH_PAGE_SIZE = 500;

/**
 * The ground-truth dataset export (issue 6 "Admins can export ground truth as a dataset (JSON
 * lines + frame files)"), ADMIN only.
 *
 * Format: JSON Lines (https://jsonlines.org/), UTF-8, one {@link GroundTruthExportRow} per line,
 * oldest first: `{ id, createdAt, storeId, sessionId, itemId, correctionId, kind, source,
 * frame: { id, key, url, width, height } | null, box: { x, y, w, h } | null (pixels), productId,
 * gtin (GTIN-14), productName, trueCount (units) }`. The frame files are fetched through
 * `frame.url`, a signed URL valid for {@link GROUND_TRUTH_URL_TTL_SECONDS} (one day) that needs no
 * token; `frame.key` is the object key, for tools that read the bucket directly. A frame with no
 * stored file has `key` and `url` null; a row without a frame (a product added by hand, or a
 * frame deleted since) has `frame: null`.
 *
 * Streaming: rows are read {@link GROUND_TRUTH_PAGE_SIZE} at a time, each page in its own short
 * transaction acting for the admin (keyset on created_at, id), so a slow download holds no
 * database connection. Rows committed while an export runs may or may not be in it. The first
 * page is read (and the export audited as `admin.action`) before the response starts, so a
 * failure there is a normal problem+json error; a failure later cuts the stream short.
 */
@Injectable()
export class GroundTruthService {
  constructor(
    private readonly corrections: CorrectionsRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /**
   * Opens the export for `identity` (an ADMIN: the route's guard checks the role; row-level
   * security shows every store's rows only to ADMIN).
   *
   * @param query `{ storeId?, from? (inclusive), to? (exclusive) }`, combined with AND.
   * @returns a stream of JSON lines (UTF-8).
   */
  async export(identity: RequestIdentity, query: GroundTruthExportQueryDto): Promise<Readable> {
    const as: RequestIdentity = { userId: identity.userId, role: identity.role };
    const filter = { storeId: query.storeId, from: query.from, to: query.to };
    const first = await this.transactions.runAs(as, async () => {
      await this.audit.record({
        action: 'admin.action',
        targetType: 'ground_truth',
        metadata: { operation: 'ground_truth.export', filter },
      });
      return this.corrections.groundTruthPage({ ...filter, limit: GROUND_TRUTH_PAGE_SIZE });
    });
    const pages = async function* (this: GroundTruthService): AsyncGenerator<string> {
      let page = first;
      for (;;) {
        const lines = await Promise.all(page.map((row) => this.toExportRow(row)));
        if (lines.length > 0) yield lines.map((line) => `${JSON.stringify(line)}\n`).join('');
        if (page.length < GROUND_TRUTH_PAGE_SIZE) return;
        const last = page[page.length - 1]!;
        page = await this.transactions.runAs(as, () =>
          this.corrections.groundTruthPage({
            ...filter,
            after: { at: last.cursor_at, id: last.id },
            limit: GROUND_TRUTH_PAGE_SIZE,
          }),
        );
      }
    };
    return Readable.from(pages.call(this), { objectMode: false });
  }

  private async toExportRow(row: GroundTruthExportDbRow): Promise<GroundTruthExportRow> {
    return {
      id: row.id,
      createdAt: row.created_at.toISOString(),
      storeId: row.store_id,
      sessionId: row.session_id,
      itemId: row.item_id,
      correctionId: row.correction_id,
      kind: row.kind,
      source: row.source,
      frame: row.frame_id
        ? {
            id: row.frame_id,
            key: row.frame_storage_key,
            url: row.frame_storage_key
              ? await this.storage.signedUrl(row.frame_storage_key, { ttlSeconds: GROUND_TRUTH_URL_TTL_SECONDS })
              : null,
            width: row.frame_width,
            height: row.frame_height,
          }
        : null,
      box: row.box,
      productId: row.product_id,
      gtin: row.gtin,
      productName: row.product_name,
      trueCount: row.true_count,
    };
  }
}
