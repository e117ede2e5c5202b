import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuseDetections, nameKey, type FusedLine } from '../../src/modules/vision/fusion.js';
import { gs1CheckDigit, toGtin14 } from '../../src/modules/vision/gtin.js';
import type { DetectionResult } from '../../src/modules/vision/vision-provider.port.js';
import {
  DeterministicVisionProvider,
  sceneFrames,
  visibility,
  type CameraPose,
  type DeterministicScene,
  type ShelfItem,
} from '../support/deterministic-vision.provider.js';

// Real GTINs from the fixture set (apps/api/test/fixtures/barcodes/expected.json).
const A = '8413000065504';
const B = '5449000039231';
const C = '8480010092271';
const D = '7622200008018';
const E = '3166298099809';
const F = '8410054010412';
const G = '4000539017100';
const H = '8480000823274';
const CODES = [A, B, C, D, E, F, G, H];

const W = 1280;
const HEIGHT = 720;

/** A row of codes on the shelf: boxes of 240×150 shelf px, `pitch` apart, starting at `x0`. */
function row(codes: string[], options: { x0?: number; pitch?: number; y?: number; prefix?: string } = {}): ShelfItem[] {
  const { x0 = 100, pitch = 330, y = 280, prefix = 'u' } = options;
  return codes.map((barcode, i) => ({
    id: `${prefix}${i}`,
    barcode,
    barcodeFormat: barcode.length === 8 ? 'EAN-8' : 'EAN-13',
    box: { x: x0 + i * pitch, y, w: 240, h: 150 },
  }));
}

/** Poses from x positions (y, scale optional per pose). */
function poses(xs: number[], y: number | number[] = 0, scale: number | number[] = 1): CameraPose[] {
  return xs.map((x, i) => ({
    x,
    y: Array.isArray(y) ? y[i]! : y,
    scale: Array.isArray(scale) ? scale[i]! : scale,
  }));
}

async function detect(scene: DeterministicScene): Promise<DetectionResult[]> {
  return new DeterministicVisionProvider(scene).detectProducts(sceneFrames(scene));
}

async function fuse(scene: DeterministicScene, mode: 'barcode' | 'vision' = 'barcode', reviewThreshold = 0.6) {
  return fuseDetections(await detect(scene), { mode, reviewThreshold });
}

/** Expected quantity per key from the scene's ground truth (units visible at least once). */
function truth(scene: DeterministicScene): Record<string, number> {
  const seen = visibility(scene);
  const counts: Record<string, number> = {};
  for (const item of scene.items) {
    if (seen.get(item.id)!.length === 0) continue;
    const key = item.barcode ? toGtin14(item.barcode, item.barcodeFormat)! : nameKey(item.name!);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function quantities(lines: FusedLine[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) counts[line.key] = (counts[line.key] ?? 0) + line.quantity;
  return counts;
}

const gtin = (code: string) => toGtin14(code)!;

/**
 * Camera x positions of a pan from `from` to `to` that speeds up from rest over three frames,
 * cruises at `speed` px per frame and slows down over three frames (a hand-held pan).
 */
function smoothPan(from: number, to: number, speed: number): number[] {
  const distance = Math.abs(to - from);
  const sign = Math.sign(to - from) || 1;
  const ramp = [1 / 4, 1 / 2, 3 / 4].map((f) => f * speed);
  const steps: number[] = [];
  let covered = 0;
  while (covered < distance) {
    const remaining = distance - covered;
    const slowing = ramp.findLast((r) => r * 2 <= remaining) ?? ramp[0]!;
    const step = Math.min(
      steps.length < 3 ? ramp[steps.length]! : speed,
      remaining < speed * 2 ? slowing : speed,
      remaining,
    );
    steps.push(step);
    covered += step;
  }
  const xs = [from];
  for (const step of steps) xs.push(xs.at(-1)! + sign * step);
  return xs;
}

/** A different code with a valid check digit: what a misread that passes the check looks like. */
function validMisread(code: string): string {
  const body = `${code.slice(0, 5)}${(Number(code[5]) + 3) % 10}${code.slice(6, -1)}`;
  return `${body}${gs1CheckDigit(body)}`;
}

describe('fusion across frames, barcode mode', () => {
  it('counts units seen in 1, 2 and 5 frames exactly once', async () => {
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: [...row(CODES.slice(0, 6)), { id: 'late', barcode: G, box: { x: 2500, y: 500, w: 240, h: 150 } }],
      poses: poses([0, 200, 400, 600, 800, 1000, 1200, 1400, 1600]),
    };
    const seen = visibility(scene);
    // The layout gives units seen in exactly 1, 2 (3 minus one missed read) and 5 frames.
    expect(seen.get('u0')).toEqual([0]);
    expect(seen.get('late')).toEqual([8]);
    expect(seen.get('u1')).toEqual([0, 1, 2]);
    expect(seen.get('u5')).toEqual([4, 5, 6, 7, 8]);
    const dropped: DeterministicScene = { ...scene, dropouts: [{ frame: 2, itemId: 'u1' }] };
    const lines = await fuse(dropped);
    expect(quantities(lines)).toEqual(truth(scene));
    const byKey = new Map(lines.map((l) => [l.key, l]));
    expect(byKey.get(gtin(A))!.framesSeen).toBe(1);
    expect(byKey.get(gtin(G))!.framesSeen).toBe(1);
    expect(byKey.get(gtin(B))!.framesSeen).toBe(2);
    expect(byKey.get(gtin(F))!.framesSeen).toBe(5);
    expect(lines.every((l) => l.quantity === 1 && l.instances.length === 1 && l.method === 'tracked')).toBe(true);
  });

  it('counts two identical products side by side as two, across frames and in one frame', async () => {
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: row([A, B, C, C, D, E]),
      poses: poses([0, 120, 240, 360, 480, 600, 720]),
      jitterPx: 4,
    };
    const detections = await detect(scene);
    // Both units of C are in one frame: two candidates with distinct boxes.
    const both = detections.find((d) => d.candidates.filter((c) => c.barcode === C).length === 2);
    expect(both).toBeDefined();
    const lines = fuseDetections(detections, { mode: 'barcode', reviewThreshold: 0.6 });
    expect(quantities(lines)).toEqual(truth(scene));
    const c = lines.find((l) => l.key === gtin(C))!;
    expect(c.quantity).toBe(2);
    expect(c.instances).toHaveLength(2);
    // Evidence: a frame showing both units, with both boxes.
    expect(c.evidence.boxes).toHaveLength(2);
    expect(both!.frameId).toBeTruthy();
    expect(c.evidence.box!.w).toBeGreaterThan(c.evidence.boxes[0]!.w + c.evidence.boxes[1]!.w - 1);
  });

  it('does not merge a row of identical units when the pan speeds up to 0.6 facings per frame', async () => {
    // Only one product in view: every frame shift is ambiguous by one facing (400 px); the
    // constant-velocity prior keeps the count exact while the camera accelerates from rest.
    const steps = [0, 40, 100, 180, 260, 240, 240, 240, 240, 240, 200, 120, 60];
    const xs = steps.reduce<number[]>((acc, step) => [...acc, (acc.at(-1) ?? 0) + step], []).slice(1);
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: row(Array<string>(8).fill(A), { pitch: 400 }),
      poses: poses([0, ...xs]),
    };
    const lines = await fuse(scene);
    expect(quantities(lines)).toEqual({ [gtin(A)]: 8 });
  });

  it('keeps one track for a unit that leaves the view and comes back, and counts a new unit at a new place', async () => {
    const xs = [0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1400, 1200, 1000, 800, 600, 400, 200, 0, -100];
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      // A at the start, and a second A far to the right (a genuinely different unit).
      items: [...row([A, B, C, D, E, F, G]), { id: 'a2', barcode: A, box: { x: 2500, y: 280, w: 240, h: 150 } }],
      poses: poses(xs),
      jitterPx: 3,
    };
    const seen = visibility(scene);
    expect(seen.get('u0')).toEqual([0, 16, 17]); // leaves after frame 0, re-enters at frame 16
    expect(seen.get('a2')!.length).toBeGreaterThan(0);
    const lines = await fuse(scene);
    expect(quantities(lines)).toEqual(truth(scene));
    const a = lines.find((l) => l.key === gtin(A))!;
    expect(a.quantity).toBe(2);
    expect(a.instances.map((i) => i.frames)).toContainEqual(['frame-0', 'frame-16', 'frame-17']);
  });

  it('bridges frames without any code by constant velocity', async () => {
    const xs = [0, 160, 320, 480, 640, 800, 960, 1120, 1280, 1440];
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: row([A, B, C, C, D, E, F, G]),
      poses: poses(xs),
      // Frames 4–6 are blurred: nothing is read in them.
      dropouts: [4, 5, 6].flatMap((frame) => row(Array<string>(8).fill(A)).map((item) => ({ frame, itemId: item.id }))),
    };
    const lines = await fuse(scene);
    expect(quantities(lines)).toEqual(truth(scene));
  });

  it('follows zoom and vertical drift', async () => {
    const xs = [0, 100, 200, 300, 420, 540, 660, 780, 900, 1000];
    const ys = [0, 20, 40, 50, 40, 20, 0, -20, -30, -20];
    const scales = [1, 1.03, 1.07, 1.1, 1.14, 1.18, 1.2, 1.17, 1.12, 1.08];
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: row([A, B, C, C, D, E, F, G]),
      poses: poses(xs, ys, scales),
      jitterPx: 3,
    };
    const lines = await fuse(scene);
    expect(quantities(lines)).toEqual(truth(scene));
  });

  it('votes per tracked unit: a check-digit-valid misread in one frame does not become a line', async () => {
    const wrong = validMisread(B);
    expect(toGtin14(wrong)).not.toBeNull();
    expect(wrong).not.toBe(B);
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: row([A, B, C, D, E]),
      poses: poses([0, 80, 160, 240, 320, 400]),
      // Misread in the middle of the track, and (for C) in the first frame that shows it.
      misreads: [
        { frame: 2, itemId: 'u1', barcode: wrong },
        { frame: 0, itemId: 'u2', barcode: validMisread(C) },
      ],
    };
    const lines = await fuse(scene);
    expect(quantities(lines)).toEqual(truth(scene));
    expect(lines.some((l) => l.key === gtin(wrong) || l.key === gtin(validMisread(C)))).toBe(false);
    const b = lines.find((l) => l.key === gtin(B))!;
    expect(b.instances[0]!.votes).toEqual({ [gtin(B)]: 5, [gtin(wrong)]: 1 });
    // Agreement 5/6 lowers the confidence below that of a unanimous unit.
    const a = lines.find((l) => l.key === gtin(A))!;
    expect(b.confidence).toBeLessThan(a.confidence);
    expect(b.confidence).toBeCloseTo((5 / 6) * (1 - 0.1 ** 5), 3);
  });

  it('keeps a misread over the same bars in the same frame as a vote, not a unit', () => {
    // A decoder read the bars right (many lines) and, on the printed digits just below, a
    // check-digit-valid misread (two lines, a line-thin box): one unit.
    const wrong = validMisread(B);
    const results: DetectionResult[] = [0, 1, 2].map((i) => ({
      frameId: `f${i}`,
      index: i,
      timestampMs: i * 500,
      width: W,
      height: HEIGHT,
      candidates: [
        {
          name: null,
          brand: null,
          barcode: B,
          category: null,
          count: 1,
          box: { x: 600 - i * 100, y: 211, w: 304, h: 185 },
          confidence: 1,
        },
        {
          name: null,
          brand: null,
          barcode: A,
          category: null,
          count: 1,
          box: { x: 200 - i * 100, y: 220, w: 300, h: 180 },
          confidence: 1,
        },
        ...(i === 1
          ? [
              {
                name: null,
                brand: null,
                barcode: wrong,
                category: null,
                count: 1,
                box: { x: 501, y: 397, w: 300, h: 2 },
                confidence: 0.8,
              },
            ]
          : []),
      ],
    }));
    const lines = fuseDetections(results, { mode: 'barcode', reviewThreshold: 0.6 });
    expect(quantities(lines)).toEqual({ [gtin(A)]: 1, [gtin(B)]: 1 });
    expect(lines.find((l) => l.key === gtin(B))!.instances[0]!.votes).toEqual({ [gtin(B)]: 3, [gtin(wrong)]: 1 });
  });

  it('folds a lone misread in a frame with nothing else read into the unit at that place', async () => {
    // Frame 3 reads nothing but a misread of C (no other code to anchor the camera); C is at that
    // shelf place before and after, never in the same frame as the misread.
    const wrong = validMisread(C);
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: row([A, B, C, D, E]),
      poses: poses([0, 60, 120, 180, 240, 300, 360]),
      misreads: [{ frame: 3, itemId: 'u2', barcode: wrong }],
      dropouts: ['u0', 'u1', 'u3', 'u4'].map((itemId) => ({ frame: 3, itemId })),
    };
    const lines = await fuse(scene);
    expect(quantities(lines)).toEqual(truth(scene));
    const c = lines.find((l) => l.key === gtin(C))!;
    expect(c.instances[0]!.votes).toEqual({ [gtin(C)]: 6, [gtin(wrong)]: 1 });
  });

  it('treats a UPC-A read as 12 digits and as a 13-digit EAN with a leading zero as one product', async () => {
    const upc = '036602301467';
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: [
        { id: 'p', barcode: upc, barcodeFormat: 'UPC-A', box: { x: 100, y: 280, w: 240, h: 150 } },
        { id: 'q', barcode: B, box: { x: 430, y: 280, w: 240, h: 150 } },
        // A second unit of the same product, only ever read as EAN-13.
        { id: 'r', barcode: `0${upc}`, barcodeFormat: 'EAN-13', box: { x: 760, y: 280, w: 240, h: 150 } },
      ],
      poses: poses([0, 20, 40, 60]),
      misreads: [
        { frame: 1, itemId: 'p', barcode: `0${upc}` },
        { frame: 3, itemId: 'p', barcode: `0${upc}` },
      ],
    };
    const lines = await fuse(scene);
    expect(lines.map((l) => [l.key, l.gtin, l.quantity])).toEqual([
      ['00036602301467', '00036602301467', 2],
      [gtin(B), gtin(B), 1],
    ]);
    // Both spellings vote for the same key: a unanimous track.
    expect(lines[0]!.instances[0]!.votes).toEqual({ '00036602301467': 4 });
  });

  it('flags lines below the review threshold and keeps the best evidence frame', async () => {
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: row([A, B, C]),
      poses: poses([0, 10]),
      confidence: { u0: 0.3, u1: 0.9, u2: 0.9 },
      dropouts: [{ frame: 1, itemId: 'u0' }],
    };
    const lines = await fuse(scene, 'barcode', 0.6);
    const a = lines.find((l) => l.key === gtin(A))!;
    const b = lines.find((l) => l.key === gtin(B))!;
    expect(a.confidence).toBeCloseTo(0.3, 5);
    expect(a.needsReview).toBe(true);
    expect(b.confidence).toBeCloseTo(0.99, 5);
    expect(b.needsReview).toBe(false);
    expect(a.evidence).toMatchObject({
      frameId: 'frame-0',
      index: 0,
      timestampMs: 0,
      box: { x: 100, y: 280, w: 240, h: 150 },
    });
    expect(a.instances[0]!.evidence.frameId).toBe('frame-0');
  });

  it('ignores reads that are not GTINs and rejects a review threshold outside 0–1', async () => {
    const results: DetectionResult[] = [
      {
        frameId: 'f0',
        index: 0,
        timestampMs: 0,
        width: W,
        height: HEIGHT,
        candidates: [
          {
            name: null,
            brand: null,
            barcode: '8413000065505',
            category: null,
            count: 1,
            box: { x: 0, y: 0, w: 10, h: 10 },
            confidence: 1,
          },
          {
            name: 'Sin código',
            brand: null,
            barcode: null,
            category: null,
            count: 1,
            box: { x: 20, y: 0, w: 10, h: 10 },
            confidence: 1,
          },
        ],
      },
    ];
    expect(fuseDetections(results, { mode: 'barcode', reviewThreshold: 0.6 })).toEqual([]);
    expect(fuseDetections([], { mode: 'barcode', reviewThreshold: 0.6 })).toEqual([]);
    expect(() => fuseDetections(results, { mode: 'barcode', reviewThreshold: 1.5 })).toThrow(RangeError);
    expect(() => fuseDetections(results, { mode: 'barcode', reviewThreshold: Number.NaN })).toThrow(RangeError);
  });

  it('is deterministic whatever the order of the results', async () => {
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: row([A, B, C, C, D, E, F]),
      poses: poses([0, 150, 300, 450, 600, 750]),
      jitterPx: 5,
    };
    const detections = await detect(scene);
    const once = fuseDetections(detections, { mode: 'barcode', reviewThreshold: 0.6 });
    const shuffled = [...detections].reverse().map((d) => ({ ...d, candidates: [...d.candidates].reverse() }));
    expect(fuseDetections(shuffled, { mode: 'barcode', reviewThreshold: 0.6 })).toEqual(once);
  });

  it('counts exactly on random shelves and hand-held pans (property)', async () => {
    // Random rows of real codes (repeats side by side included); a hand-held pan that starts from
    // rest, cruises at 60–140 px per frame (up to half the narrowest facing, 280 px) and may stop
    // and turn back; vertical drift, zoom, position noise, missed reads (15 %) and
    // check-digit-valid misreads (3 %).
    const arbitrary = fc.record({
      codes: fc.array(fc.integer({ min: 0, max: CODES.length - 1 }), { minLength: 4, maxLength: 14 }),
      gaps: fc.array(fc.integer({ min: 0, max: 160 }), { minLength: 14, maxLength: 14 }),
      speed: fc.integer({ min: 60, max: 140 }),
      direction: fc.constantFrom(1, -1),
      turnBack: fc.boolean(),
      drift: fc.integer({ min: -40, max: 40 }),
      zoom: fc.double({ min: 0.9, max: 1.15, noNaN: true }),
      jitter: fc.integer({ min: 0, max: 6 }),
      seed: fc.integer({ min: 1, max: 1_000_000 }),
    });
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ codes, gaps, speed, direction, turnBack, drift, zoom, jitter, seed }) => {
        let x = 100;
        const items: ShelfItem[] = codes.map((c, i) => {
          const item: ShelfItem = { id: `u${i}`, barcode: CODES[c]!, box: { x, y: 280, w: 240, h: 150 } };
          x += 240 + 40 + gaps[i]!;
          return item;
        });
        const end = Math.max(0, x - W / zoom + 40);
        let xs = smoothPan(0, end, speed);
        if (turnBack) xs = [...xs, ...smoothPan(end, end / 2, speed).slice(1)];
        if (direction < 0) xs = xs.map((p) => end - p);
        const n = xs.length;
        const ys = xs.map((_, i) => Math.round((drift * i) / Math.max(1, n - 1)));
        const scales = xs.map((_, i) => 1 + ((zoom - 1) * i) / Math.max(1, n - 1));
        let state = seed;
        const random = () => {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          return state / 4294967296;
        };
        const base: DeterministicScene = {
          frameWidth: W,
          frameHeight: HEIGHT,
          items,
          poses: poses(xs, ys, scales),
          jitterPx: jitter,
        };
        const seen = visibility(base);
        const dropouts: Array<{ frame: number; itemId: string }> = [];
        const misreads: Array<{ frame: number; itemId: string; barcode: string }> = [];
        for (const item of items) {
          for (const frame of seen.get(item.id)!) {
            const r = random();
            if (r < 0.15) dropouts.push({ frame, itemId: item.id });
            else if (r < 0.18) misreads.push({ frame, itemId: item.id, barcode: validMisread(item.barcode!) });
          }
        }
        const scene: DeterministicScene = { ...base, dropouts, misreads };
        // Ground truth: every unit read at least once. A unit misread as often as it is read right
        // is a coin toss for any vote: such draws are skipped.
        const want: Record<string, number> = {};
        for (const item of items) {
          const frames = seen.get(item.id)!;
          const wrongReads = frames.filter((f) => misreads.some((m) => m.frame === f && m.itemId === item.id)).length;
          const missed = frames.filter((f) => dropouts.some((d) => d.frame === f && d.itemId === item.id)).length;
          const rightReads = frames.length - wrongReads - missed;
          fc.pre(wrongReads === 0 || rightReads > wrongReads);
          if (rightReads > 0) want[gtin(item.barcode!)] = (want[gtin(item.barcode!)] ?? 0) + 1;
        }
        const lines = await fuse(scene);
        expect(quantities(lines)).toEqual(want);
      }),
      { numRuns: 200, seed: 20240611 },
    );
  });
});

describe('fusion across frames, vision mode', () => {
  const named = (id: string, name: string, x: number, extra: Partial<ShelfItem> = {}): ShelfItem => ({
    id,
    name,
    brand: name.split(' ')[0]!,
    box: { x, y: 200, w: 300, h: 420 },
    ...extra,
  });

  it('maps boxes into shelf space and suppresses duplicates per product', async () => {
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: [
        named('c1', 'Coca-Cola 600 ml', 50),
        named('c2', 'Coca-Cola 600 ml', 360),
        named('s1', 'Sabritas Original 45 g', 700),
        named('m1', 'Maruchan Camarón', 1010),
        named('c3', 'Coca-Cola 600 ml', 1320),
        named('g1', 'Gansito Marinela', 1630),
      ],
      poses: poses([0, 120, 240, 360, 480, 600, 720]),
      jitterPx: 8,
      // The model words one product differently in one frame.
      misreads: [{ frame: 3, itemId: 's1', name: 'SABRITAS original 45g' }],
    };
    const lines = await fuse(scene, 'vision');
    expect(quantities(lines)).toEqual({
      [nameKey('Coca-Cola 600 ml')]: 3,
      [nameKey('Sabritas Original 45 g')]: 1,
      [nameKey('Maruchan Camarón')]: 1,
      [nameKey('Gansito Marinela')]: 1,
    });
    const coca = lines.find((l) => l.key === 'coca cola 600 ml')!;
    expect(coca).toMatchObject({ gtin: null, name: 'Coca-Cola 600 ml', brand: 'Coca-Cola', method: 'tracked' });
    expect(lines.find((l) => l.key === 'maruchan camaron')!.name).toBe('Maruchan Camarón');
  });

  it('keys a vision candidate by its barcode when it has a valid one', async () => {
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: [
        named('a', 'Leche Lala 1 L', 100, { barcode: A }),
        named('b', 'leche LALA entera 1 l', 450, { barcode: A }),
        named('c', 'Pan Bimbo', 800),
      ],
      poses: poses([0, 30, 60]),
    };
    const lines = await fuse(scene, 'vision');
    expect(quantities(lines)).toEqual({ [gtin(A)]: 2, 'pan bimbo': 1 });
  });

  it('count-only rule: without any located detection the count is the largest seen in one frame', async () => {
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: [named('a1', 'Agua Ciel 1 L', 100), named('a2', 'Agua Ciel 1 L', 420), named('a3', 'Agua Ciel 1 L', 740)],
      poses: poses([0, 0, 0]),
      output: 'counts',
      dropouts: [
        { frame: 0, itemId: 'a3' },
        { frame: 2, itemId: 'a1' },
        { frame: 2, itemId: 'a2' },
      ],
    };
    const lines = await fuse(scene, 'vision');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ key: 'agua ciel 1 l', quantity: 3, method: 'count-only', instances: [] });
    expect(lines[0]!.evidence).toMatchObject({ frameId: 'frame-1', box: null });
    // No motion known: 0.9 × 0.75.
    expect(lines[0]!.confidence).toBeCloseTo(0.675, 5);
    expect(lines[0]!.needsReview).toBe(false);
    expect(fuseDetections(await detect(scene), { mode: 'vision', reviewThreshold: 0.7 })[0]!.needsReview).toBe(true);
  });

  it('count-only rule: counts from views that do not overlap add up, overlapping views do not', async () => {
    // Boxed products give the camera motion; "Agua" is only ever counted (no boxes): two units at
    // the left end, one at the right end, 2 500 px apart.
    const scene: DeterministicScene = {
      frameWidth: W,
      frameHeight: HEIGHT,
      items: [
        named('w1', 'Agua Ciel 1 L', 40, { countOnly: true }),
        named('w2', 'Agua Ciel 1 L', 360, { countOnly: true }),
        ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) =>
          named(`p${i}`, i % 2 === 0 ? 'Pan Bimbo' : 'Gansito Marinela', 700 + i * 320),
        ),
        named('w3', 'Agua Ciel 1 L', 3950, { countOnly: true }),
      ],
      poses: poses(Array.from({ length: 23 }, (_, i) => -300 + i * 150)),
    };
    const seen = visibility(scene);
    expect(seen.get('w1')!.length).toBeGreaterThan(1); // the two left units are counted in several overlapping frames
    const lines = await fuse(scene, 'vision');
    const agua = lines.find((l) => l.key === 'agua ciel 1 l')!;
    expect(agua).toMatchObject({ quantity: 3, method: 'count-only' });
    expect(agua.confidence).toBeCloseTo(0.9, 5);
    expect(quantities(lines)).toEqual({ 'agua ciel 1 l': 3, 'pan bimbo': 5, 'gansito marinela': 5 });
  });

  it('a group box counts its units, from the views where it is not cut by the frame edge', () => {
    const frame = (
      index: number,
      box: { x: number; y: number; w: number; h: number },
      count: number,
    ): DetectionResult => ({
      frameId: `f${index}`,
      index,
      timestampMs: index * 500,
      width: W,
      height: HEIGHT,
      candidates: [
        { name: 'Jumex Mango 335 ml', brand: 'Jumex', barcode: null, category: 'Jugos', count, box, confidence: 0.8 },
        {
          name: 'Boing Fresa',
          brand: 'Boing',
          barcode: null,
          category: null,
          count: 1,
          box: { x: box.x + 500, y: 100, w: 200, h: 300 },
          confidence: 0.8,
        },
      ],
    });
    const results = [
      frame(0, { x: 100, y: 100, w: 400, h: 300 }, 4),
      frame(1, { x: 60, y: 102, w: 400, h: 300 }, 4),
      frame(2, { x: 0, y: 101, w: 380, h: 300 }, 2), // cut by the left edge: partly out of view
      frame(3, { x: 0, y: 100, w: 300, h: 300 }, 1),
    ];
    const lines = fuseDetections(results, { mode: 'vision', reviewThreshold: 0.6 });
    expect(quantities(lines)).toEqual({ 'jumex mango 335 ml': 4, 'boing fresa': 1 });
    expect(lines.find((l) => l.key === 'jumex mango 335 ml')).toMatchObject({ category: 'Jugos', method: 'tracked' });
  });
});
