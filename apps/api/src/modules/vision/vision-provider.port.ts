/**
 * The vision-provider port (DESIGN.md "Vision providers", issue 6 "VisionProvider port").
 *
 * A provider looks at the kept frames of one inventory session and says, per frame, which
 * products it sees. It does not count across frames: fusion (`fusion.ts`) turns these
 * per-frame detections into one count per physical item.
 *
 * Units: pixels of the frame as given (origin top-left), confidence 0–1, cost in USD
 * micro-dollars (1 USD = 1,000,000).
 */

/** Names of the adapters; the active one is an admin setting (default `barcode`). */
export const VISION_PROVIDER_NAMES = ['barcode', 'openai', 'anthropic', 'openai-compatible'] as const;
export type VisionProviderName = (typeof VISION_PROVIDER_NAMES)[number];

/** Injection token of the provider factory ({@link VisionProviderFactory}). */
export const VISION_PROVIDER_FACTORY = Symbol('VISION_PROVIDER_FACTORY');

/** An axis-aligned box in frame pixels. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One frame handed to a provider: a JPEG on local disk. */
export interface FrameInput {
  /** `media.frames.id` when the frame is stored; any stable id otherwise. */
  frameId: string;
  /** Position of the frame in the sampled sequence (0-based). */
  index: number;
  /** Time of the frame in the video, milliseconds. */
  timestampMs: number;
  /** Absolute path of the JPEG. */
  path: string;
  /** Pixels. */
  width: number;
  height: number;
}

/**
 * A sampled frame's pixels as 8-bit grey levels, row-major, `width × height` bytes (the
 * extractor's copy, taken before JPEG compression), for {@link VisionProvider.prefetch}.
 */
export interface GreyFrame {
  /** Position of the frame in the sampled sequence (the {@link FrameInput.index} it will have). */
  index: number;
  /** Pixels: the frame's JPEG size. */
  width: number;
  height: number;
  data: Uint8Array;
}

/** One product candidate in one frame. */
export interface ProductCandidate {
  /** Product name as read or recognised (Spanish when the provider names it); null for a bare barcode read. */
  name: string | null;
  brand: string | null;
  /** Digits as decoded (8, 12 or 13); compare through `toGtin14`. */
  barcode: string | null;
  /** Symbology of a barcode read: EAN-13, EAN-8, UPC-A, UPC-E. */
  barcodeFormat?: string | null;
  category: string | null;
  /** Units of this product the provider sees in this frame; 1 for one barcode read. */
  count: number;
  /** Where in the frame, when known (barcode reads always have one). */
  box: Box | null;
  /** 0–1. */
  confidence: number;
}

/** Everything a provider saw in one frame. */
export interface DetectionResult {
  frameId: string;
  index: number;
  timestampMs: number;
  width: number;
  height: number;
  candidates: ProductCandidate[];
}

/** Tokens and price of one provider call (for COGS). */
export interface ProviderCost {
  provider: VisionProviderName | string;
  model: string | null;
  /** Frames (images) sent. */
  units: number;
  inputTokens: number;
  outputTokens: number;
  /** USD micro-dollars (integer). */
  costUsdMicros: number;
  /** Calls made, retries included. */
  attempts: number;
}

/**
 * A vision provider adapter.
 *
 * `detectProducts` returns one {@link DetectionResult} per input frame, in input order.
 * Errors: throws {@link VisionProviderError} with a stable code; the pipeline maps it to the
 * session failure code `PROVIDER_ERROR`.
 */
export interface VisionProvider {
  detectProducts(frames: readonly FrameInput[]): Promise<DetectionResult[]>;
  /**
   * Optional, for providers that read pixels on this machine (barcode): starts on a frame's
   * greyscale pixels while the video is still being extracted; the next `detectProducts` input
   * with the same `index` uses that work instead of its JPEG, and the other prefetched frames
   * (e.g. dropped as blurred) are forgotten. A returned promise asks the caller to hold the next
   * frame until it resolves (bounded memory).
   */
  prefetch?(frame: GreyFrame): Promise<void> | void;
  /** Cost of the last `detectProducts` call (zero for the offline barcode provider). */
  getCost(): ProviderCost;
  getProvider(): VisionProviderName | string;
  /** Model used, or null (barcode). */
  getModel(): string | null;
}

/** Stable reasons a provider call fails. */
export type VisionProviderErrorCode =
  | 'PROVIDER_NOT_CONFIGURED'
  | 'PROVIDER_UNAVAILABLE'
  | 'PROVIDER_TIMEOUT'
  | 'PROVIDER_RATE_LIMITED'
  | 'PROVIDER_BAD_RESPONSE'
  | 'PROVIDER_REJECTED';

/** A provider failure; `retryable` tells the job queue whether another attempt may help. */
export class VisionProviderError extends Error {
  constructor(
    readonly code: VisionProviderErrorCode,
    message: string,
    readonly retryable: boolean,
    /** Cost already spent by the failed call (attempts that got answers), for COGS. */
    readonly cost?: ProviderCost,
  ) {
    super(message);
    this.name = 'VisionProviderError';
  }
}

/** Builds the adapter for a provider name and model (the admin setting). */
export interface VisionProviderFactory {
  create(name: VisionProviderName, model?: string | null): VisionProvider;
}
