import sharp from 'sharp';
import { mapWithConcurrency } from './concurrency.js';

/** A JPEG made from frames, with its size in pixels (stored as a `media.video_artifacts` row). */
export interface ImageArtifact {
  data: Buffer;
  width: number;
  height: number;
}

/** Options of {@link makeThumbnail}. */
export interface ThumbnailOptions {
  /** Longest side, pixels (default 320); a smaller frame is not enlarged. */
  maxSidePx?: number;
  /** JPEG quality 1–100 (default 80). */
  quality?: number;
}

/** Options of {@link makeContactSheet}. */
export interface ContactSheetOptions {
  /** Tiles per row (default 5). */
  columns?: number;
  /** Width of one tile, pixels (default 256); its height follows the first frame's aspect ratio. */
  tileWidth?: number;
  /** Space between tiles and around the grid, pixels (default 4). */
  gapPx?: number;
  /** JPEG quality 1–100 (default 80). */
  quality?: number;
}

/** JPEG's largest dimension (ITU T.81: 16-bit height and width). */
const JPEG_MAX_SIDE = 65_535;

/**
 * A small JPEG of one frame for lists and notifications: long side ≤ `maxSidePx` (320), aspect
 * kept, turned upright by its EXIF orientation if it has one.
 *
 * @throws RangeError when `maxSidePx` is not an integer ≥ 16.
 * @throws Error (sharp's) when the file is missing or not an image.
 */
export async function makeThumbnail(framePath: string, options: ThumbnailOptions = {}): Promise<ImageArtifact> {
  const maxSide = options.maxSidePx ?? 320;
  if (!(Number.isInteger(maxSide) && maxSide >= 16)) throw new RangeError(`maxSidePx must be an integer ≥ 16`);
  const { data, info } = await sharp(framePath)
    .autoOrient()
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: options.quality ?? 80 })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * One JPEG showing the given frames in order, as a grid of `columns` tiles per row on a dark
 * background (the owner's "what was counted" overview). Every tile has the first frame's aspect
 * ratio; a frame of another shape is fitted inside its tile. At most 4 frames are decoded at once.
 *
 * @throws RangeError when `framePaths` is empty, `columns` < 1, `tileWidth` < 16, or the sheet
 *   would exceed JPEG's 65,535-pixel side.
 * @throws Error (sharp's) when a file is missing or not an image.
 */
export async function makeContactSheet(
  framePaths: readonly string[],
  options: ContactSheetOptions = {},
): Promise<ImageArtifact> {
  const columns = Math.min(options.columns ?? 5, Math.max(1, framePaths.length));
  const tileWidth = options.tileWidth ?? 256;
  const gap = options.gapPx ?? 4;
  if (framePaths.length === 0) throw new RangeError('a contact sheet needs at least one frame');
  if (!(Number.isInteger(columns) && columns >= 1)) throw new RangeError('columns must be an integer ≥ 1');
  if (!(Number.isInteger(tileWidth) && tileWidth >= 16)) throw new RangeError('tileWidth must be an integer ≥ 16');
  if (!(Number.isInteger(gap) && gap >= 0)) throw new RangeError('gapPx must be an integer ≥ 0');

  const { autoOrient: upright } = await sharp(framePaths[0]!).metadata();
  const aspect = upright.height / upright.width;
  const tileHeight = Math.max(1, Math.round(tileWidth * aspect));
  const rows = Math.ceil(framePaths.length / columns);
  const width = gap + columns * (tileWidth + gap);
  const height = gap + rows * (tileHeight + gap);
  if (width > JPEG_MAX_SIDE || height > JPEG_MAX_SIDE) {
    throw new RangeError(`a ${width}x${height} contact sheet exceeds JPEG's ${JPEG_MAX_SIDE}-pixel limit`);
  }
  const background = { r: 24, g: 24, b: 24, alpha: 1 };
  const tiles = await mapWithConcurrency(framePaths, 4, async (path, i) => ({
    input: await sharp(path)
      .autoOrient()
      .resize(tileWidth, tileHeight, { fit: 'contain', background })
      .removeAlpha()
      .toBuffer(),
    left: gap + (i % columns) * (tileWidth + gap),
    top: gap + Math.floor(i / columns) * (tileHeight + gap),
  }));
  const { data, info } = await sharp({ create: { width, height, channels: 3, background } })
    .composite(tiles)
    .jpeg({ quality: options.quality ?? 80 })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
