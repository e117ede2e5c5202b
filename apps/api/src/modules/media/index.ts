/**
 * The Nest-free media API (issue 5): for scripts and benchmarks that run without the Nest
 * container. Modules inject `MediaProcessingService` (media.module.ts) instead.
 */
export {
  makeContactSheet,
  makeThumbnail,
  type ContactSheetOptions,
  type ImageArtifact,
  type ThumbnailOptions,
} from './artifacts.js';
export { defaultMediaTools, resolveMediaTools, type MediaTools } from './ffmpeg-binaries.js';
export {
  extractFrames,
  outputSize,
  type ExtractedFrame,
  type ExtractOptions,
  type LumaFrame,
} from './frame-extractor.js';
export {
  blurCutoff,
  frameAllowance,
  hammingDistance,
  laplacianVariance,
  measureFrame,
  measureFrames,
  measureGreyCopy,
  measureGreyPixels,
  perceptualHash,
  selectFrames,
  MEASURE_SIZE_PX,
  type FrameDecision,
  type FrameMeasure,
  type FrameRejection,
  type SelectableFrame,
  type SelectionOptions,
} from './frame-selector.js';
export { MediaToolError, VideoRejectedError, type VideoRejectionCode } from './media-errors.js';
export {
  normalizeContainer,
  probeVideo,
  storedExtractionProbe,
  validateVideo,
  type ExtractionProbe,
  type FfprobeOutput,
  type ProbeOptions,
  type ValidateOptions,
  type VideoProbe,
  type VideoRotation,
  type VideoRules,
  type VideoValidation,
} from './video-probe.js';
