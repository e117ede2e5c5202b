// Worker thread of BarcodeVisionProvider (barcode.provider.ts): runs the zxing-wasm (ZXing-C++)
// decoder off the main thread, one image at a time. Plain JavaScript so the same file runs from
// src (tests) and from dist (SWC copies it), without a TypeScript loader.
//
// workerData: { wasmPath, readerOptions }. Message in: { id, data (ArrayBuffer: 8-bit pixels,
// row-major), channels (1 grey, 3 RGB or 4 RGBA), width, height, tiles: [[x, y, w, h], …]
// (fractions of the image) }. Message out: { id, reads: [{ digits, format, upce, lineCount, quad:
// [{x, y} ×4] }] } in image pixels, or { id, error }.
//
// Colour pixels are turned into luminance once per image, with the integer Rec. 601 weights that
// zxing-wasm applies to an ImageData ((306 R + 601 G + 117 B + 512) >> 10), so a colour frame
// reads exactly as before; then the whole image and each tile are handed to the decoder as a
// binary PGM (which it loads as luminance without conversion) instead of an RGBA ImageData,
// which zxing-wasm converted again for every tile.
//
// The .wasm is read from node_modules (workerData.wasmPath) and handed over as `wasmBinary`, which
// replaces zxing-wasm's default jsDelivr `locateFile`; `fetch` is also disabled in this thread, so
// the decoder can never reach a CDN.
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { prepareZXingModule, readBarcodes } from 'zxing-wasm/reader';

globalThis.fetch = () => {
  throw new Error('network access is disabled in the barcode decoder');
};

const ready = (async () => {
  const bytes = await readFile(workerData.wasmPath);
  const wasmBinary = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  await prepareZXingModule({ overrides: { wasmBinary }, fireImmediately: true });
})();

/** Luminance (1 byte per pixel) of an image of 1, 3 or 4 channels. */
function luminance(pixels, channels) {
  if (channels === 1) return pixels;
  const count = Math.floor(pixels.length / channels);
  const grey = new Uint8Array(count);
  for (let i = 0, p = 0; i < count; i += 1, p += channels) {
    grey[i] = (306 * pixels[p] + 601 * pixels[p + 1] + 117 * pixels[p + 2] + 512) >> 10;
  }
  return grey;
}

/** A rectangle of a luminance image as a binary PGM file (P5), rows copied one by one. */
function pgm(image, left, top, width, height) {
  const header = new TextEncoder().encode(`P5\n${width} ${height}\n255\n`);
  const file = new Uint8Array(header.length + width * height);
  file.set(header, 0);
  for (let y = 0; y < height; y += 1) {
    const start = (top + y) * image.width + left;
    file.set(image.data.subarray(start, start + width), header.length + y * width);
  }
  return file;
}

function upceOf(extra) {
  try {
    const value = JSON.parse(extra || '{}').UPCE;
    return typeof value === 'string' && /^\d{8}$/.test(value) ? value : null;
  } catch {
    return null;
  }
}

async function readView(file, left, top) {
  const results = await readBarcodes(file, workerData.readerOptions);
  return results
    .filter((r) => r.isValid && /^\d+$/.test(r.text))
    .map((r) => ({
      digits: r.text,
      format: r.format,
      // ZXing-C++ gives a UPC-E expanded to 13 digits; the printed 8 digits are in `extra`.
      upce: r.format === 'UPCE' ? upceOf(r.extra) : null,
      lineCount: r.lineCount,
      quad: [r.position.topLeft, r.position.topRight, r.position.bottomRight, r.position.bottomLeft].map((p) => ({
        x: p.x + left,
        y: p.y + top,
      })),
    }));
}

async function decode(task) {
  await ready;
  const channels = task.channels ?? 4;
  const pixels = new Uint8Array(task.data);
  if (pixels.length < task.width * task.height * channels) throw new Error('fewer pixels than width × height');
  const image = { data: luminance(pixels, channels), width: task.width, height: task.height };
  const reads = await readView(pgm(image, 0, 0, image.width, image.height), 0, 0);
  for (const [fx, fy, fw, fh] of task.tiles) {
    const left = Math.round(fx * image.width);
    const top = Math.round(fy * image.height);
    const width = Math.min(image.width - left, Math.round(fw * image.width));
    const height = Math.min(image.height - top, Math.round(fh * image.height));
    if (width < 32 || height < 32) continue;
    reads.push(...(await readView(pgm(image, left, top, width, height), left, top)));
  }
  return reads;
}

parentPort.on('message', (task) => {
  decode(task).then(
    (reads) => parentPort.postMessage({ id: task.id, reads }),
    (error) => parentPort.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
