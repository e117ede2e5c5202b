import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { outputSize } from '../../src/modules/media/frame-extractor.js';
import {
  blurCutoff,
  frameAllowance,
  hammingDistance,
  laplacianVariance,
  perceptualHash,
  selectFrames,
  type SelectableFrame,
  type SelectionOptions,
} from '../../src/modules/media/frame-selector.js';
import { normalizeContainer } from '../../src/modules/media/video-probe.js';

/** Pure rules of the media module (issue 5): selection, hashing, sizes, container names. */

const HASH_A = '0000000000000000';
const RULES: SelectionOptions = { blurThreshold: 60, duplicateMaxDistance: 6, maxPerMinute: null, durationMs: 10_000 };

/** A hash `bits` bits away from HASH_A, with the flipped bits starting at `offset` (distinct hashes per offset). */
function hashAt(offset: number, bits = 32): string {
  let value = 0n;
  for (let i = 0; i < bits; i += 1) value |= 1n << BigInt((offset + i) % 64);
  return value.toString(16).padStart(16, '0');
}

/** A fixed pseudo-random 64-bit hash per index: two of them differ in about 32 bits (never ≤ 6 here). */
function randomHash(i: number): string {
  return createHash('sha256').update(`frame-${i}`).digest('hex').slice(0, 16);
}

/** Frames every 500 ms, all sharp and far apart in hash unless overridden. */
function frames(count: number, override: (i: number) => Partial<SelectableFrame> = () => ({})): SelectableFrame[] {
  return Array.from({ length: count }, (_, i) => ({
    timestampMs: i * 500,
    sharpness: 1000 + i,
    phash: randomHash(i),
    ...override(i),
  }));
}

describe('hammingDistance', () => {
  it('counts differing bits of two 64-bit hex hashes', () => {
    expect(hammingDistance(HASH_A, HASH_A)).toBe(0);
    expect(hammingDistance(HASH_A, 'ffffffffffffffff')).toBe(64);
    expect(hammingDistance('8000000000000001', '0000000000000000')).toBe(2);
    expect(hammingDistance('F0F0F0F0F0F0F0F0', 'f0f0f0f0f0f0f0f1')).toBe(1);
  });

  it('refuses anything that is not 16 hex digits', () => {
    expect(() => hammingDistance('abc', HASH_A)).toThrow(TypeError);
    expect(() => hammingDistance(HASH_A, 'zzzzzzzzzzzzzzzz')).toThrow(TypeError);
  });
});

describe('perceptualHash and laplacianVariance', () => {
  const gradient = Uint8Array.from({ length: 1024 }, (_, i) => (i % 32) * 8);
  /** A smooth 2-D picture with structure in both directions. */
  const waves = Uint8Array.from({ length: 1024 }, (_, i) => {
    const x = i % 32;
    const y = Math.floor(i / 32);
    return Math.round(128 + 60 * Math.cos(x * 0.3 + y * 0.2) + 50 * Math.sin(y * 0.45 - x * 0.1));
  });
  const checker = Uint8Array.from({ length: 1024 }, (_, i) => (((i % 32) + Math.floor(i / 32)) % 2 ? 255 : 0));

  it('gives 16 hex digits, equal for equal images and far apart for different ones', () => {
    const a = perceptualHash(waves);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(perceptualHash(Uint8Array.from(waves))).toBe(a);
    // A brightness or contrast change barely moves the hash (the DC terms are left out).
    expect(hammingDistance(perceptualHash(waves.map((v) => Math.min(255, v + 12))), a)).toBeLessThanOrEqual(2);
    expect(hammingDistance(perceptualHash(waves.map((v) => Math.round(v * 0.8))), a)).toBeLessThanOrEqual(2);
    const mirrored = Uint8Array.from({ length: 1024 }, (_, i) => waves[i - (i % 32) + (31 - (i % 32))]!);
    expect(hammingDistance(perceptualHash(mirrored), a)).toBeGreaterThan(16);
  });

  it('refuses a picture that is not 32×32', () => {
    expect(() => perceptualHash(new Uint8Array(100))).toThrow(RangeError);
  });

  it('is 0 for a flat picture and grows with detail (4-neighbour Laplacian variance)', () => {
    expect(laplacianVariance(new Uint8Array(32 * 32).fill(128), 32, 32)).toBe(0);
    // A linear ramp has zero Laplacian; a checkerboard has |Laplacian| = 4 × 255 everywhere.
    expect(laplacianVariance(gradient, 32, 32)).toBe(0);
    const checkerVariance = laplacianVariance(checker, 32, 32);
    // Interior Laplacian alternates ±1020: variance 1020².
    expect(checkerVariance).toBeCloseTo(1020 * 1020, 0);
  });
});

describe('blurCutoff', () => {
  it('is the configured threshold for a video whose typical frame is comfortably sharp', () => {
    expect(blurCutoff([500, 800, 900, 1000], 60)).toBe(60);
    expect(blurCutoff([120, 120, 120, 120], 60)).toBe(60);
  });

  it('falls to half the video’s 75th percentile for a uniformly soft video, never below half the threshold', () => {
    // p75 of [40, 50, 80, 90] is 80 → 40.
    expect(blurCutoff([40, 50, 80, 90], 60)).toBe(40);
    // p75 = 20 → 10, floored at 30.
    expect(blurCutoff([10, 15, 20, 20], 60)).toBe(30);
    expect(blurCutoff([], 60)).toBe(30);
  });
});

describe('frameAllowance', () => {
  it('is ⌈maxPerMinute × minutes⌉, at least 1, or null without a cap', () => {
    expect(frameAllowance(16, 60_000)).toBe(16);
    expect(frameAllowance(16, 13_500)).toBe(4);
    expect(frameAllowance(16, 1000)).toBe(1);
    expect(frameAllowance(16, 0)).toBe(1);
    expect(frameAllowance(null, 60_000)).toBeNull();
  });
});

describe('selectFrames', () => {
  it('keeps every sharp, distinct frame and answers in the input order', () => {
    const input = frames(6);
    const shuffled = [input[3]!, input[0]!, input[5]!, input[1]!, input[4]!, input[2]!];
    expect(selectFrames(shuffled, RULES)).toEqual(shuffled.map(() => ({ kept: true, rejectedReason: null })));
  });

  it('rejects blurred frames as BLUR with the absolute threshold', () => {
    const input = frames(8, (i) => (i === 2 || i === 5 ? { sharpness: 59 } : {}));
    const decisions = selectFrames(input, RULES);
    expect(decisions.map((d) => d.rejectedReason)).toEqual([null, null, 'BLUR', null, null, 'BLUR', null, null]);
  });

  it('keeps the steadier frames of a uniformly soft video and drops its smeared ones', () => {
    // Every frame is below the absolute threshold of 60; the video's p75 is 48 → cutoff max(30, 24) = 30.
    const sharpness = [45, 50, 48, 12, 44, 50, 47, 10];
    const decisions = selectFrames(
      frames(8, (i) => ({ sharpness: sharpness[i]! })),
      RULES,
    );
    expect(decisions.map((d) => d.rejectedReason)).toEqual([null, null, null, 'BLUR', null, null, null, 'BLUR']);
    // With the absolute rule alone every frame would be lost: the floor still holds at half the threshold.
    const hopeless = selectFrames(
      frames(4, () => ({ sharpness: 20 })),
      RULES,
    );
    expect(hopeless.every((d) => d.rejectedReason === 'BLUR')).toBe(true);
  });

  it('rejects near-duplicates of any recently kept frame, not only the previous one', () => {
    // 0: A; 1: B; 2: 3 bits from A (a return to A's view); 3: 7 bits from A; 4: same as B.
    const near = (bits: number) => (1n << BigInt(bits)) - 1n;
    const hashes = [HASH_A, hashAt(20), near(3).toString(16).padStart(16, '0'), near(7).toString(16).padStart(16, '0')];
    const input = frames(5, (i) => ({ phash: hashes[i] ?? hashAt(20) }));
    const decisions = selectFrames(input, RULES);
    expect(decisions.map((d) => d.rejectedReason)).toEqual([null, null, 'DUPLICATE', null, 'DUPLICATE']);
    // At distance exactly duplicateMaxDistance it is a duplicate; one more bit and it is not.
    expect(selectFrames(input, { ...RULES, duplicateMaxDistance: 7 })[3]).toEqual({
      kept: false,
      rejectedReason: 'DUPLICATE',
    });
  });

  it('compares only with kept frames of the duplicate window', () => {
    // Frames at 0, 8 and 16 s; the last repeats the first.
    const input = frames(3, (i) => ({ phash: i === 1 ? hashAt(30) : HASH_A, timestampMs: i * 8000 }));
    expect(selectFrames(input, { ...RULES, durationMs: 20_000 })[2]!.rejectedReason).toBe('DUPLICATE');
    expect(
      selectFrames(input, { ...RULES, durationMs: 20_000, duplicateWindowMs: 10_000 })[2]!.rejectedReason,
    ).toBeNull();
  });

  it('does not compare with a blurred frame: a sharp copy of a blurred view is kept', () => {
    const input = frames(3, (i) => ({ phash: HASH_A, sharpness: i === 0 ? 5 : 1000 + i }));
    expect(selectFrames(input, RULES).map((d) => d.rejectedReason)).toEqual(['BLUR', null, 'DUPLICATE']);
  });

  it('caps to the allowance per minute, keeping the sharpest frame of each time bucket', () => {
    // 60 s at 2 fps = 120 frames; 4 per minute → 4 buckets of 15 s.
    const input = frames(120, (i) => ({ sharpness: 1000 + ((i * 37) % 101) }));
    const decisions = selectFrames(input, { ...RULES, maxPerMinute: 4, durationMs: 60_000 });
    const kept = input.filter((_, i) => decisions[i]!.kept);
    expect(kept).toHaveLength(4);
    expect(decisions.filter((d) => d.rejectedReason === 'CAP')).toHaveLength(116);
    for (let bucket = 0; bucket < 4; bucket += 1) {
      const inBucket = input.filter((f) => Math.floor(f.timestampMs / 15_000) === bucket);
      const best = Math.max(...inBucket.map((f) => f.sharpness));
      const chosen = kept.filter((f) => Math.floor(f.timestampMs / 15_000) === bucket);
      expect(chosen).toHaveLength(1);
      expect(chosen[0]!.sharpness).toBe(best);
    }
  });

  it('gives the slots of empty buckets to the sharpest remaining frames', () => {
    // Frames only in the first 10 s of a 60 s video with 6 per minute: 6 buckets of 10 s, 5 empty.
    const input = frames(20, (i) => ({ sharpness: 1000 + i }));
    const decisions = selectFrames(input, { ...RULES, maxPerMinute: 6, durationMs: 60_000 });
    const keptSharpness = input.filter((_, i) => decisions[i]!.kept).map((f) => f.sharpness);
    expect(keptSharpness.sort()).toEqual([1014, 1015, 1016, 1017, 1018, 1019]);
  });

  it('does not cap when under the allowance or uncapped', () => {
    const input = frames(10);
    expect(selectFrames(input, { ...RULES, maxPerMinute: 60 }).every((d) => d.kept)).toBe(true);
    expect(selectFrames(input, { ...RULES, maxPerMinute: null }).every((d) => d.kept)).toBe(true);
  });

  it('refuses invalid rules', () => {
    expect(() => selectFrames(frames(2), { ...RULES, blurThreshold: -1 })).toThrow(RangeError);
    expect(() => selectFrames(frames(2), { ...RULES, duplicateMaxDistance: 65 })).toThrow(RangeError);
    expect(() => selectFrames(frames(2), { ...RULES, maxPerMinute: 0 })).toThrow(RangeError);
    expect(() =>
      selectFrames(
        frames(2, () => ({ phash: 'nope' })),
        RULES,
      ),
    ).toThrow(TypeError);
  });
});

describe('outputSize', () => {
  it('fits the long side in the limit, keeps the aspect, never enlarges, keeps sides even', () => {
    expect(outputSize(1920, 1080, 1280)).toEqual({ width: 1280, height: 720 });
    expect(outputSize(1080, 1920, 1280)).toEqual({ width: 720, height: 1280 });
    expect(outputSize(640, 360, 1280)).toEqual({ width: 640, height: 360 });
    expect(outputSize(3840, 2160, 1281)).toEqual({ width: 1280, height: 720 });
    expect(outputSize(641, 361, 4096)).toEqual({ width: 640, height: 360 });
  });
});

describe('normalizeContainer', () => {
  const ISO = 'mov,mp4,m4a,3gp,3g2,mj2';
  it('names the ISO-BMFF family by major brand', () => {
    expect(normalizeContainer(ISO, 'isom')).toBe('mp4');
    expect(normalizeContainer(ISO, 'mp42')).toBe('mp4');
    expect(normalizeContainer(ISO, 'M4V ')).toBe('mp4');
    expect(normalizeContainer(ISO, 'qt  ')).toBe('mov');
    expect(normalizeContainer(ISO, undefined)).toBe('mov');
    expect(normalizeContainer(ISO, '3gp4')).toBe('3gp');
    expect(normalizeContainer(ISO, '3gp6')).toBe('3gp');
    expect(normalizeContainer(ISO, '3g2a')).toBe('3g2');
    expect(normalizeContainer(ISO, 'M4A ')).toBe('m4a');
    expect(normalizeContainer(ISO, 'heic')).toBe('heif');
  });

  it('names Matroska by DocType and the rest by their first format name', () => {
    expect(normalizeContainer('matroska,webm', null, 'webm')).toBe('webm');
    expect(normalizeContainer('matroska,webm', null, 'matroska')).toBe('mkv');
    expect(normalizeContainer('image2')).toBe('image');
    expect(normalizeContainer('png_pipe')).toBe('image');
    expect(normalizeContainer('avi')).toBe('avi');
    expect(normalizeContainer('mpegts')).toBe('mpegts');
  });
});
