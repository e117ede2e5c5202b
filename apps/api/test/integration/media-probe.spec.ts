import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_CODES } from '../../src/modules/inventory/session-state.js';
import { defaultMediaTools } from '../../src/modules/media/ffmpeg-binaries.js';
import { MediaToolError, VideoRejectedError } from '../../src/modules/media/media-errors.js';
import { runTool } from '../../src/modules/media/media-process.js';
import { probeVideo, validateVideo, type VideoRules } from '../../src/modules/media/video-probe.js';

/**
 * Probing and validation of uploaded videos (issue 5 "Validation") with the real npm ffprobe,
 * on the fixtures of test/fixtures/videos (facts in its expected.json, known from how each file
 * was made).
 */

const FIXTURES = fileURLToPath(new URL('../fixtures/videos/', import.meta.url));

interface ExpectedFile {
  ok: boolean;
  failureCode?: string;
  container?: string;
  durationMs?: number;
  durationSource?: string;
  width?: number;
  height?: number;
  codedWidth?: number;
  codedHeight?: number;
  rotation?: number;
  videoCodec?: string;
  fps?: number;
  hasAudio?: boolean;
}
interface Expected {
  rules: VideoRules;
  files: Record<string, ExpectedFile>;
  durationToleranceMs: number;
}

const expected = JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
const rules = expected.rules;

describe('validateVideo on every fixture', () => {
  it.each(Object.entries(expected.files))('%s', async (name, facts) => {
    const verdict = await validateVideo(join(FIXTURES, name), rules);
    if (facts.ok) {
      expect(verdict, verdict.ok ? '' : `${verdict.failureCode}: ${verdict.detail}`).toMatchObject({ ok: true });
    } else {
      expect(verdict).toMatchObject({ ok: false, failureCode: facts.failureCode });
      if (!verdict.ok) {
        expect(FAILURE_CODES).toContain(verdict.failureCode);
        expect(verdict.detail.length).toBeGreaterThan(10);
      }
    }
    const probe = verdict.probe;
    if (facts.container) expect(probe?.container).toBe(facts.container);
    if (facts.durationMs !== undefined) {
      expect(Math.abs(probe!.durationMs - facts.durationMs)).toBeLessThanOrEqual(expected.durationToleranceMs);
    }
    for (const key of [
      'width',
      'height',
      'codedWidth',
      'codedHeight',
      'rotation',
      'videoCodec',
      'fps',
      'hasAudio',
      'durationSource',
    ] as const) {
      if (facts[key] !== undefined) expect(probe?.[key], key).toBe(facts[key]);
    }
    if (probe) {
      expect(probe.sizeBytes).toBe((await readFile(join(FIXTURES, name))).length);
      expect(probe.raw.format?.format_name).toBe(probe.formatName);
    }
  });
});

describe('probeVideo', () => {
  it('reports a rotated phone video with its displayed (portrait) size and the stored one', async () => {
    const probe = await probeVideo(join(FIXTURES, 'rotated-phone.mp4'));
    expect(probe).toMatchObject({ rotation: 90, width: 360, height: 640, codedWidth: 640, codedHeight: 360 });
    const matrix = probe.raw.streams?.[0]?.side_data_list?.find((item) => item.side_data_type === 'Display Matrix');
    expect(matrix?.rotation).toBe(-90);
  });

  it('finds the duration of a WebM without one in its header by reading packet times', async () => {
    const live = await probeVideo(join(FIXTURES, 'pan-small-live.webm'));
    expect(live.raw.format?.duration).toBeUndefined();
    expect(live.durationSource).toBe('packets');
    expect(Math.abs(live.durationMs - 6000)).toBeLessThanOrEqual(60);
  });

  it('throws VideoRejectedError with the code for bad files, and MediaToolError for a missing file', async () => {
    const rejection = async (name: string) => {
      try {
        await probeVideo(join(FIXTURES, name));
        return 'resolved';
      } catch (error) {
        if (error instanceof VideoRejectedError) return error.failureCode;
        throw error;
      }
    };
    expect(await rejection('empty.mp4')).toBe('VIDEO_EMPTY');
    expect(await rejection('random-bytes.mp4')).toBe('VIDEO_UNREADABLE');
    expect(await rejection('audio-only.mp4')).toBe('NO_VIDEO_STREAM');
    expect(await rejection('notes.txt')).toBe('UNSUPPORTED_FORMAT');
    await expect(probeVideo(join(FIXTURES, 'no-such-file.mp4'))).rejects.toBeInstanceOf(MediaToolError);
  });

  it('calls a truncated upload unreadable (the index at the end never arrived)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mi-media-'));
    try {
      // As phones write it: media data first, the moov index last (no faststart).
      const whole = join(dir, 'whole.mov');
      const remux = await runTool(
        defaultMediaTools().ffmpegPath,
        ['-v', 'error', '-i', join(FIXTURES, 'pan-small.mov'), '-c', 'copy', '-f', 'mov', whole],
        { timeoutMs: 60_000 },
      );
      expect(remux.exitCode).toBe(0);
      expect((await validateVideo(whole, rules)).ok).toBe(true);
      const bytes = await readFile(whole);
      await writeFile(join(dir, 'cut.mov'), bytes.subarray(0, Math.floor(bytes.length * 0.8)));
      const verdict = await validateVideo(join(dir, 'cut.mov'), rules);
      expect(verdict).toMatchObject({ ok: false, failureCode: 'VIDEO_UNREADABLE' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('decodes the first picture: damaged picture data behind valid headers is unreadable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mi-media-'));
    try {
      // shelf-pan.mp4 keeps its index first; overwrite the picture data after it with noise.
      const bytes = Buffer.from(await readFile(join(FIXTURES, 'shelf-pan.mp4')));
      const mdat = bytes.indexOf('mdat');
      expect(mdat).toBeGreaterThan(0);
      for (let i = mdat + 4, block = 0; i < bytes.length; i += 32, block += 1) {
        createHash('sha256').update(`noise-${block}`).digest().copy(bytes, i);
      }
      await writeFile(join(dir, 'damaged.mp4'), bytes);
      expect(await probeVideo(join(dir, 'damaged.mp4'))).toMatchObject({ container: 'mp4', durationMs: 9000 });
      const verdict = await validateVideo(join(dir, 'damaged.mp4'), rules);
      expect(verdict).toMatchObject({ ok: false, failureCode: 'VIDEO_UNREADABLE' });
      expect(verdict.probe).not.toBeNull();
      // Without the decoding check the headers alone pass.
      expect((await validateVideo(join(dir, 'damaged.mp4'), rules, { checkDecoding: false })).ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('handles file names with spaces and shell characters (no shell is involved)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mi-media-'));
    try {
      const odd = join(dir, '-i $(touch pwned) ; `x` & "y".mp4');
      await copyFile(join(FIXTURES, 'two-seconds.mp4'), odd);
      const probe = await probeVideo(odd);
      expect(probe.durationMs).toBe(2000);
      await expect(readFile(join(dir, 'pwned'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('a path that looks like a URL', () => {
    let server: Server;
    let requests = 0;
    beforeAll(async () => {
      server = createServer((_request, response) => {
        requests += 1;
        response.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('is a local file name, never fetched', async () => {
      const { port } = server.address() as AddressInfo;
      await expect(probeVideo(`http://127.0.0.1:${port}/video.mp4`)).rejects.toBeInstanceOf(MediaToolError);
      await expect(validateVideo(`http://127.0.0.1:${port}/video.mp4`, rules)).rejects.toBeInstanceOf(MediaToolError);
      expect(requests).toBe(0);
    });
  });
});

describe('runTool', () => {
  const node = process.execPath;

  it('kills a process that outlives its time limit', async () => {
    await expect(runTool(node, ['-e', 'setTimeout(() => {}, 60_000)'], { timeoutMs: 300 })).rejects.toThrow(
      /took longer than 300 ms/,
    );
  });

  it('kills a process that prints more than its output limit', async () => {
    const noisy = 'const b = Buffer.alloc(65536, 120); (function w() { process.stdout.write(b, w); })()';
    await expect(runTool(node, ['-e', noisy], { timeoutMs: 30_000, maxStdoutBytes: 100_000 })).rejects.toThrow(
      /more than 100000 bytes/,
    );
  });

  it('reports a binary that cannot start, and an abort', async () => {
    await expect(runTool('/nonexistent/ffprobe', [], { timeoutMs: 1000 })).rejects.toBeInstanceOf(MediaToolError);
    const controller = new AbortController();
    const running = runTool(node, ['-e', 'setTimeout(() => {}, 60_000)'], {
      timeoutMs: 30_000,
      signal: controller.signal,
    });
    controller.abort();
    await expect(running).rejects.toThrow(/aborted/);
  });

  it('returns output and a non-zero exit code without throwing', async () => {
    const result = await runTool(node, ['-e', 'process.stdout.write("hola"); process.exit(3)'], { timeoutMs: 30_000 });
    expect(result.exitCode).toBe(3);
    expect(result.stdout.toString()).toBe('hola');
  });
});
