import sharp from 'sharp';
import type { ReportLine } from './report.types.js';

/** Longest side of a PDF evidence thumbnail, pixels (shown at 44 pt: about 260 dpi). */
export const THUMBNAIL_SIZE_PX = 160;

/** Extra room around the evidence box, as a fraction of its size on each side. */
const BOX_MARGIN = 0.1;

/**
 * The default `loadThumbnail` of the PDF export: reads the line's evidence frame from local disk
 * (`evidence.thumbnailPath`), crops the product's box (plus 10 % around it, clamped to the
 * frame) when there is one, and scales it to fit {@link THUMBNAIL_SIZE_PX} (never enlarged) as
 * a JPEG (sharp).
 *
 * @returns the JPEG bytes, or null when the line has no local evidence or the file cannot be
 *   read or decoded (the PDF then shows "Sin imagen": a missing picture must not cost the owner
 *   the whole report).
 */
export async function loadEvidenceThumbnail(
  line: ReportLine,
  options: { sizePx?: number } = {},
): Promise<Buffer | null> {
  const path = line.evidence.thumbnailPath;
  if (!path) return null;
  const size = options.sizePx ?? THUMBNAIL_SIZE_PX;
  try {
    const { width, height } = await sharp(path).metadata();
    let image = sharp(path);
    const box = line.evidence.box;
    if (box && width && height) {
      const left = Math.max(0, Math.floor(box.x - box.w * BOX_MARGIN));
      const top = Math.max(0, Math.floor(box.y - box.h * BOX_MARGIN));
      const right = Math.min(width, Math.ceil(box.x + box.w * (1 + BOX_MARGIN)));
      const bottom = Math.min(height, Math.ceil(box.y + box.h * (1 + BOX_MARGIN)));
      if (right - left >= 2 && bottom - top >= 2) {
        image = image.extract({ left, top, width: right - left, height: bottom - top });
      }
    }
    return await image.resize(size, size, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 75 }).toBuffer();
  } catch {
    return null;
  }
}
