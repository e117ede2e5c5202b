import { createRequire } from 'node:module';
import type { AppConfig } from '../../config/env.schema.js';

/** Absolute paths of the two media binaries every media function runs. */
export interface MediaTools {
  ffmpegPath: string;
  ffprobePath: string;
}

const require = createRequire(import.meta.url);

/**
 * Where ffmpeg and ffprobe are: `FFMPEG_PATH` / `FFPROBE_PATH` when configured, else the static
 * binaries shipped inside node_modules by `@ffmpeg-installer/ffmpeg` and
 * `@ffprobe-installer/ffprobe` (DESIGN.md "Video pipeline"; nothing is downloaded at run time).
 *
 * The installer packages are loaded only for a binary that is not configured, so a deployment
 * that sets both variables does not need them (e.g. an unsupported platform).
 *
 * @throws Error when a binary is not configured and its installer package has no binary for
 *   this platform (the package's own message).
 */
export function resolveMediaTools(config: Partial<Pick<AppConfig, 'FFMPEG_PATH' | 'FFPROBE_PATH'>> = {}): MediaTools {
  return {
    ffmpegPath: config.FFMPEG_PATH ?? installerPath('@ffmpeg-installer/ffmpeg'),
    ffprobePath: config.FFPROBE_PATH ?? installerPath('@ffprobe-installer/ffprobe'),
  };
}

let defaults: MediaTools | undefined;

/** {@link resolveMediaTools} without configuration (the npm binaries), resolved once. */
export function defaultMediaTools(): MediaTools {
  defaults ??= resolveMediaTools();
  return defaults;
}

function installerPath(name: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe'): string {
  const installer = require(name) as { path: string };
  return installer.path;
}
