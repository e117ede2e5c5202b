import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { prepareZXingModule, writeBarcode } from 'zxing-wasm/full';
import { toGtin14 } from '../../src/modules/vision/gtin.js';
import {
  BarcodeVisionProvider,
  closeBarcodeDecoders,
  readConfidence,
} from '../../src/modules/vision/providers/barcode.provider.js';
import {
  VisionProviderError,
  type Box,
  type DetectionResult,
  type FrameInput,
} from '../../src/modules/vision/vision-provider.port.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/barcodes/', import.meta.url));

interface FixtureItem {
  file: string;
  format: string;
  text: string;
}
const EXPECTED: FixtureItem[] = (
  JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { items: FixtureItem[] }
).items;

/**
 * Photos the default provider must read (45 of 65, measured with zxing-wasm 3.1.4; the others are
 * blurred, cut, or turned 30–60°: see test/fixtures/barcodes/README.md).
 */
const MUST_DECODE = [
  ...['01', '02', '03', '04', '05', '06', '08', '09', '10', '20', '21', '23'].map((n) => `zxing_ean13-1_${n}.png`),
  ...[
    '1_02',
    '1_21',
    '1_28',
    '4_08',
    '4_11',
    '4_14',
    '4_15',
    '4_17',
    '2_02',
    '2_09',
    '2_19',
    '2_27',
    '2_33',
    '2_47',
  ].map((n) => `zxing_upca-${n}.png`),
  ...['03', '12', '20'].map((n) => `zxing_upca-5_${n}.png`),
  ...['003', '008'].map((n) => `quagga2_ean_image-${n}.jpg`),
  ...['001', '003', '004', '006', '007', '008', '009', '010'].map((n) => `quagga2_ean_8_image-${n}.jpg`),
  ...['002', '004', '007', '008', '009', '010'].map((n) => `quagga2_upc_image-${n}.jpg`),
];
/** Turned 30–60°: read only with the extra 45° pass. */
const DIAGONAL = [
  ...['001', '002', '004', '005', '007', '009', '010'].map((n) => `quagga2_ean_image-${n}.jpg`),
  'quagga2_ean_8_image-005.jpg',
  ...['001', '003', '005'].map((n) => `quagga2_upc_image-${n}.jpg`),
];

function frame(path: string, index = 0): FrameInput {
  return { frameId: `f${index}`, index, timestampMs: index * 500, path, width: 0, height: 0 };
}

function centre(box: Box): { x: number; y: number } {
  return { x: box.x + box.w / 2, y: box.y + box.h / 2 };
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

const gtinsOf = (result: DetectionResult) => result.candidates.map((c) => toGtin14(c.barcode!, c.barcodeFormat));

describe('BarcodeVisionProvider', () => {
  const fetchSpy = vi.fn(() => {
    throw new Error('no network in tests');
  });
  let dir: string;

  beforeAll(async () => {
    // The .wasm must come from node_modules: any fetch (a CDN) fails the test.
    vi.stubGlobal('fetch', fetchSpy);
    dir = await mkdtemp(join(tmpdir(), 'vision-barcode-'));
  });

  afterAll(async () => {
    vi.unstubAllGlobals();
    await closeBarcodeDecoders();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the fixture photos offline: every read is the expected code, and the 45 readable ones are read', async () => {
    const provider = new BarcodeVisionProvider();
    const results = await provider.detectProducts(EXPECTED.map((item, i) => frame(join(FIXTURES, item.file), i)));
    expect(results).toHaveLength(EXPECTED.length);
    const decoded: string[] = [];
    results.forEach((result, i) => {
      const item = EXPECTED[i]!;
      expect(result.frameId).toBe(`f${i}`);
      const gtins = gtinsOf(result);
      // No wrong code, ever (a misread would become a phantom product).
      for (const gtin of gtins) expect(gtin, item.file).toBe(toGtin14(item.text));
      if (gtins.length > 0) decoded.push(item.file);
    });
    expect(decoded).toEqual(expect.arrayContaining(MUST_DECODE));
    expect(decoded.length).toBeGreaterThanOrEqual(MUST_DECODE.length);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(provider.getCost()).toEqual({
      provider: 'barcode',
      model: null,
      units: 65,
      inputTokens: 0,
      outputTokens: 0,
      costUsdMicros: 0,
      attempts: 1,
    });
    expect(provider.getProvider()).toBe('barcode');
    expect(provider.getModel()).toBeNull();
  });

  it('gives each candidate the printed digits, format, count 1, a box inside the frame and a confidence', async () => {
    const provider = new BarcodeVisionProvider();
    const files = ['zxing_ean13-1_01.png', 'zxing_upca-1_02.png', 'quagga2_ean_8_image-004.jpg'];
    const results = await provider.detectProducts(files.map((f, i) => frame(join(FIXTURES, f), i)));
    const [ean, upc, ean8] = results.map((r) => r.candidates);
    expect(ean).toEqual([
      expect.objectContaining({ barcode: '8413000065504', barcodeFormat: 'EAN-13', count: 1, name: null, brand: null }),
    ]);
    // ZXing reports a UPC-A as EAN-13 with a leading 0: given as the 12 printed digits.
    expect(upc).toEqual([expect.objectContaining({ barcode: '036602301467', barcodeFormat: 'UPC-A' })]);
    expect(ean8).toEqual([expect.objectContaining({ barcode: '24057257', barcodeFormat: 'EAN-8' })]);
    for (const result of results) {
      for (const c of result.candidates) {
        expect(c.box!.x).toBeGreaterThanOrEqual(0);
        expect(c.box!.y).toBeGreaterThanOrEqual(0);
        expect(c.box!.x + c.box!.w).toBeLessThanOrEqual(result.width);
        expect(c.box!.y + c.box!.h).toBeLessThanOrEqual(result.height);
        expect(Math.max(c.box!.w, c.box!.h)).toBeGreaterThan(100);
        expect(c.confidence).toBeGreaterThanOrEqual(0.8);
        expect(c.confidence).toBeLessThanOrEqual(1);
      }
    }
    expect([results[0]!.width, results[0]!.height]).toEqual([640, 480]);
  });

  it('finds three codes in one composed shelf frame, two identical ones as two candidates with their own boxes', async () => {
    const tiles = [
      { file: 'zxing_ean13-1_01.png', left: 40, top: 60 },
      { file: 'zxing_ean13-1_01.png', left: 700, top: 80 },
      { file: 'zxing_upca-4_08.png', left: 1360, top: 40 },
    ];
    const path = join(dir, 'shelf.jpg');
    await sharp({ create: { width: 2040, height: 620, channels: 3, background: '#d6d0c4' } })
      .composite(tiles.map((t) => ({ input: join(FIXTURES, t.file), left: t.left, top: t.top })))
      .jpeg({ quality: 90 })
      .toFile(path);
    const [result] = await new BarcodeVisionProvider().detectProducts([frame(path)]);
    const candidates = result!.candidates;
    expect(candidates.map((c) => c.barcode).sort()).toEqual(['060410049235', '8413000065504', '8413000065504']);
    // Each box lies in the photo it was placed with, and no two boxes overlap.
    for (const c of candidates) {
      const { x, y } = centre(c.box!);
      const tile = tiles.filter((t) => x >= t.left && x <= t.left + 640 && y >= t.top && y <= t.top + 480);
      expect(tile).toHaveLength(1);
      expect(tile[0]!.file).toBe(c.barcode === '060410049235' ? 'zxing_upca-4_08.png' : 'zxing_ean13-1_01.png');
    }
    const [a, b] = candidates.filter((c) => c.barcode === '8413000065504');
    expect(overlaps(a!.box!, b!.box!)).toBe(false);
  });

  it('reads diagonal codes with the extra 45° pass and maps their boxes back to the frame', async () => {
    const results = await new BarcodeVisionProvider({ extraAnglesDeg: [45] }).detectProducts(
      DIAGONAL.map((f, i) => frame(join(FIXTURES, f), i)),
    );
    results.forEach((result, i) => {
      expect(gtinsOf(result), DIAGONAL[i]).toEqual([toGtin14(EXPECTED.find((e) => e.file === DIAGONAL[i])!.text)]);
    });
    // A code turned 45° at a known place: its box comes back where it was put.
    const path = join(dir, 'diagonal.jpg');
    const turned = await sharp(join(FIXTURES, 'zxing_ean13-1_09.png'))
      .rotate(45, { background: '#ffffff' })
      .toBuffer({ resolveWithObject: true });
    await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#ffffff' } })
      .composite([{ input: turned.data, left: 300, top: 60 }])
      .jpeg({ quality: 92 })
      .toFile(path);
    const [upright] = await new BarcodeVisionProvider().detectProducts([frame(path)]);
    expect(upright!.candidates).toEqual([]);
    const [diagonal] = await new BarcodeVisionProvider({ extraAnglesDeg: [45] }).detectProducts([frame(path)]);
    expect(diagonal!.candidates.map((c) => c.barcode)).toEqual(['3166298099809']);
    const c = centre(diagonal!.candidates[0]!.box!);
    // The code's centre in the photo (355, 203) turned 45° about the photo's centre, then placed.
    const a = Math.PI / 4;
    const [dx, dy] = [355 - 320, 203 - 240];
    const expected = {
      x: 300 + turned.info.width / 2 + Math.cos(a) * dx - Math.sin(a) * dy,
      y: 60 + turned.info.height / 2 + Math.sin(a) * dx + Math.cos(a) * dy,
    };
    // Along the code (340 px long) the centre is exact to a few pixels; across it, the box spans
    // only the scan lines that read it, within the 108 px tall bars.
    const [ex, ey] = [c.x - expected.x, c.y - expected.y];
    expect(Math.abs(ex * Math.cos(a) + ey * Math.sin(a))).toBeLessThan(15);
    expect(Math.abs(-ex * Math.sin(a) + ey * Math.cos(a))).toBeLessThan(54);
  });

  it('gives a UPC-E as its 8 printed digits, the same GTIN as its UPC-A form', async () => {
    const wasm = readFileSync(createRequire(import.meta.url).resolve('zxing-wasm/full/zxing_full.wasm'));
    await prepareZXingModule({
      overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer },
      fireImmediately: true,
    });
    const written = await writeBarcode('01234565', { format: 'UPCE', scale: 4 });
    const path = join(dir, 'upce.png');
    await sharp(Buffer.from(await written.image!.arrayBuffer()))
      .flatten({ background: '#ffffff' })
      .extend({ top: 40, bottom: 40, left: 40, right: 40, background: '#ffffff' })
      .toFile(path);
    const [result] = await new BarcodeVisionProvider().detectProducts([frame(path)]);
    expect(result!.candidates).toEqual([expect.objectContaining({ barcode: '01234565', barcodeFormat: 'UPC-E' })]);
    expect(toGtin14('01234565', 'UPC-E')).toBe(toGtin14('012345000065'));
  });

  it('rejects a missing or unreadable frame with PROVIDER_REJECTED', async () => {
    const provider = new BarcodeVisionProvider();
    const garbage = join(dir, 'not-a-jpeg.jpg');
    await writeFile(garbage, 'this is not an image');
    for (const path of [join(dir, 'missing.jpg'), garbage]) {
      const error = await provider
        .detectProducts([frame(join(FIXTURES, 'zxing_ean13-1_01.png')), frame(path, 1)])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VisionProviderError);
      expect(error).toMatchObject({ code: 'PROVIDER_REJECTED', retryable: false });
      expect((error as Error).message).toContain('f1');
    }
    // The decoder threads survive a bad frame.
    const [ok] = await provider.detectProducts([frame(join(FIXTURES, 'zxing_ean13-1_01.png'))]);
    expect(ok!.candidates).toHaveLength(1);
  });

  it('derives confidence from the scan lines that agreed: 0.8 at 2, 1.0 from 10', () => {
    expect(readConfidence(2)).toBe(0.8);
    expect(readConfidence(6)).toBe(0.9);
    expect(readConfidence(10)).toBe(1);
    expect(readConfidence(150)).toBe(1);
    expect(readConfidence(1)).toBe(0.8);
  });
});
