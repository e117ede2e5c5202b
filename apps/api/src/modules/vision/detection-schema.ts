import { z } from 'zod';
import { toGtin14 } from './gtin.js';
import type { Box, DetectionResult, FrameInput, ProductCandidate } from './vision-provider.port.js';

/**
 * The answer a cloud vision model gives for one call (issue 6, adapters 2–4): one entry per image
 * sent, numbered from 1 in the order the images appear in the request, each with the products
 * seen in it. Boxes are normalised to 0–1000 on both axes (0,0 = top-left corner of the image),
 * so they do not depend on the size of the resized copy that was sent.
 *
 * One zod schema is the source of truth: it validates the answer, and {@link DETECTION_ANSWER_JSON_SCHEMA}
 * (sent to OpenAI as a strict `json_schema` response format and to Anthropic as the forced tool's
 * `input_schema`) is generated from it. Field descriptions are Spanish: the model reads them.
 */

/** Side of the normalised coordinate square of a box. */
export const NORMALISED_BOX_SCALE = 1000;

const coordinate = (description: string) => z.number().min(0).max(NORMALISED_BOX_SCALE).describe(description);

const boxSchema = z
  .object({
    left: coordinate('Borde izquierdo, de 0 (orilla izquierda de la imagen) a 1000 (orilla derecha).'),
    top: coordinate('Borde superior, de 0 (orilla de arriba de la imagen) a 1000 (orilla de abajo).'),
    right: coordinate('Borde derecho, de 0 a 1000; mayor que left.'),
    bottom: coordinate('Borde inferior, de 0 a 1000; mayor que top.'),
  })
  .refine((box) => box.right > box.left && box.bottom > box.top, {
    message: 'right must be greater than left and bottom greater than top',
  });

const optionalText = (max: number, description: string) =>
  z
    .string()
    .trim()
    .max(max)
    .nullable()
    .transform((value) => (value ? value : null))
    .describe(description);

const productSchema = z.object({
  name: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .describe(
      'Nombre del producto como se lee en el empaque, con variedad y presentación: "Coca-Cola Original 600 ml".',
    ),
  brand: optionalText(100, 'Marca ("Sabritas", "Bimbo", "La Costeña"…) o null si no se distingue.'),
  category: optionalText(
    100,
    'Categoría corta en español ("refrescos", "botanas", "pan", "enlatados", "galletas"…) o null.',
  ),
  barcode: optionalText(32, 'Dígitos del código de barras solo si se leen completos y nítidos; si no, null.'),
  count: z
    .int()
    .min(1)
    .max(999)
    .describe('Unidades de este producto que se ven en esta imagen (todas las piezas visibles, no solo los frentes).'),
  confidence: z.number().min(0).max(1).describe('Qué tan seguro estás de la identificación y del conteo, de 0 a 1.'),
  box: boxSchema
    .nullable()
    .describe('Rectángulo que encierra todas las unidades contadas, en coordenadas 0–1000; null si no se puede dar.'),
});

const imageEntrySchema = z.object({
  image: z.int().min(1).describe('Número de la imagen, empezando en 1, en el orden en que se enviaron.'),
  products: z.array(productSchema).max(300).describe('Productos vistos en esa imagen; lista vacía si no hay ninguno.'),
});

/** The model's answer for one call, as validated. */
export const detectionAnswerSchema = z.object({
  images: z.array(imageEntrySchema).describe('Una entrada por cada imagen enviada, en orden.'),
});

/** A validated answer (text fields trimmed, blank optional text → null). */
export type DetectionAnswer = z.output<typeof detectionAnswerSchema>;

/** JSON-schema keywords every target accepts (OpenAI strict structured outputs, Anthropic tools, Ollama, vLLM). */
const PORTABLE_KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'anyOf',
  'description',
]);

/**
 * JSON schema of {@link detectionAnswerSchema} restricted to keywords every target accepts, in the
 * form OpenAI's strict mode demands: every object lists all its properties as `required` and has
 * `additionalProperties: false`; optional values are nullable instead. Ranges (0–1000, 0–1, ≥ 1)
 * are in the descriptions and enforced by {@link parseDetectionAnswer}.
 * Source: https://platform.openai.com/docs/guides/structured-outputs (supported schemas).
 */
export const DETECTION_ANSWER_JSON_SCHEMA: Record<string, unknown> = (() => {
  const generated = z.toJSONSchema(detectionAnswerSchema, {
    target: 'draft-2020-12',
    io: 'input',
    override: ({ jsonSchema }) => {
      const node = jsonSchema as Record<string, unknown>;
      for (const key of Object.keys(node)) if (!PORTABLE_KEYWORDS.has(key)) delete node[key];
      if (node.type === 'object' && node.properties && typeof node.properties === 'object') {
        node.required = Object.keys(node.properties);
        node.additionalProperties = false;
      }
    },
  }) as Record<string, unknown>;
  delete generated.$schema;
  return Object.freeze(generated);
})();

/** Outcome of {@link parseDetectionAnswer}. */
export type ParsedDetectionAnswer = { ok: true; answer: DetectionAnswer } | { ok: false; problem: string };

/**
 * Validates a model's answer for a call that sent `imageCount` images: the shape of
 * {@link detectionAnswerSchema}, and exactly one entry for each image number 1…imageCount.
 *
 * @returns the answer, or `problem`: an English description of every violation with its JSON
 *   path (sent back to the model in the repair call, and put in the error message).
 */
export function parseDetectionAnswer(value: unknown, imageCount: number): ParsedDetectionAnswer {
  const parsed = detectionAnswerSchema.safeParse(value);
  if (!parsed.success) return { ok: false, problem: z.prettifyError(parsed.error) };
  const problems: string[] = [];
  const seen = new Set<number>();
  parsed.data.images.forEach((entry, position) => {
    if (entry.image > imageCount) {
      problems.push(`images[${position}].image is ${entry.image}, but only ${imageCount} image(s) were sent`);
    } else if (seen.has(entry.image)) {
      problems.push(`images[${position}].image ${entry.image} appears more than once`);
    }
    seen.add(entry.image);
  });
  const missing = Array.from({ length: imageCount }, (_, i) => i + 1).filter((n) => !seen.has(n));
  if (missing.length > 0) {
    problems.push(
      `no entry for image(s) ${missing.join(', ')}: give every image, with "products": [] when it shows none`,
    );
  }
  return problems.length > 0 ? { ok: false, problem: problems.join('\n') } : { ok: true, answer: parsed.data };
}

/**
 * Converts a normalised box (0–1000) to pixels of a `width` × `height` frame: x/y rounded down,
 * right/bottom rounded up, clamped to the frame, at least 1 px wide and high.
 */
export function normalisedBoxToPixels(
  box: { left: number; top: number; right: number; bottom: number },
  width: number,
  height: number,
): Box {
  // Multiply before dividing: 400 × 2560 / 1000 is exactly 1024, 400 × 2.56 is not.
  const x = Math.min(Math.floor((box.left * width) / NORMALISED_BOX_SCALE), width - 1);
  const y = Math.min(Math.floor((box.top * height) / NORMALISED_BOX_SCALE), height - 1);
  const right = Math.min(Math.ceil((box.right * width) / NORMALISED_BOX_SCALE), width);
  const bottom = Math.min(Math.ceil((box.bottom * height) / NORMALISED_BOX_SCALE), height);
  return { x, y, w: Math.max(1, right - x), h: Math.max(1, bottom - y) };
}

/**
 * A barcode as the model transcribed it, kept only when it is a GTIN with a valid check digit
 * (spaces and dashes removed); a misread code would otherwise merge different products in fusion.
 */
function cleanBarcode(barcode: string | null): string | null {
  if (!barcode) return null;
  const digits = barcode.replace(/[\s-]/g, '');
  return toGtin14(digits) ? digits : null;
}

/**
 * Maps a validated answer for `frames` (the frames of one call, in the order their images were
 * sent) to one {@link DetectionResult} per frame, in that order, boxes in frame pixels.
 */
export function toDetectionResults(answer: DetectionAnswer, frames: readonly FrameInput[]): DetectionResult[] {
  const byImage = new Map(answer.images.map((entry) => [entry.image, entry.products]));
  return frames.map((frame, i) => ({
    frameId: frame.frameId,
    index: frame.index,
    timestampMs: frame.timestampMs,
    width: frame.width,
    height: frame.height,
    candidates: (byImage.get(i + 1) ?? []).map((product): ProductCandidate => ({
      name: product.name,
      brand: product.brand,
      barcode: cleanBarcode(product.barcode),
      barcodeFormat: null,
      category: product.category,
      count: product.count,
      box: product.box ? normalisedBoxToPixels(product.box, frame.width, frame.height) : null,
      confidence: product.confidence,
    })),
  }));
}
