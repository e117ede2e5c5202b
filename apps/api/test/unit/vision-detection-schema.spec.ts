import { describe, expect, it } from 'vitest';
import {
  DETECTION_ANSWER_JSON_SCHEMA,
  normalisedBoxToPixels,
  parseDetectionAnswer,
  toDetectionResults,
  type DetectionAnswer,
} from '../../src/modules/vision/detection-schema.js';
import type { FrameInput } from '../../src/modules/vision/vision-provider.port.js';

const product = (overrides: Record<string, unknown> = {}) => ({
  name: 'Sabritas Original 45 g',
  brand: 'Sabritas',
  category: 'botanas',
  barcode: null,
  count: 8,
  confidence: 0.9,
  box: { left: 120, top: 300, right: 480, bottom: 620 },
  ...overrides,
});

/** Every object node of a JSON schema, with its path. */
function objectNodes(node: unknown, path = '$'): Array<{ path: string; node: Record<string, unknown> }> {
  if (!node || typeof node !== 'object') return [];
  const record = node as Record<string, unknown>;
  const own = record.type === 'object' ? [{ path, node: record }] : [];
  const children = Object.entries(record).flatMap(([key, value]) =>
    Array.isArray(value)
      ? value.flatMap((item, i) => objectNodes(item, `${path}.${key}[${i}]`))
      : objectNodes(value, `${path}.${key}`),
  );
  return [...own, ...children];
}

describe('detection answer schema (what a cloud model must return)', () => {
  it('is a JSON schema OpenAI strict mode accepts: every object closed and all its properties required', () => {
    const objects = objectNodes(DETECTION_ANSWER_JSON_SCHEMA);
    expect(objects.map((entry) => entry.path)).toEqual([
      '$',
      '$.properties.images.items',
      '$.properties.images.items.properties.products.items',
      '$.properties.images.items.properties.products.items.properties.box.anyOf[0]',
    ]);
    for (const { node } of objects) {
      expect(node.additionalProperties).toBe(false);
      expect(node.required).toEqual(Object.keys(node.properties as object));
    }
    const text = JSON.stringify(DETECTION_ANSWER_JSON_SCHEMA);
    for (const keyword of ['$schema', 'minimum', 'maximum', 'minLength', 'maxLength', 'maxItems', 'pattern']) {
      expect(text).not.toContain(`"${keyword}"`);
    }
    const productNode = objects[2]!.node;
    expect(Object.keys(productNode.properties as object)).toEqual([
      'name',
      'brand',
      'category',
      'barcode',
      'count',
      'confidence',
      'box',
    ]);
  });

  it('accepts a complete answer, trimming text and turning blank optional text into null', () => {
    const parsed = parseDetectionAnswer(
      {
        images: [
          { image: 2, products: [] },
          { image: 1, products: [product({ name: '  Sabritas Original 45 g ', brand: '  ', box: null })] },
        ],
      },
      2,
    );
    expect(parsed).toEqual({
      ok: true,
      answer: {
        images: [
          { image: 2, products: [] },
          { image: 1, products: [product({ brand: null, box: null })] },
        ],
      },
    });
  });

  it.each([
    ['not an object', 'inventario', /expected object/],
    [
      'a count of 0',
      { images: [{ image: 1, products: [product({ count: 0 })] }] },
      /images\[0\]\.products\[0\]\.count/,
    ],
    ['a fractional count', { images: [{ image: 1, products: [product({ count: 2.5 })] }] }, /count/],
    ['a confidence above 1', { images: [{ image: 1, products: [product({ confidence: 1.2 })] }] }, /confidence/],
    [
      'a coordinate above 1000',
      { images: [{ image: 1, products: [product({ box: { left: 0, top: 0, right: 1001, bottom: 10 } })] }] },
      /box\.right/,
    ],
    [
      'an inverted box',
      { images: [{ image: 1, products: [product({ box: { left: 600, top: 0, right: 500, bottom: 10 } })] }] },
      /right must be greater than left/,
    ],
    ['an empty name', { images: [{ image: 1, products: [product({ name: ' ' })] }] }, /name/],
    [
      'an image that was not sent',
      {
        images: [
          { image: 1, products: [] },
          { image: 3, products: [] },
        ],
      },
      /only 2/,
    ],
    [
      'an image given twice',
      {
        images: [
          { image: 1, products: [] },
          { image: 1, products: [] },
        ],
      },
      /more than once/,
    ],
    ['a missing image', { images: [{ image: 1, products: [] }] }, /no entry for image\(s\) 2/],
  ])('refuses %s with a problem naming the place', (_case, value, problem) => {
    const parsed = parseDetectionAnswer(value, 2);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.problem).toMatch(problem);
  });

  it('converts 0–1000 boxes to frame pixels, clamped, at least one pixel', () => {
    expect(normalisedBoxToPixels({ left: 100, top: 250, right: 400, bottom: 750 }, 2560, 1920)).toEqual({
      x: 256,
      y: 480,
      w: 768,
      h: 960,
    });
    // Fractions: x/y round down, right/bottom round up.
    expect(normalisedBoxToPixels({ left: 333.3, top: 0, right: 666.6, bottom: 1000 }, 1280, 720)).toEqual({
      x: 426,
      y: 0,
      w: 428,
      h: 720,
    });
    expect(normalisedBoxToPixels({ left: 1000, top: 1000, right: 1000, bottom: 1000 }, 640, 480)).toEqual({
      x: 639,
      y: 479,
      w: 1,
      h: 1,
    });
  });

  it('maps answers to frames by image number, in frame order, keeping only valid GTINs', () => {
    const frames: FrameInput[] = [
      { frameId: 'a', index: 4, timestampMs: 2000, path: '/a.jpg', width: 1000, height: 500 },
      { frameId: 'b', index: 7, timestampMs: 3500, path: '/b.jpg', width: 200, height: 100 },
    ];
    const answer: DetectionAnswer = {
      images: [
        {
          image: 2,
          products: [product({ barcode: '750-1055-300075', box: { left: 0, top: 0, right: 500, bottom: 500 } })],
        },
        { image: 1, products: [product({ barcode: '7501055300076', box: null })] },
      ],
    };
    const results = toDetectionResults(answer, frames);
    expect(results.map((r) => [r.frameId, r.index, r.timestampMs, r.width, r.height])).toEqual([
      ['a', 4, 2000, 1000, 500],
      ['b', 7, 3500, 200, 100],
    ]);
    // Wrong check digit → null; dashes removed from a valid one.
    expect(results[0]!.candidates[0]).toMatchObject({ barcode: null, box: null, count: 8 });
    expect(results[1]!.candidates[0]).toMatchObject({ barcode: '7501055300075', box: { x: 0, y: 0, w: 100, h: 50 } });
  });
});
