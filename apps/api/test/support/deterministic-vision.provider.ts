/**
 * A vision provider for tests only (issue 6 "Fusion across frames": "a deterministic provider used
 * only by tests that returns detections derived from known ground truth and known camera
 * motion"). A scene lists the physical items on a shelf (shelf pixels) and one camera pose per
 * frame; the provider reports, for each frame, every item whose box lies wholly inside the view,
 * mapped to frame pixels, as a real decoder or model would. Misreads, missed detections and a
 * small deterministic position jitter can be injected. No randomness: the same scene always gives
 * the same detections.
 */
import type {
  Box,
  DetectionResult,
  FrameInput,
  ProductCandidate,
  ProviderCost,
  VisionProvider,
} from '../../src/modules/vision/vision-provider.port.js';

/** One physical unit on the test shelf. */
export interface ShelfItem {
  /** Unique id of the unit (two units of one product have two ids). */
  id: string;
  /** Digits as the decoder reads them (barcode scenes), or null. */
  barcode?: string | null;
  barcodeFormat?: string | null;
  /** Product name (vision scenes). */
  name?: string | null;
  brand?: string | null;
  /** Where the unit is on the shelf, shelf pixels. */
  box: Box;
  /** Reported without a box, as a count per name and frame (a provider that only counts this product). */
  countOnly?: boolean;
}

/**
 * Camera pose: the frame shows the shelf from (x, y) (shelf pixels, top-left corner of the
 * view) at `scale` frame pixels per shelf pixel (default 1; 1.25 = zoomed in by 25 %).
 */
export interface CameraPose {
  x: number;
  y: number;
  scale?: number;
}

export interface DeterministicScene {
  frameWidth: number;
  frameHeight: number;
  items: ShelfItem[];
  /** One pose per frame, in order. */
  poses: CameraPose[];
  /** Time between frames, ms (default 500, i.e. 2 frames/s). */
  intervalMs?: number;
  /**
   * `boxes` (default): one candidate per visible unit with its box. `counts`: boxes left out and
   * one candidate per product name with the number of its visible units (count-only providers).
   */
  output?: 'boxes' | 'counts';
  /** Replace what is read for one unit in one frame (a decoder misread or another wording). */
  misreads?: Array<{ frame: number; itemId: string; barcode?: string; name?: string }>;
  /** Units not detected in a frame although visible. */
  dropouts?: Array<{ frame: number; itemId: string }>;
  /** Largest deterministic position error added to each box, frame pixels (default 0). */
  jitterPx?: number;
  /** Confidence of each candidate (default 0.9), or per unit id. */
  confidence?: number | Record<string, number>;
}

/** The FrameInputs of a scene (paths are not read by this provider). */
export function sceneFrames(scene: DeterministicScene): FrameInput[] {
  const interval = scene.intervalMs ?? 500;
  return scene.poses.map((_, index) => ({
    frameId: `frame-${index}`,
    index,
    timestampMs: index * interval,
    path: `/nonexistent/frame-${index}.jpg`,
    width: scene.frameWidth,
    height: scene.frameHeight,
  }));
}

/** Where a unit appears in a frame, or null when it is not wholly inside the view. */
export function itemInFrame(scene: DeterministicScene, item: ShelfItem, pose: CameraPose): Box | null {
  const s = pose.scale ?? 1;
  const box = { x: (item.box.x - pose.x) * s, y: (item.box.y - pose.y) * s, w: item.box.w * s, h: item.box.h * s };
  const inside = box.x >= 0 && box.y >= 0 && box.x + box.w <= scene.frameWidth && box.y + box.h <= scene.frameHeight;
  return inside ? box : null;
}

/** Frames (indices) in which each unit is visible, by unit id. */
export function visibility(scene: DeterministicScene): Map<string, number[]> {
  const seen = new Map<string, number[]>(scene.items.map((item) => [item.id, []]));
  scene.poses.forEach((pose, frame) => {
    for (const item of scene.items) if (itemInFrame(scene, item, pose)) seen.get(item.id)!.push(frame);
  });
  return seen;
}

/** Deterministic jitter in [-amplitude, amplitude] from integers (a hash, not a random source). */
function jitter(amplitude: number, ...parts: number[]): number {
  if (amplitude === 0) return 0;
  let h = 2166136261;
  for (const p of parts) h = Math.imul(h ^ (p & 0xffff), 16777619) ^ (p >>> 16);
  return (((h >>> 0) % 2001) / 1000 - 1) * amplitude;
}

/** The test provider. */
export class DeterministicVisionProvider implements VisionProvider {
  private units = 0;

  constructor(private readonly scene: DeterministicScene) {}

  detectProducts(frames: readonly FrameInput[]): Promise<DetectionResult[]> {
    this.units = frames.length;
    return Promise.resolve(frames.map((frame) => this.detect(frame)));
  }

  getCost(): ProviderCost {
    return {
      provider: 'deterministic',
      model: null,
      units: this.units,
      inputTokens: 0,
      outputTokens: 0,
      costUsdMicros: 0,
      attempts: 1,
    };
  }

  getProvider(): string {
    return 'deterministic';
  }

  getModel(): string | null {
    return null;
  }

  private detect(frame: FrameInput): DetectionResult {
    const scene = this.scene;
    const pose = scene.poses[frame.index];
    if (!pose) throw new Error(`no camera pose for frame ${frame.index}`);
    const candidates: ProductCandidate[] = [];
    const counted: ProductCandidate[] = [];
    scene.items.forEach((item, n) => {
      const box = itemInFrame(scene, item, pose);
      if (!box) return;
      if (scene.dropouts?.some((d) => d.frame === frame.index && d.itemId === item.id)) return;
      const misread = scene.misreads?.find((m) => m.frame === frame.index && m.itemId === item.id);
      const amplitude = scene.jitterPx ?? 0;
      const confidence = typeof scene.confidence === 'number' ? scene.confidence : (scene.confidence?.[item.id] ?? 0.9);
      (item.countOnly ? counted : candidates).push({
        name: misread?.name ?? item.name ?? null,
        brand: item.brand ?? null,
        barcode: misread?.barcode ?? item.barcode ?? null,
        barcodeFormat: item.barcodeFormat ?? null,
        category: null,
        count: 1,
        box: {
          x: box.x + jitter(amplitude, frame.index, n, 1),
          y: box.y + jitter(amplitude, frame.index, n, 2),
          w: box.w,
          h: box.h,
        },
        confidence,
      });
    });
    return {
      frameId: frame.frameId,
      index: frame.index,
      timestampMs: frame.timestampMs,
      width: scene.frameWidth,
      height: scene.frameHeight,
      candidates:
        scene.output === 'counts' ? toCounts([...candidates, ...counted]) : [...candidates, ...toCounts(counted)],
    };
  }
}

/** Count-only output: one candidate per name (or barcode) with the number of units, no box. */
function toCounts(candidates: ProductCandidate[]): ProductCandidate[] {
  const byKey = new Map<string, ProductCandidate>();
  for (const c of candidates) {
    const key = c.name ?? c.barcode ?? '';
    const current = byKey.get(key);
    if (current) current.count += 1;
    else byKey.set(key, { ...c, count: 1, box: null });
  }
  return [...byKey.values()];
}
