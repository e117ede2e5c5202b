/**
 * Fusion across frames (issue 6 "Fusion across frames (the heart of multi-frame)"; DESIGN.md
 * "Video pipeline": "fuse detections across frames"). Pure and deterministic: the same
 * detections always give the same lines. No I/O.
 *
 * A video pans along the shelf, so one physical item appears in several consecutive frames;
 * fusion counts each physical item once.
 *
 * **Shelf space and camera motion.** Frames are taken in order (`index`, then `timestampMs`). The
 * first frame with a located detection defines the shelf coordinate space (its pixels). Each later
 * frame gets a transform `shelf = s · frame + t` (`motion.ts`) estimated from the detections it
 * shares with the items already tracked: every pair (detection, tracked item with the same key)
 * votes for a translation; the 24 best-supported votes and the constant-velocity prediction (last
 * transform + last velocity × elapsed time) are each centred on their own matches and scored as
 * "detections landing on a tracked item of the same key" (1 at the item's centre, ½ at the edge of
 * the tolerance) minus a penalty for departing from the prediction (d = departure ÷ typical
 * detection size: d², at most 3, while the camera is followed frame after frame; d, at most 1.5,
 * after a frame without an anchor). The winner is refined by least squares (scale from the
 * spread of the matched points, or from their sizes, kept unless it changes by more than 3 % or
 * 10 %), matched again and refined once more. The penalty settles the ambiguity of identical
 * units in a row (a shift by one facing matches as many units as the true one) in favour of
 * smooth motion, and keeps a run of products that repeats further along the shelf from pulling
 * the camera there; the lower cap lets two re-seen items relocate the camera after a gap or a
 * sharp turn. A frame with no located detection, or none that lands on a tracked item, keeps the
 * prediction: frames without codes are bridged by constant-velocity propagation. Exact counts
 * need overlapping frames: measured, up to about half a facing of camera travel per frame
 * (property test) and on the evaluation videos at 2–6 frames/s (eval/README.md).
 *
 * **Tracks.** Each detection, mapped to the shelf, joins the tracked item of the same key at that
 * place (one detection per item per frame, nearest first; see `boxDistance` for "same place"),
 * or starts a new item. An item that leaves the view and comes back lands on its own shelf
 * position and continues its track; a second unit with the same code sits one facing away and is
 * a second item; two identical codes in one frame are two items. In barcode mode a read of
 * another key over the same bars in the same frame (a misread on few scan lines, often on the
 * printed digits) is a vote of the better read, not a unit. After the last frame, items at the
 * same shelf place that never appear in the same frame are merged (a lone misread in a frame
 * with nothing else to anchor the camera, a differently worded name, a broken track).
 *
 * **Keys and votes.** Barcodes are compared as GTIN-14 (`gtin.ts`): a UPC-A read as 12 digits,
 * the same code read as EAN-13 with a leading 0, and its UPC-E form are one key. In vision mode a
 * candidate without a valid barcode is keyed by its normalised name (lower case, accents and
 * punctuation removed, spaces collapsed). Each tracked item takes the key with the largest sum of
 * confidences among its detections, so one misread in one frame does not become a product line
 * when the other frames read the item differently.
 *
 * **Quantity.** Barcode mode: one unit per tracked item. Vision mode with boxes: a box with
 * `count` n is a group of n units; its quantity is the median count of the views where the box
 * is not cut by the frame edge (the largest count when every view cuts it). Vision mode without
 * boxes (count-only rule, for keys that never came with a box): each frame sees a shelf interval
 * (its view mapped through its transform, along the axis the camera moved most, trimmed by 5 %
 * at both ends); frames whose intervals do not overlap see different units, frames that overlap
 * may see the same ones. The quantity is the largest sum of counts over frames with pairwise
 * disjoint intervals (weighted interval scheduling, O(n log n)). Without any motion estimate
 * (no located detection in the whole video) every view is the same and this is the largest count
 * seen in one frame.
 *
 * **Confidence.** Per unit: agreement × support, where agreement = confidence sum of the winning
 * key ÷ confidence sum of all its detections and support = 1 − Π(1 − cᵢ) over the winning
 * detections (independent sightings). A line's confidence is its least confident unit (the
 * quantity is only as sure as its weakest unit); a count-only line has the mean confidence of the
 * counts it adds, × 0.75 when no motion was known. `needsReview` = confidence < `reviewThreshold`
 * (REVIEW_CONFIDENCE_THRESHOLD).
 *
 * **Evidence.** A line's evidence is the frame that shows most of its units (then the highest
 * confidence sum, then the units closest to the frame centre, then the earliest), with the union
 * of their boxes and each box; each unit also keeps its own best view.
 *
 * Cost: O(F·(D·K + H·D·K)) for F frames, D detections per frame, K tracked items per key and
 * H ≤ 25 hypotheses per frame; the final merge sorts the T items by position (O(T log T) plus
 * the pairs within one item size); the count-only rule sorts once.
 */
import { toGtin14 } from './gtin.js';
import { fitSimilarity, IDENTITY, median, toShelf, type FrameTransform, type Point } from './motion.js';
import type { Box, DetectionResult, ProductCandidate } from './vision-provider.port.js';

/** `barcode`: candidates are barcode reads; `vision`: products by barcode or name, boxes or counts. */
export type FusionMode = 'barcode' | 'vision';

/** Options of {@link fuseDetections}. */
export interface FusionOptions {
  mode: FusionMode;
  /** Lines with a confidence (0–1) below this are flagged `needsReview`. */
  reviewThreshold: number;
}

/** Where a line or unit is best seen. */
export interface FusionEvidence {
  frameId: string;
  /** Position of the frame in the sampled sequence. */
  index: number;
  timestampMs: number;
  /** Union of the shown boxes (frame pixels), null for count-only evidence. */
  box: Box | null;
  /** Each box of the line's units in that frame (frame pixels). */
  boxes: Box[];
}

/** One physical unit (or group box) followed across frames. */
export interface FusedInstance {
  /** Frames where it was detected (frame ids, in order). */
  frames: string[];
  /** Mean position and size in shelf coordinates (pixels of the first located frame). */
  shelfBox: Box;
  /** Units in this instance: 1 for a barcode; a group box's count in vision mode. */
  quantity: number;
  /** 0–1, agreement × support (see the module notes). */
  confidence: number;
  /** Detections per key (GTIN-14 or normalised name), the winning key included: the vote. */
  votes: Record<string, number>;
  /** Its sharpest view: the most confident detection (then the most central, then the earliest). */
  evidence: { frameId: string; index: number; timestampMs: number; box: Box };
}

/** One line of the inventory: a product and how many units of it the video shows. */
export interface FusedLine {
  /** GTIN-14 when the product has a barcode, otherwise the normalised name. */
  key: string;
  /** GTIN-14 (zero-padded; show with `displayGtin`), or null for a product known by name only. */
  gtin: string | null;
  /** Most frequent name the provider gave (null for bare barcode reads). */
  name: string | null;
  brand: string | null;
  category: string | null;
  /** Units counted (≥ 1). */
  quantity: number;
  /** 0–1. */
  confidence: number;
  /** confidence < reviewThreshold. */
  needsReview: boolean;
  evidence: FusionEvidence;
  /** Distinct frames in which any unit of the line was detected. */
  framesSeen: number;
  /** `tracked`: units followed across frames (each instance is one unit or group box); `count-only`: the count rule. */
  method: 'tracked' | 'count-only';
  /** The tracked units (empty for `count-only`). */
  instances: FusedInstance[];
}

/**
 * Penalty for departing from the predicted camera position, in matched detections, with d = the
 * departure ÷ the typical detection size. While the camera is followed frame after frame the
 * prediction is good: d² (a Gaussian prior on the change of speed), capped at 3, so only strong
 * evidence moves it far (shelves repeat the same run of products). After a frame or more without
 * an anchor: d, capped at 1.5, so that two re-seen items relocate the camera.
 */
const MAX_MOTION_PENALTY_TRACKING = 3;
const MAX_MOTION_PENALTY_LOST = 1.5;
/** Translation hypotheses scored per frame. */
const MAX_HYPOTHESES = 24;
/** Share of the matching tolerance within which two established items are one (see mergeCoincidentTracks). */
const MERGE_TOLERANCE = 0.6;
/** Largest change of scale (zoom) accepted between two consecutive located frames. */
const MAX_SCALE_CHANGE = 1.3;

interface Observation {
  frame: number;
  key: string;
  gtin: string | null;
  name: string | null;
  brand: string | null;
  category: string | null;
  box: Box | null;
  center: Point;
  /** Longer side of the box, frame pixels (0 without a box). */
  size: number;
  count: number;
  confidence: number;
  /** The box touches the frame edge (the unit may be partly outside the view). */
  cut: boolean;
  /** Other reads of the same code in the same frame (barcode mode): votes, not units. */
  alternates: Observation[];
}

interface Track {
  id: number;
  x: number;
  y: number;
  w: number;
  h: number;
  /** Detections that placed it (one per frame). */
  obs: Observation[];
  /** Every read voting for its key: its detections and their same-frame alternates. */
  reads: Observation[];
  leadKey: string;
  weights: Map<string, number>;
}

interface FrameState {
  result: DetectionResult;
  time: number;
  transform: FrameTransform;
  /** At least one detection of this frame landed on a tracked item (or it defined the shelf space). */
  anchored: boolean;
  obs: Observation[];
}

interface Match {
  obs: Observation;
  track: Track;
  distance: number;
}

/**
 * Fuses per-frame detections into inventory lines (see the module notes for every rule).
 *
 * @param results one {@link DetectionResult} per frame, any order (sorted by index, then time).
 * @param options mode and review threshold (0–1).
 * @returns lines sorted by first appearance in the video, then key.
 * @throws RangeError when `reviewThreshold` is not a number in 0–1.
 */
export function fuseDetections(results: readonly DetectionResult[], options: FusionOptions): FusedLine[] {
  if (!(options.reviewThreshold >= 0 && options.reviewThreshold <= 1)) {
    throw new RangeError(`reviewThreshold must be within 0–1, got ${String(options.reviewThreshold)}`);
  }
  const frames = orderFrames(results).map((result, frame) => ({
    result,
    time: 0,
    transform: IDENTITY,
    anchored: false,
    obs: result.candidates
      .map((candidate) => toObservation(candidate, frame, result, options.mode))
      .filter((o): o is Observation => o !== null),
  }));
  assignTimes(frames);
  for (const state of frames) state.obs = suppressDuplicates(state.obs, options.mode);

  const gaps = frames.slice(1).map((f, i) => f.time - frames[i]!.time);
  const tracker = new Tracker(options.mode, gaps.length > 0 ? median(gaps) : 1000);
  for (let i = 0; i < frames.length; i += 1) tracker.place(frames, i);

  const tracks = mergeCoincidentTracks(tracker.tracks, options.mode);
  const lines = [...trackedLines(tracks, frames, options), ...countOnlyLines(frames, tracker, options)];
  return lines
    .sort((a, b) => a.firstIndex - b.firstIndex || a.line.key.localeCompare(b.line.key))
    .map((entry) => entry.line);
}

/** A line and the index of the first frame that shows it (for the order of the report). */
interface OrderedLine {
  line: FusedLine;
  firstIndex: number;
}

function orderFrames(results: readonly DetectionResult[]): DetectionResult[] {
  return [...results].sort((a, b) => a.index - b.index || a.timestampMs - b.timestampMs);
}

/** Milliseconds along the video; when timestamps do not increase, the frame index (1 s apart) stands in. */
function assignTimes(frames: FrameState[]): void {
  const increasing = frames.every((f, i) => i === 0 || f.result.timestampMs > frames[i - 1]!.result.timestampMs);
  frames.forEach((f, i) => {
    f.time = increasing ? f.result.timestampMs : i * 1000;
  });
}

/** Normalised product-name key: lower case, no accents or punctuation, single spaces. */
export function nameKey(name: string): string {
  return name
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

function toObservation(
  candidate: ProductCandidate,
  frame: number,
  result: DetectionResult,
  mode: FusionMode,
): Observation | null {
  const gtin = candidate.barcode ? toGtin14(candidate.barcode, candidate.barcodeFormat) : null;
  let key: string | null = gtin;
  if (!key && mode === 'vision' && candidate.name) key = nameKey(candidate.name) || null;
  if (!key) return null;
  const count = Number.isFinite(candidate.count) ? Math.round(candidate.count) : 1;
  if (count < 1) return null;
  const confidence = Number.isFinite(candidate.confidence) ? Math.min(1, Math.max(0, candidate.confidence)) : 0;
  const box = validBox(candidate.box);
  const edge = 2;
  return {
    frame,
    key,
    gtin,
    name: candidate.name?.trim() || null,
    brand: candidate.brand?.trim() || null,
    category: candidate.category?.trim() || null,
    box,
    center: box ? { x: box.x + box.w / 2, y: box.y + box.h / 2 } : { x: 0, y: 0 },
    size: box ? Math.max(box.w, box.h) : 0,
    count: mode === 'barcode' ? 1 : count,
    confidence,
    cut:
      box !== null &&
      (box.x <= edge || box.y <= edge || box.x + box.w >= result.width - edge || box.y + box.h >= result.height - edge),
    alternates: [],
  };
}

function validBox(box: Box | null | undefined): Box | null {
  if (!box) return null;
  const { x, y, w, h } = box;
  if (![x, y, w, h].every(Number.isFinite) || w <= 0 || h <= 0) return null;
  return { x, y, w, h };
}

/**
 * Duplicates within one frame. Same key and boxes overlapping by IoU > 0.5: one detection (the
 * most confident). Barcode mode also: a read of another key covering at least half of the
 * smaller box is a misread of the same bars (two codes cannot overlap), kept as a vote of the
 * more confident read rather than as a unit.
 */
function suppressDuplicates(obs: Observation[], mode: FusionMode): Observation[] {
  const sorted = [...obs].sort(
    (a, b) =>
      b.confidence - a.confidence || a.center.x - b.center.x || a.center.y - b.center.y || a.key.localeCompare(b.key),
  );
  const kept: Observation[] = [];
  for (const o of sorted) {
    if (o.box && kept.some((k) => k.key === o.key && k.box && iou(k.box, o.box!) > 0.5)) continue;
    const host =
      mode === 'barcode' && o.box
        ? kept.find((k) => k.key !== o.key && k.box && overlapShare(k.box, o.box!) >= 0.5)
        : undefined;
    if (host) {
      host.alternates.push(o);
      continue;
    }
    kept.push(o);
  }
  return kept;
}

/**
 * Share of the smaller box covered by the other (0–1), both grown by 5 % of the longer side (a
 * misread often lies on the printed digits just below the bars); a line-thin box counts as 1 px.
 */
function overlapShare(a: Box, b: Box): number {
  const m = 0.05 * Math.max(a.w, a.h, b.w, b.h);
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) + 2 * m;
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) + 2 * m;
  if (w <= 0 || h <= 0) return 0;
  const area = (box: Box) => (Math.max(box.w, 1) + 2 * m) * (Math.max(box.h, 1) + 2 * m);
  return Math.min(1, (w * h) / Math.min(area(a), area(b)));
}

function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/** Places frames on the shelf one after another and follows the items. */
class Tracker {
  readonly tracks: Track[] = [];
  private readonly byKey = new Map<string, Track[]>();
  private started = false;
  private lastPlaced = -1;
  private lastAnchored = -1;
  private velocity = { x: 0, y: 0 };
  /** At least one frame's motion was measured from re-seen items. */
  motionKnown = false;

  constructor(
    private readonly mode: FusionMode,
    /** Typical time between two frames, ms. */
    private readonly interval: number,
  ) {}

  place(frames: FrameState[], i: number): void {
    const state = frames[i]!;
    const located = state.obs.filter((o) => o.box !== null);
    if (!this.started) {
      if (located.length === 0) return;
      this.started = true;
      state.transform = IDENTITY;
      state.anchored = true;
      for (const o of located) this.addTrack(o, state.transform);
      this.lastPlaced = i;
      this.lastAnchored = i;
      return;
    }
    const predicted = this.predict(frames, i);
    state.transform = predicted;
    this.lastPlaced = i;
    if (located.length === 0) return;

    const typical = median(located.map((o) => o.size));
    const previous = frames[this.lastAnchored]!;
    const tracking = i - this.lastAnchored <= 1 || state.time - previous.time <= 1.5 * this.interval;
    let best = this.bestHypothesis(located, predicted, typical, tracking);
    let matches = best.matches;
    if (matches.length > 0) {
      for (let round = 0; round < 2; round += 1) {
        const refined = fitSimilarity(
          matches.map((m) => ({
            frame: m.obs.center,
            shelf: { x: m.track.x, y: m.track.y },
            frameSize: m.obs.size,
            shelfSize: Math.max(m.track.w, m.track.h),
          })),
          { priorScale: predicted.s, maxChange: MAX_SCALE_CHANGE, minSpreadPx: typical },
        )!;
        const rematched = this.match(located, refined);
        if (rematched.length < matches.length) break;
        best = { transform: refined, matches: rematched, score: 0 };
        matches = rematched;
      }
    }
    const transform = matches.length > 0 ? best.transform : predicted;
    state.transform = transform;
    state.anchored = matches.length > 0;
    if (state.anchored) {
      const dt = state.time - previous.time;
      if (dt > 0) {
        this.velocity = {
          x: (transform.tx - previous.transform.tx) / dt,
          y: (transform.ty - previous.transform.ty) / dt,
        };
      }
      this.lastAnchored = i;
      this.motionKnown = true;
    }
    this.associate(located, transform, matches);
  }

  /** Last transform moved by the last measured velocity over the elapsed time. */
  private predict(frames: FrameState[], i: number): FrameTransform {
    const last = frames[this.lastPlaced]!;
    const dt = frames[i]!.time - last.time;
    return {
      s: last.transform.s,
      tx: last.transform.tx + this.velocity.x * dt,
      ty: last.transform.ty + this.velocity.y * dt,
    };
  }

  /** Votes translations from (detection, same-key item) pairs and keeps the best-scoring one. */
  private bestHypothesis(
    located: Observation[],
    predicted: FrameTransform,
    typical: number,
    tracking: boolean,
  ): { transform: FrameTransform; matches: Match[]; score: number } {
    const shelfSize = Math.max(typical * predicted.s, 1e-6);
    const cell = shelfSize / 4;
    const votes = new Map<string, { x: number; y: number; n: number }>();
    for (const o of located) {
      for (const track of this.byKey.get(o.key) ?? []) {
        const tx = track.x - predicted.s * o.center.x;
        const ty = track.y - predicted.s * o.center.y;
        const id = `${Math.round(tx / cell)},${Math.round(ty / cell)}`;
        const vote = votes.get(id) ?? { x: 0, y: 0, n: 0 };
        vote.x += tx;
        vote.y += ty;
        vote.n += 1;
        votes.set(id, vote);
      }
    }
    const hypotheses: FrameTransform[] = [predicted];
    const ranked = [...votes.entries()].sort(
      ([ida, a], [idb, b]) => b.n - a.n || deviation(a, predicted) - deviation(b, predicted) || ida.localeCompare(idb),
    );
    for (const [, vote] of ranked.slice(0, MAX_HYPOTHESES)) {
      hypotheses.push({ s: predicted.s, tx: vote.x / vote.n, ty: vote.y / vote.n });
    }
    let best = { transform: predicted, matches: [] as Match[], score: -Infinity };
    for (const hypothesis of hypotheses) {
      // Centre each hypothesis on its own matches first, so a sloppy one (the prediction landing
      // between two identical units) is judged where it really points.
      let transform = hypothesis;
      let matches = this.match(located, transform);
      if (matches.length > 0) {
        const dx = matches.reduce((sum, m) => sum + m.track.x - (transform.s * m.obs.center.x + transform.tx), 0);
        const dy = matches.reduce((sum, m) => sum + m.track.y - (transform.s * m.obs.center.y + transform.ty), 0);
        transform = { s: transform.s, tx: transform.tx + dx / matches.length, ty: transform.ty + dy / matches.length };
        matches = this.match(located, transform);
      }
      const departure = Math.hypot(transform.tx - predicted.tx, transform.ty - predicted.ty) / shelfSize;
      const penalty = Math.min(
        tracking ? departure * departure : departure,
        tracking ? MAX_MOTION_PENALTY_TRACKING : MAX_MOTION_PENALTY_LOST,
      );
      // A match counts 1 at the item's centre, 0.5 at the edge of the tolerance.
      const fit = matches.reduce((sum, m) => sum + 1 - m.distance / 2, 0);
      const score = fit - penalty;
      if (score > best.score + 1e-9) best = { transform, matches, score };
    }
    return best;
  }

  /** One-to-one matching of located detections to same-key items under a transform (nearest first). */
  private match(located: Observation[], transform: FrameTransform): Match[] {
    const pairs: Match[] = [];
    for (const o of located) {
      const mapped = mapBox(o, transform);
      for (const track of this.byKey.get(o.key) ?? []) {
        const distance = boxDistance(mapped, track, this.mode);
        if (distance <= 1) pairs.push({ obs: o, track, distance });
      }
    }
    return greedy(pairs);
  }

  /** Matched detections extend their items; the others start new items. */
  private associate(located: Observation[], transform: FrameTransform, matches: Match[]): void {
    const matched = new Set<Observation>();
    for (const m of matches) {
      matched.add(m.obs);
      this.extend(m.track, m.obs, transform);
    }
    for (const o of located) if (!matched.has(o)) this.addTrack(o, transform);
  }

  private addTrack(o: Observation, transform: FrameTransform): void {
    const mapped = mapBox(o, transform);
    const track: Track = {
      id: this.tracks.length,
      x: mapped.x,
      y: mapped.y,
      w: mapped.w,
      h: mapped.h,
      obs: [o],
      reads: [],
      leadKey: o.key,
      weights: new Map(),
    };
    addReads(track, o);
    track.leadKey = leadingKey(track);
    this.tracks.push(track);
    this.index(track);
  }

  private extend(track: Track, o: Observation, transform: FrameTransform): void {
    const mapped = mapBox(o, transform);
    const n = track.obs.length;
    track.x = (track.x * n + mapped.x) / (n + 1);
    track.y = (track.y * n + mapped.y) / (n + 1);
    track.w = (track.w * n + mapped.w) / (n + 1);
    track.h = (track.h * n + mapped.h) / (n + 1);
    track.obs.push(o);
    addReads(track, o);
    const lead = leadingKey(track);
    if (lead !== track.leadKey) {
      this.unindex(track);
      track.leadKey = lead;
      this.index(track);
    }
  }

  private index(track: Track): void {
    const list = this.byKey.get(track.leadKey) ?? [];
    list.push(track);
    this.byKey.set(track.leadKey, list);
  }

  private unindex(track: Track): void {
    const list = this.byKey.get(track.leadKey) ?? [];
    const at = list.indexOf(track);
    if (at >= 0) list.splice(at, 1);
  }
}

/**
 * Two tracked items that sit at the same shelf place and never appear in the same frame are one
 * unit whose track was broken (a lone misread in a frame with nothing else to anchor the camera,
 * or a lost track): they are merged, nearest pairs first, and the key is decided by the merged
 * vote. "Same place" is within {@link MERGE_TOLERANCE} of the matching tolerance, or within
 * the whole tolerance when one of them was seen in a single frame (placed by a predicted camera
 * position, so less precisely); two units of a product sit at least one code length apart, twice
 * the tolerance. Units seen together in one frame are never merged.
 */
function mergeCoincidentTracks(tracks: Track[], mode: FusionMode): Track[] {
  const frameSets = tracks.map((t) => new Set(t.obs.map((o) => o.frame)));
  const pairs: Array<{ a: number; b: number; distance: number }> = [];
  const order = tracks.map((_, i) => i).sort((i, j) => tracks[i]!.x - tracks[j]!.x || i - j);
  for (let p = 0; p < order.length; p += 1) {
    const a = tracks[order[p]!]!;
    for (let q = p + 1; q < order.length; q += 1) {
      const b = tracks[order[q]!]!;
      if (b.x - a.x > Math.max(a.w, a.h, b.w, b.h)) break;
      const distance = boxDistance(b, a, mode) / coincidence(a, b);
      if (distance <= 1) pairs.push({ a: order[p]!, b: order[q]!, distance });
    }
  }
  pairs.sort((x, y) => x.distance - y.distance || x.a - y.a || x.b - y.b);
  const parent = tracks.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (const { a, b } of pairs) {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) continue;
    const [keep, drop] = tracks[ra]!.obs.length >= tracks[rb]!.obs.length ? [ra, rb] : [rb, ra];
    const kept = tracks[keep]!;
    const dropped = tracks[drop]!;
    if ([...frameSets[drop]!].some((f) => frameSets[keep]!.has(f))) continue;
    if (boxDistance(dropped, kept, mode) / coincidence(dropped, kept) > 1) continue;
    const n = kept.obs.length;
    const m = dropped.obs.length;
    kept.x = (kept.x * n + dropped.x * m) / (n + m);
    kept.y = (kept.y * n + dropped.y * m) / (n + m);
    kept.w = (kept.w * n + dropped.w * m) / (n + m);
    kept.h = (kept.h * n + dropped.h * m) / (n + m);
    kept.obs = [...kept.obs, ...dropped.obs].sort((u, v) => u.frame - v.frame);
    kept.reads = [...kept.reads, ...dropped.reads];
    for (const [key, weight] of dropped.weights) kept.weights.set(key, (kept.weights.get(key) ?? 0) + weight);
    kept.leadKey = leadingKey(kept);
    for (const f of frameSets[drop]!) frameSets[keep]!.add(f);
    parent[drop] = keep;
  }
  return tracks.filter((_, i) => find(i) === i);
}

/** Share of the matching tolerance within which two items are at the same place (see mergeCoincidentTracks). */
function coincidence(a: Track, b: Track): number {
  return Math.min(new Set(a.obs.map((o) => o.frame)).size, new Set(b.obs.map((o) => o.frame)).size) <= 1
    ? 1
    : MERGE_TOLERANCE;
}

/** Adds a detection and its same-frame alternates to an item's votes. */
function addReads(track: Track, o: Observation): void {
  for (const read of [o, ...o.alternates]) {
    track.reads.push(read);
    track.weights.set(read.key, (track.weights.get(read.key) ?? 0) + read.confidence);
  }
}

function deviation(vote: { x: number; y: number; n: number }, predicted: FrameTransform): number {
  return Math.hypot(vote.x / vote.n - predicted.tx, vote.y / vote.n - predicted.ty);
}

/** A detection's centre and size on the shelf. */
function mapBox(o: Observation, transform: FrameTransform): { x: number; y: number; w: number; h: number } {
  const c = toShelf(transform, o.center);
  return { x: c.x, y: c.y, w: o.box!.w * transform.s, h: o.box!.h * transform.s };
}

/**
 * How far a mapped detection is from an item, in tolerances: ≤ 1 means "the same place".
 * Barcode mode: half the code's length (the longer box side) on both axes, because a code's box
 * spans only the scan lines that read it (a code turned 90° read on few columns has a box one
 * pixel wide), while two codes of one product can only sit a code length apart along the code, or
 * a product height apart across it. Vision mode: half the larger box extent on each axis (boxes
 * cover the product; touching neighbours are one box apart), and at least 20 % of the longer side.
 */
function boxDistance(mapped: { x: number; y: number; w: number; h: number }, track: Track, mode: FusionMode): number {
  const w = Math.max(mapped.w, track.w);
  const h = Math.max(mapped.h, track.h);
  const longer = Math.max(w, h);
  const tolX = mode === 'barcode' ? longer / 2 : Math.max(w / 2, longer * 0.2);
  const tolY = mode === 'barcode' ? longer / 2 : Math.max(h / 2, longer * 0.2);
  return Math.max(Math.abs(mapped.x - track.x) / tolX, Math.abs(mapped.y - track.y) / tolY);
}

/** Greedy one-to-one assignment, nearest pairs first (ties by item id, then position). */
function greedy(pairs: Match[]): Match[] {
  pairs.sort(
    (a, b) =>
      a.distance - b.distance ||
      a.track.id - b.track.id ||
      a.obs.center.x - b.obs.center.x ||
      a.obs.center.y - b.obs.center.y,
  );
  const obs = new Set<Observation>();
  const tracks = new Set<Track>();
  const chosen: Match[] = [];
  for (const pair of pairs) {
    if (obs.has(pair.obs) || tracks.has(pair.track)) continue;
    obs.add(pair.obs);
    tracks.add(pair.track);
    chosen.push(pair);
  }
  return chosen;
}

/** The key with the largest confidence sum; ties: more detections, then the smaller key. */
function leadingKey(track: Track): string {
  let bestKey = track.leadKey;
  let bestWeight = -1;
  let bestCount = -1;
  for (const [key, weight] of [...track.weights.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const count = track.reads.filter((o) => o.key === key).length;
    if (weight > bestWeight + 1e-9 || (Math.abs(weight - bestWeight) <= 1e-9 && count > bestCount)) {
      bestKey = key;
      bestWeight = weight;
      bestCount = count;
    }
  }
  return bestKey;
}

function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function roundBox(box: Box): Box {
  return { x: round(box.x, 1), y: round(box.y, 1), w: round(box.w, 1), h: round(box.h, 1) };
}

function unionOf(boxes: Box[]): Box | null {
  if (boxes.length === 0) return null;
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  return {
    x,
    y,
    w: Math.max(...boxes.map((b) => b.x + b.w)) - x,
    h: Math.max(...boxes.map((b) => b.y + b.h)) - y,
  };
}

/** Distance of a box centre from the frame centre, as a share of the half-diagonal. */
function offCentre(box: Box, result: DetectionResult): number {
  const dx = box.x + box.w / 2 - result.width / 2;
  const dy = box.y + box.h / 2 - result.height / 2;
  return Math.hypot(dx, dy) / Math.max(1, Math.hypot(result.width, result.height) / 2);
}

/** Most frequent non-null value; ties: the most confident detection's. */
function vote<T extends string>(obs: Observation[], pick: (o: Observation) => T | null): T | null {
  const tally = new Map<T, { n: number; c: number }>();
  for (const o of obs) {
    const value = pick(o);
    if (value === null) continue;
    const t = tally.get(value) ?? { n: 0, c: 0 };
    t.n += 1;
    t.c = Math.max(t.c, o.confidence);
    tally.set(value, t);
  }
  let best: T | null = null;
  let bestT = { n: -1, c: -1 };
  for (const [value, t] of [...tally.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (t.n > bestT.n || (t.n === bestT.n && t.c > bestT.c)) {
      best = value;
      bestT = t;
    }
  }
  return best;
}

function trackedLines(tracks: Track[], frames: FrameState[], options: FusionOptions): OrderedLine[] {
  const byKey = new Map<string, Track[]>();
  for (const track of tracks) {
    const key = leadingKey(track);
    const list = byKey.get(key) ?? [];
    list.push(track);
    byKey.set(key, list);
  }
  const lines: OrderedLine[] = [];
  for (const [key, group] of byKey) {
    const instances = group.map((track) => toInstance(track, key, frames));
    const winning = group.flatMap((t) => t.reads.filter((o) => o.key === key));
    const all = group.flatMap((t) => t.obs);
    const confidence = Math.min(...instances.map((i) => i.confidence));
    const gtin = winning.find((o) => o.gtin)?.gtin ?? null;
    const line: FusedLine = {
      key,
      gtin,
      name: vote(winning, (o) => o.name),
      brand: vote(winning, (o) => o.brand),
      category: vote(winning, (o) => o.category),
      quantity: instances.reduce((sum, i) => sum + i.quantity, 0),
      confidence,
      needsReview: confidence < options.reviewThreshold,
      evidence: lineEvidence(group, frames),
      framesSeen: new Set(all.map((o) => o.frame)).size,
      method: 'tracked',
      instances,
    };
    lines.push({ line, firstIndex: Math.min(...all.map((o) => frames[o.frame]!.result.index)) });
  }
  return lines;
}

function toInstance(track: Track, key: string, frames: FrameState[]): FusedInstance {
  const winning = track.reads.filter((o) => o.key === key);
  const total = track.reads.reduce((sum, o) => sum + o.confidence, 0);
  const winWeight = winning.reduce((sum, o) => sum + o.confidence, 0);
  const agreement = total > 0 ? winWeight / total : winning.length / track.reads.length;
  const support = 1 - winning.reduce((p, o) => p * (1 - o.confidence), 1);
  // Detections that placed the item under the winning key (else any of its detections).
  const placedWinning = track.obs.filter((o) => o.key === key);
  const placed = placedWinning.length > 0 ? placedWinning : track.obs;
  const whole = placed.filter((o) => !o.cut);
  const quantity = Math.max(
    1,
    whole.length > 0 ? Math.round(median(whole.map((o) => o.count))) : Math.max(...placed.map((o) => o.count)),
  );
  const votes: Record<string, number> = {};
  for (const o of [...track.reads].sort((a, b) => a.key.localeCompare(b.key))) votes[o.key] = (votes[o.key] ?? 0) + 1;
  const best = [...placed].sort(
    (a, b) =>
      b.confidence - a.confidence ||
      offCentre(a.box!, frames[a.frame]!.result) - offCentre(b.box!, frames[b.frame]!.result) ||
      a.frame - b.frame,
  )[0]!;
  const bestFrame = frames[best.frame]!.result;
  return {
    frames: [...new Set(track.obs.map((o) => o.frame))].sort((a, b) => a - b).map((f) => frames[f]!.result.frameId),
    shelfBox: roundBox({ x: track.x - track.w / 2, y: track.y - track.h / 2, w: track.w, h: track.h }),
    quantity,
    confidence: round(agreement * support),
    votes,
    evidence: {
      frameId: bestFrame.frameId,
      index: bestFrame.index,
      timestampMs: bestFrame.timestampMs,
      box: best.box!,
    },
  };
}

/** The frame showing most units of the line (then confidence, centrality, earliest). */
function lineEvidence(group: Track[], frames: FrameState[]): FusionEvidence {
  const perFrame = new Map<number, Observation[]>();
  for (const track of group) {
    for (const o of track.obs) {
      const list = perFrame.get(o.frame) ?? [];
      list.push(o);
      perFrame.set(o.frame, list);
    }
  }
  const scored = [...perFrame.entries()].map(([frame, obs]) => {
    const result = frames[frame]!.result;
    const boxes = obs.map((o) => o.box!).sort((a, b) => a.x - b.x || a.y - b.y);
    const union = unionOf(boxes)!;
    return {
      frame,
      result,
      boxes,
      union,
      units: obs.length,
      confidence: obs.reduce((s, o) => s + o.confidence, 0),
      centre: offCentre(union, result),
    };
  });
  scored.sort(
    (a, b) =>
      b.units - a.units || b.confidence - a.confidence || a.centre - b.centre || a.result.index - b.result.index,
  );
  const best = scored[0]!;
  return {
    frameId: best.result.frameId,
    index: best.result.index,
    timestampMs: best.result.timestampMs,
    box: best.union,
    boxes: best.boxes,
  };
}

/** Lines for keys that only ever came as counts without boxes (vision mode), by the count-only rule. */
function countOnlyLines(frames: FrameState[], tracker: Tracker, options: FusionOptions): OrderedLine[] {
  const trackedKeys = new Set(tracker.tracks.map((t) => leadingKey(t)));
  for (const t of tracker.tracks) for (const key of t.weights.keys()) trackedKeys.add(key);
  const byKey = new Map<string, Observation[]>();
  for (const state of frames) {
    for (const o of state.obs) {
      if (o.box !== null || trackedKeys.has(o.key)) continue;
      const list = byKey.get(o.key) ?? [];
      list.push(o);
      byKey.set(o.key, list);
    }
  }
  if (byKey.size === 0) return [];
  const axis = dominantAxis(frames);
  const lines: OrderedLine[] = [];
  for (const [key, obs] of byKey) {
    // One count per frame: the largest the provider gave for this key in that frame.
    const perFrame = new Map<number, Observation>();
    for (const o of obs) {
      const current = perFrame.get(o.frame);
      if (!current || o.count > current.count || (o.count === current.count && o.confidence > current.confidence)) {
        perFrame.set(o.frame, o);
      }
    }
    const intervals = [...perFrame.values()].map((o) => ({ o, ...viewInterval(frames[o.frame]!, axis) }));
    const chosen = maxDisjointSum(intervals);
    const quantity = chosen.reduce((sum, i) => sum + i.o.count, 0);
    const mean = chosen.reduce((sum, i) => sum + i.o.confidence, 0) / chosen.length;
    const confidence = round(tracker.motionKnown ? mean : mean * 0.75);
    const best = [...perFrame.values()].sort(
      (a, b) => b.count - a.count || b.confidence - a.confidence || a.frame - b.frame,
    )[0]!;
    const bestResult = frames[best.frame]!.result;
    const line: FusedLine = {
      key,
      gtin: obs.find((o) => o.gtin)?.gtin ?? null,
      name: vote(obs, (o) => o.name),
      brand: vote(obs, (o) => o.brand),
      category: vote(obs, (o) => o.category),
      quantity,
      confidence,
      needsReview: confidence < options.reviewThreshold,
      evidence: {
        frameId: bestResult.frameId,
        index: bestResult.index,
        timestampMs: bestResult.timestampMs,
        box: null,
        boxes: [],
      },
      framesSeen: perFrame.size,
      method: 'count-only',
      instances: [],
    };
    lines.push({ line, firstIndex: Math.min(...obs.map((o) => frames[o.frame]!.result.index)) });
  }
  return lines;
}

/** The axis (x or y) along which the frames' views moved most. */
function dominantAxis(frames: FrameState[]): 'x' | 'y' {
  const xs = frames.map((f) => f.transform.tx + (f.transform.s * f.result.width) / 2);
  const ys = frames.map((f) => f.transform.ty + (f.transform.s * f.result.height) / 2);
  const range = (v: number[]) => (v.length > 0 ? Math.max(...v) - Math.min(...v) : 0);
  return range(ys) > range(xs) ? 'y' : 'x';
}

/** The shelf interval a frame sees along the axis, trimmed by 5 % at each end. */
function viewInterval(state: FrameState, axis: 'x' | 'y'): { start: number; end: number } {
  const extent = (axis === 'x' ? state.result.width : state.result.height) * state.transform.s;
  const origin = axis === 'x' ? state.transform.tx : state.transform.ty;
  return { start: origin + extent * 0.05, end: origin + extent * 0.95 };
}

/** Weighted interval scheduling: the pairwise-disjoint subset with the largest total count. */
function maxDisjointSum<T extends { start: number; end: number; o: Observation }>(intervals: T[]): T[] {
  const sorted = [...intervals].sort((a, b) => a.end - b.end || a.o.frame - b.o.frame);
  const n = sorted.length;
  const best: number[] = new Array<number>(n + 1).fill(0);
  const take: boolean[] = new Array<boolean>(n + 1).fill(false);
  const previous: number[] = new Array<number>(n + 1).fill(0);
  for (let j = 1; j <= n; j += 1) {
    const current = sorted[j - 1]!;
    // Largest i < j whose interval ends before this one starts (binary search on the sorted ends).
    let lo = 0;
    let hi = j - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sorted[mid - 1]!.end < current.start) lo = mid;
      else hi = mid - 1;
    }
    previous[j] = lo;
    const withIt = current.o.count + best[lo]!;
    if (withIt > best[j - 1]!) {
      best[j] = withIt;
      take[j] = true;
    } else {
      best[j] = best[j - 1]!;
    }
  }
  const chosen: T[] = [];
  for (let j = n; j > 0;) {
    if (take[j]) {
      chosen.push(sorted[j - 1]!);
      j = previous[j]!;
    } else {
      j -= 1;
    }
  }
  return chosen.reverse();
}
