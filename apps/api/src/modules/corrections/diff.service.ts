import { Injectable } from '@nestjs/common';
import { ReportService } from '../analysis/report.service.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import { normalizeProductName } from '../products/product-name.js';
import type { ReportLine } from '../reports/report.types.js';
import { displayGtin, toGtin14 } from '../vision/gtin.js';
import type { DiffLineView, DiffStatus, InventoryDiffView } from './corrections.dto.js';

/** The report-line fields a diff reads. */
export type DiffInputLine = Pick<ReportLine, 'productId' | 'gtin' | 'name' | 'quantity' | 'markedWrong' | 'evidence'>;

/** One product of one count: its lines summed. */
interface ProductCount {
  key: string;
  productId: string | null;
  /** GTIN-14. */
  gtin: string | null;
  name: string;
  normalizedName: string;
  quantity: number;
  /** Evidence of the line with the most units that has a frame. */
  evidence: DiffLineView['evidence']['current'];
  evidenceQuantity: number;
}

/** Order of statuses in a diff: losses first ("¿qué se me fue?"). */
const STATUS_ORDER: Record<DiffStatus, number> = { DISAPPEARED: 0, DOWN: 1, APPEARED: 2, UP: 3, SAME: 4 };

/**
 * Groups the lines of one count per product: the key is the product id when known, else the
 * barcode (GTIN-14), else the normalised name (lower case, no accents, collapsed spaces).
 * Lines marked wrong are left out (the owner said the product is not there); quantities are
 * the report's effective (corrected) ones.
 */
export function countProducts(lines: readonly DiffInputLine[]): ProductCount[] {
  const counts = new Map<string, ProductCount>();
  for (const line of lines) {
    if (line.markedWrong) continue;
    const gtin = line.gtin ? toGtin14(line.gtin) : null;
    const normalizedName = normalizeProductName(line.name);
    const key = line.productId ? `product:${line.productId}` : gtin ? `gtin:${gtin}` : `name:${normalizedName}`;
    let count = counts.get(key);
    if (!count) {
      count = {
        key,
        productId: line.productId,
        gtin,
        name: line.name,
        normalizedName,
        quantity: 0,
        evidence: null,
        evidenceQuantity: -1,
      };
      counts.set(key, count);
    }
    count.quantity += line.quantity;
    count.gtin ??= gtin;
    if (line.evidence.frameId && line.quantity > count.evidenceQuantity) {
      count.evidence = { frameId: line.evidence.frameId, url: line.evidence.url, box: line.evidence.box };
      count.evidenceQuantity = line.quantity;
    }
  }
  return [...counts.values()];
}

/** Two counts of one product may be paired: identifiers they both have must agree. */
function compatible(a: ProductCount, b: ProductCount): boolean {
  if (a.productId && b.productId && a.productId !== b.productId) return false;
  if (a.gtin && b.gtin && a.gtin !== b.gtin) return false;
  return true;
}

function status(previous: number, current: number): DiffStatus {
  if (previous === current) return 'SAME';
  if (previous === 0) return 'APPEARED';
  if (current === 0) return 'DISAPPEARED';
  return current > previous ? 'UP' : 'DOWN';
}

/**
 * The count-to-count diff of two reports' lines (issue 6 "Count-to-count diff").
 *
 * Products of the two counts ({@link countProducts}) are paired in three passes: same product
 * id; then same barcode; then same normalised name — a later pass never pairs two counts whose
 * product ids (or barcodes) are both known and differ. Each pair, and each product found in
 * only one count, gives one line: quantities in units (absent = 0), `change` = current −
 * previous, status APPEARED (0 → n), DISAPPEARED (n → 0), UP, DOWN or SAME, and the evidence
 * frame of each count (null when absent). Lines come DISAPPEARED, DOWN, APPEARED, UP, SAME, by
 * name (es-MX collation) within each status.
 *
 * @param previous the lines of the earlier count, or null when there is none (every line APPEARED).
 */
export function diffLines(
  previous: readonly DiffInputLine[] | null,
  current: readonly DiffInputLine[],
): { lines: DiffLineView[]; totals: InventoryDiffView['totals'] } {
  const before = countProducts(previous ?? []);
  const after = countProducts(current);
  const paired = new Map<ProductCount, ProductCount>();
  const taken = new Set<ProductCount>();
  const passes: Array<(count: ProductCount) => string | null> = [
    (count) => count.productId,
    (count) => count.gtin,
    (count) => count.normalizedName,
  ];
  for (const identify of passes) {
    const open = new Map<string, ProductCount[]>();
    for (const count of before) {
      const id = identify(count);
      if (taken.has(count) || id === null) continue;
      open.set(id, [...(open.get(id) ?? []), count]);
    }
    for (const count of after) {
      const id = identify(count);
      if (paired.has(count) || id === null) continue;
      const candidates = open.get(id) ?? [];
      const index = candidates.findIndex((candidate) => !taken.has(candidate) && compatible(candidate, count));
      if (index < 0) continue;
      paired.set(count, candidates[index]!);
      taken.add(candidates[index]!);
    }
  }

  const lines: DiffLineView[] = [];
  const line = (earlier: ProductCount | null, later: ProductCount | null): DiffLineView => {
    const main = (later ?? earlier)!;
    const previousQuantity = earlier?.quantity ?? 0;
    const currentQuantity = later?.quantity ?? 0;
    const gtin = later?.gtin ?? earlier?.gtin ?? null;
    return {
      key: main.key,
      productId: later?.productId ?? earlier?.productId ?? null,
      gtin: gtin ? displayGtin(gtin) : null,
      name: main.name,
      previousQuantity,
      currentQuantity,
      change: currentQuantity - previousQuantity,
      status: status(previousQuantity, currentQuantity),
      evidence: { previous: earlier?.evidence ?? null, current: later?.evidence ?? null },
    };
  };
  for (const count of after) lines.push(line(paired.get(count) ?? null, count));
  for (const count of before) if (!taken.has(count)) lines.push(line(count, null));

  const collator = new Intl.Collator('es-MX', { sensitivity: 'base', numeric: true });
  lines.sort(
    (a, b) =>
      STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || collator.compare(a.name, b.name) || a.key.localeCompare(b.key),
  );
  const tally = (wanted: DiffStatus) => lines.filter((entry) => entry.status === wanted).length;
  const previousUnits = lines.reduce((sum, entry) => sum + entry.previousQuantity, 0);
  const currentUnits = lines.reduce((sum, entry) => sum + entry.currentQuantity, 0);
  return {
    lines,
    totals: {
      previousUnits,
      currentUnits,
      change: currentUnits - previousUnits,
      appeared: tally('APPEARED'),
      disappeared: tally('DISAPPEARED'),
      up: tally('UP'),
      down: tally('DOWN'),
      same: tally('SAME'),
    },
  };
}

/**
 * Count-to-count diff (issue 6): "¿qué se me fue?" — what changed per product between a READY
 * inventory and the store's previous READY one.
 */
@Injectable()
export class DiffService {
  constructor(
    private readonly reports: ReportService,
    private readonly sessions: InventorySessionService,
  ) {}

  /**
   * The diff of session `sessionId` (READY, of a store `userId` is a member of) against the
   * previous READY session of the same store — the READY one started (created) last before it
   * — using both reports' effective (corrected) quantities and their evidence frames (signed
   * URLs that expire). With no previous READY session the answer is still 200:
   * `previousSessionId: null` and every line APPEARED.
   *
   * @returns {@link InventoryDiffView}: `{ sessionId, readyAt, previousSessionId, previousReadyAt, lines, totals }`.
   * @throws NOT_FOUND (404) unknown session or a store the caller is not a member of;
   *   REPORT_NOT_READY (409) the session is not READY.
   */
  async diff(userId: string, sessionId: string): Promise<InventoryDiffView> {
    const { report } = await this.reports.build(userId, sessionId);
    const earlier = await this.sessions.list(userId, report.store.id, { state: 'READY', cursor: sessionId, limit: 1 });
    const previousSession = earlier.items[0] ?? null;
    const previous = previousSession ? (await this.reports.build(userId, previousSession.id)).report : null;
    const { lines, totals } = diffLines(previous?.lines ?? null, report.lines);
    return {
      sessionId: report.session.id,
      readyAt: report.session.readyAt?.toISOString() ?? null,
      previousSessionId: previousSession?.id ?? null,
      previousReadyAt: previousSession?.readyAt ?? null,
      lines,
      totals,
    };
  }
}
