// Worker thread of BarcodeVisionProvider (barcode.provider.ts): runs the zxing-wasm (ZXing-C++)
// decoder off the main thread, one image at a time. Plain JavaScript so the same file runs from
// src (tests) and from dist (SWC copies it), without a TypeScript loader.
//
// workerData: { wasmPath, readerOptions }. Message in: { id, data (ArrayBuffer, RGBA), width,
// height, tiles: [[x, y, w, h], …] (fractions of the image) }. Message out: { id, reads: [{ digits,
// format, upce, lineCount, quad: [{x, y} ×4] }] } in image pixels, or { id, error }.
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

/** Copies a rectangle of an RGBA image (rows are contiguous, so one copy per row). */
function crop(image, left, top, width, height) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    const start = ((top + y) * image.width + left) * 4;
    data.set(image.data.subarray(start, start + width * 4), y * width * 4);
  }
  return { data, width, height };
}

function upceOf(extra) {
  try {
    const value = JSON.parse(extra || '{}').UPCE;
    return typeof value === 'string' && /^\d{8}$/.test(value) ? value : null;
  } catch {
    return null;
  }
}

async function readView(view, left, top) {
  const results = await readBarcodes(view, workerData.readerOptions);
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
  const image = { data: new Uint8ClampedArray(task.data), width: task.width, height: task.height };
  const reads = await readView(image, 0, 0);
  for (const [fx, fy, fw, fh] of task.tiles) {
    const left = Math.round(fx * image.width);
    const top = Math.round(fy * image.height);
    const width = Math.min(image.width - left, Math.round(fw * image.width));
    const height = Math.min(image.height - top, Math.round(fh * image.height));
    if (width < 32 || height < 32) continue;
    reads.push(...(await readView(crop(image, left, top, width, height), left, top)));
  }
  return reads;
}

parentPort.on('message', (task) => {
  decode(task).then(
    (reads) => parentPort.postMessage({ id: task.id, reads }),
    (error) => parentPort.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
