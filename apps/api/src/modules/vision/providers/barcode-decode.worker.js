// Worker thread of BarcodeVisionProvider (barcode.provider.ts): runs the zxing-wasm (ZXing-C++)
// decoder off the main thread, one image at a time. Plain JavaScript so the same file runs from
// src (tests) and from dist (SWC copies it), without a TypeScript loader.
//
// workerData: { wasmPath, readerOptions, lineStep }. Message in: { id, data (ArrayBuffer: 8-bit pixels,
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
// A tiled image (tiles given) is scanned on every `lineStep`-th line, whole and by tiles (see
// LINE_STEP in barcode.provider.ts): rows on a copy holding every step-th row, columns on a
// transposed copy holding every step-th column, both with tryRotate off (the transposed copy's
// rows are the columns). Each scanned line holds the same pixels as before; only fewer lines are
// scanned. An image without tiles is read whole, every line, with the reader options as given.
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

/**
 * A rectangle of a luminance image as a binary PGM file (P5): rows top, top + step, … below
 * top + height, columns left to left + width, copied row by row.
 */
function pgm(image, left, top, width, height, step = 1) {
  const rows = Math.ceil(height / step);
  const header = new TextEncoder().encode(`P5\n${width} ${rows}\n255\n`);
  const file = new Uint8Array(header.length + width * rows);
  file.set(header, 0);
  for (let y = 0; y < rows; y += 1) {
    const start = (top + y * step) * image.width + left;
    file.set(image.data.subarray(start, start + width), header.length + y * width);
  }
  return file;
}

/** Every step-th column of a luminance image as rows: row i holds column i × step, top to bottom. */
function transposedColumns(image, step) {
  const { data, width, height } = image;
  const rows = Math.ceil(width / step);
  const out = new Uint8Array(rows * height);
  for (let i = 0, o = 0; i < rows; i += 1) {
    for (let y = 0, p = i * step; y < height; y += 1, p += width, o += 1) out[o] = data[p];
  }
  return { data: out, width: height, height: rows };
}

function upceOf(extra) {
  try {
    const value = JSON.parse(extra || '{}').UPCE;
    return typeof value === 'string' && /^\d{8}$/.test(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Codes of one view, their corners mapped to the image by `toImage` (view pixels → image pixels).
 */
async function readView(file, toImage, options = workerData.readerOptions) {
  const results = await readBarcodes(file, options);
  return results
    .filter((r) => r.isValid && /^\d+$/.test(r.text))
    .map((r) => ({
      digits: r.text,
      format: r.format,
      // ZXing-C++ gives a UPC-E expanded to 13 digits; the printed 8 digits are in `extra`.
      upce: r.format === 'UPCE' ? upceOf(r.extra) : null,
      lineCount: r.lineCount,
      quad: [r.position.topLeft, r.position.topRight, r.position.bottomRight, r.position.bottomLeft].map(toImage),
    }));
}

async function decode(task) {
  await ready;
  const channels = task.channels ?? 4;
  const pixels = new Uint8Array(task.data);
  if (pixels.length < task.width * task.height * channels) throw new Error('fewer pixels than width × height');
  const image = { data: luminance(pixels, channels), width: task.width, height: task.height };
  if (task.tiles.length === 0) return readView(pgm(image, 0, 0, image.width, image.height), (p) => p);
  const step = workerData.lineStep ?? 1;
  const rowsOnly = { ...workerData.readerOptions, tryRotate: false };
  const columns = workerData.readerOptions.tryRotate ? transposedColumns(image, step) : null;
  const reads = await readView(
    pgm(image, 0, 0, image.width, image.height, step),
    (p) => ({ x: p.x, y: p.y * step }),
    rowsOnly,
  );
  if (columns) {
    const view = pgm(columns, 0, 0, columns.width, columns.height);
    reads.push(...(await readView(view, (p) => ({ x: p.y * step, y: p.x }), rowsOnly)));
  }
  // ZXing reads a linear code line by line, each line thresholded on its own histogram, so a line
  // segment reads the same in every tile that holds it. The rows of the tiles are therefore read
  // once, on full-height strips (one per tile column), and their columns once, on full-width
  // strips (one per tile row): the same segments as tile by tile, none twice.
  const strip = { ...rowsOnly, tryDownscale: false };
  const spans = (pairs) => [...new Map(pairs.map(([at, size]) => [`${at}:${size}`, [at, size]])).values()];
  for (const [fx, fw] of spans(task.tiles.map(([x, , w]) => [x, w]))) {
    const left = Math.round(fx * image.width);
    const width = Math.min(image.width - left, Math.round(fw * image.width));
    if (width < 32) continue;
    const view = pgm(image, left, 0, width, image.height, step);
    reads.push(...(await readView(view, (p) => ({ x: p.x + left, y: p.y * step }), strip)));
  }
  if (!columns) return reads;
  for (const [fy, fh] of spans(task.tiles.map(([, y, , h]) => [y, h]))) {
    const top = Math.round(fy * image.height);
    const height = Math.min(image.height - top, Math.round(fh * image.height));
    if (height < 32) continue;
    // Rows of `columns` are the image's columns 0, step, …; its columns top… are the image's rows.
    const view = pgm(columns, top, 0, height, columns.height);
    reads.push(...(await readView(view, (p) => ({ x: p.y * step, y: top + p.x }), strip)));
  }
  return reads;
}

parentPort.on('message', (task) => {
  decode(task).then(
    (reads) => parentPort.postMessage({ id: task.id, reads }),
    (error) => parentPort.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
