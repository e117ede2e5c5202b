/**
 * Camera motion between video frames, as used by fusion (`fusion.ts`, issue 6 "Fusion across
 * frames"). Pure functions, no I/O.
 *
 * A frame is placed on the shelf by a similarity without rotation: `shelf = s · frame + t`
 * (pixels). The shelf coordinate space is the one of the first frame that had detections
 * (s = 1, t = 0 there); `s` grows when the camera moves closer (things look bigger, so one frame
 * pixel covers less shelf), `t` moves with the pan. Roll is not modelled: a phone held at a
 * steady angle only translates the content between two frames, and the small roll changes of a
 * hand-held pan shift a point at the frame edge by a few pixels, well inside the matching
 * tolerance.
 */

/** Frame → shelf mapping `shelf = s · frame + t`. */
export interface FrameTransform {
  s: number;
  tx: number;
  ty: number;
}

export interface Point {
  x: number;
  y: number;
}

export const IDENTITY: FrameTransform = { s: 1, tx: 0, ty: 0 };

/** Maps a frame point to the shelf. */
export function toShelf(transform: FrameTransform, p: Point): Point {
  return { x: transform.s * p.x + transform.tx, y: transform.s * p.y + transform.ty };
}

/** One correspondence: a point seen in the frame and where it is on the shelf. */
export interface PointPair {
  frame: Point;
  shelf: Point;
  /** Size of the object in the frame and on the shelf (same measure), for a scale estimate. */
  frameSize: number;
  shelfSize: number;
}

/** Limits of {@link fitSimilarity}. */
export interface FitBounds {
  /** Scale of the previous frame; the estimate stays within [prior / maxChange, prior · maxChange]. */
  priorScale: number;
  maxChange: number;
  /** Below this root-mean-square spread of the frame points (pixels) the scale comes from object sizes. */
  minSpreadPx: number;
}

/**
 * Least-squares similarity (scale + translation) from correspondences.
 *
 * With two or more pairs spread over at least `minSpreadPx` frame pixels (root-mean-square
 * distance from their centroid) the scale is s = Σ(f−f̄)·(p−p̄) / Σ|f−f̄|², kept at the prior when
 * within 3 % of it (so position noise does not make the scale drift frame after frame).
 * Otherwise it is the median ratio of object sizes (shelfSize / frameSize), kept at the prior when
 * within 10 % (sizes of a code's box vary more than positions). Either way it is clamped to the
 * bounds, then t = p̄ − s·f̄ (the centroids match exactly).
 *
 * @returns null for no pairs.
 */
export function fitSimilarity(pairs: readonly PointPair[], bounds: FitBounds): FrameTransform | null {
  if (pairs.length === 0) return null;
  const n = pairs.length;
  let fx = 0;
  let fy = 0;
  let px = 0;
  let py = 0;
  for (const pair of pairs) {
    fx += pair.frame.x;
    fy += pair.frame.y;
    px += pair.shelf.x;
    py += pair.shelf.y;
  }
  fx /= n;
  fy /= n;
  px /= n;
  py /= n;
  let cross = 0;
  let spread = 0;
  for (const pair of pairs) {
    const dx = pair.frame.x - fx;
    const dy = pair.frame.y - fy;
    cross += dx * (pair.shelf.x - px) + dy * (pair.shelf.y - py);
    spread += dx * dx + dy * dy;
  }
  const prior = bounds.priorScale;
  let s = prior;
  if (n >= 2 && Math.sqrt(spread / n) >= bounds.minSpreadPx) {
    const estimate = cross / spread;
    if (Number.isFinite(estimate) && Math.abs(estimate / prior - 1) > 0.03) s = estimate;
  } else {
    const ratios = pairs.filter((p) => p.frameSize > 0 && p.shelfSize > 0).map((p) => p.shelfSize / p.frameSize);
    const estimate = ratios.length > 0 ? median(ratios) : prior;
    if (Number.isFinite(estimate) && Math.abs(estimate / prior - 1) > 0.1) s = estimate;
  }
  s = Math.min(prior * bounds.maxChange, Math.max(prior / bounds.maxChange, s));
  return { s, tx: px - s * fx, ty: py - s * fy };
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
