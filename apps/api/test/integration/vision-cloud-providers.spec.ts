import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.schema.js';
import { DETECTION_ANSWER_JSON_SCHEMA } from '../../src/modules/vision/detection-schema.js';
import { AnthropicVisionProvider } from '../../src/modules/vision/providers/anthropic.provider.js';
import { BarcodeVisionProvider } from '../../src/modules/vision/providers/barcode.provider.js';
import type { CloudVisionOptions } from '../../src/modules/vision/providers/cloud-vision.provider.js';
import { OpenAiVisionProvider } from '../../src/modules/vision/providers/openai.provider.js';
import { ConfiguredVisionProviderFactory } from '../../src/modules/vision/vision-provider.factory.js';
import {
  VisionProviderError,
  type DetectionResult,
  type FrameInput,
  type VisionProvider,
} from '../../src/modules/vision/vision-provider.port.js';

/** One recorded HTTP response of a vendor: `test/fixtures/vision/*.json`. */
interface Fixture {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** One request as the loopback vendor received it. */
interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  // Parsed JSON body; `any` keeps the wire-format assertions readable.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

const FIXTURES = new URL('../fixtures/vision/', import.meta.url);
const fixture = (name: string): Fixture => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Fixture;

const silent: LoggerService = { log() {}, warn() {}, error() {}, debug() {} };

/**
 * A loopback HTTP server that answers each request with the next scripted fixture (or never
 * answers: 'hang'), and records what it received.
 */
class LoopbackVendor {
  seen: Seen[] = [];
  private script: Array<Fixture | 'hang'> = [];
  private hanging: ServerResponse[] = [];
  private server: Server | undefined;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        this.seen.push({
          method: request.method,
          url: request.url,
          headers: request.headers,
          body: text ? JSON.parse(text) : null,
        });
        const next = this.script.shift();
        if (next === 'hang') {
          this.hanging.push(response);
          return;
        }
        if (!next) {
          response.writeHead(418, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: { message: 'unscripted request', type: 'test_error' } }));
          return;
        }
        response.writeHead(next.status, next.headers);
        response.end(JSON.stringify(next.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reply(...items: Array<Fixture | 'hang'>): void {
    this.script.push(...items);
  }

  reset(): void {
    for (const response of this.hanging) response.destroy();
    this.hanging = [];
    this.script = [];
    this.seen = [];
  }

  async stop(): Promise<void> {
    this.reset();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const vendor = new LoopbackVendor();
let workDir: string;
let bigFrame: FrameInput;
let smallFrame: FrameInput;
let thirdFrame: FrameInput;

const MAX_SIDE = 512;
const common = (): CloudVisionOptions => ({
  model: 'unused',
  price: null,
  timeoutMs: 10_000,
  maxRetries: 2,
  imageMaxSidePx: MAX_SIDE,
  batchSize: 6,
  logger: silent,
});

beforeAll(async () => {
  await vendor.start();
  workDir = await mkdtemp(join(tmpdir(), 'miinventario-vision-'));
  const photo = new URL('product-photo.jpg', FIXTURES);
  // A 2560×1920 frame (as a phone video would give) made from a real product photo, and the photo itself (348×348).
  const bigPath = join(workDir, 'frame-big.jpg');
  await sharp(readFileSync(photo)).resize(2560, 1920, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(bigPath);
  const smallPath = join(workDir, 'frame-small.jpg');
  await copyFile(photo, smallPath);
  bigFrame = { frameId: 'frame-big', index: 0, timestampMs: 0, path: bigPath, width: 2560, height: 1920 };
  smallFrame = { frameId: 'frame-small', index: 1, timestampMs: 500, path: smallPath, width: 348, height: 348 };
  thirdFrame = { frameId: 'frame-third', index: 2, timestampMs: 1000, path: smallPath, width: 348, height: 348 };
});

afterEach(() => vendor.reset());

afterAll(async () => {
  await vendor.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Rejection of `promise` as a VisionProviderError (fails the test otherwise). */
async function providerError(promise: Promise<unknown>): Promise<VisionProviderError> {
  const error = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(VisionProviderError);
  return error as VisionProviderError;
}

/** The detections every success fixture encodes, mapped to bigFrame and smallFrame. */
function expectStandardDetections(results: DetectionResult[]): void {
  expect(results.map((result) => result.frameId)).toEqual(['frame-big', 'frame-small']);
  expect(results[0]).toMatchObject({ index: 0, timestampMs: 0, width: 2560, height: 1920 });
  expect(results[1]).toMatchObject({ index: 1, timestampMs: 500, width: 348, height: 348 });
  expect(results[0]!.candidates).toEqual([
    {
      name: 'Coca-Cola Original 600 ml',
      brand: 'Coca-Cola',
      barcode: '7501055300075',
      barcodeFormat: null,
      category: 'refrescos',
      count: 12,
      // 0–1000 box {100, 250, 400, 750} on 2560×1920 pixels.
      box: { x: 256, y: 480, w: 768, h: 960 },
      confidence: 0.93,
    },
    {
      name: 'Chiles Jalapeños en Escabeche La Costeña 220 g',
      brand: 'La Costeña',
      // "75010001" has a wrong EAN-8 check digit: dropped.
      barcode: null,
      barcodeFormat: null,
      category: 'enlatados',
      count: 6,
      box: { x: 1280, y: 0, w: 1280, h: 1920 },
      confidence: 0.81,
    },
  ]);
  expect(results[1]!.candidates).toEqual([
    {
      name: 'Galletas Marías Gamesa 170 g',
      brand: 'Gamesa',
      barcode: null,
      barcodeFormat: null,
      category: 'galletas',
      count: 4,
      box: null,
      confidence: 0.7,
    },
  ]);
}

/** What differs between the two vendors' wire formats. */
interface VendorCase {
  name: 'openai' | 'anthropic';
  path: string;
  model: string;
  make(overrides?: Partial<CloudVisionOptions> & { apiKey?: string | null }): VisionProvider;
  /** Credential header the request carried. */
  credential(seen: Seen): string | undefined;
  expectedCredential: string;
  /** Content parts of the (first) user message: `text` labels and base64 images. */
  userParts(seen: Seen): Array<{ text: string } | { base64: string; mediaType: string }>;
  expectStructuredOutput(seen: Seen): void;
  expectRepairTurn(seen: Seen, firstAnswer: Fixture): void;
  success: string;
  firstBad: string;
  secondBad: string;
  rateLimited: string;
  serverError: string;
  unauthorized: string;
  /** USD micro-dollars and tokens of one success answer, of bad + success, and of bad + bad. */
  costs: {
    success: [number, number, number];
    repaired: [number, number, number];
    badTwice: [number, number, number];
  };
}

const openAiCase: VendorCase = {
  name: 'openai',
  path: '/v1/chat/completions',
  model: 'gpt-4.1-mini',
  make: (overrides = {}) =>
    new OpenAiVisionProvider({
      ...common(),
      model: 'gpt-4.1-mini',
      price: { input: 0.4, output: 1.6 },
      providerName: 'openai',
      apiKey: 'sk-test-openai',
      baseURL: `${vendor.baseUrl}/v1`,
      ...overrides,
    }),
  credential: (seen) => seen.headers.authorization,
  expectedCredential: 'Bearer sk-test-openai',
  userParts: (seen) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (seen.body.messages[1].content as any[]).map((part) => {
      if (part.type === 'text') return { text: part.text as string };
      const match = /^data:(image\/[a-z]+);base64,(.+)$/.exec(part.image_url.url as string);
      expect(part.image_url.detail).toBe('high');
      return { mediaType: match![1]!, base64: match![2]! };
    }),
  expectStructuredOutput: (seen) => {
    expect(seen.body.messages[0]).toMatchObject({ role: 'system' });
    expect(seen.body.messages[0].content).toContain('tienda de abarrotes');
    expect(seen.body.messages[0].content).toContain('La Costeña');
    expect(seen.body.messages[1].role).toBe('user');
    expect(seen.body.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'shelf_products', strict: true, schema: DETECTION_ANSWER_JSON_SCHEMA },
    });
    expect(seen.body).toMatchObject({ max_completion_tokens: 8192, store: false, temperature: 0 });
  },
  expectRepairTurn: (seen, firstAnswer) => {
    const messages = seen.body.messages;
    expect(messages).toHaveLength(4);
    expect(messages[2]).toEqual({
      role: 'assistant',
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      content: (firstAnswer.body as any).choices[0].message.content,
    });
    expect(messages[3].role).toBe('user');
    expect(messages[3].content).toContain('Tu respuesta anterior no es válida');
    expect(messages[3].content).toContain('not valid JSON');
  },
  success: 'openai-chat-completion.json',
  firstBad: 'openai-chat-completion-not-json.json',
  secondBad: 'openai-chat-completion-invalid-schema.json',
  rateLimited: 'openai-error-429.json',
  serverError: 'openai-error-500.json',
  unauthorized: 'openai-error-401.json',
  costs: {
    // 2210 × 0.4 + 180 × 1.6
    success: [1172, 2210, 180],
    // (2210 + 2210) × 0.4 + (40 + 180) × 1.6
    repaired: [2120, 4420, 220],
    // (2210 + 2560) × 0.4 + (40 + 95) × 1.6
    badTwice: [2124, 4770, 135],
  },
};

const anthropicCase: VendorCase = {
  name: 'anthropic',
  path: '/v1/messages',
  // Not the default claude-sonnet-4-5: the installed SDK warns on every call that it is deprecated.
  model: 'claude-haiku-4-5',
  make: (overrides = {}) =>
    new AnthropicVisionProvider({
      ...common(),
      model: 'claude-haiku-4-5',
      price: { input: 1, output: 5 },
      apiKey: 'sk-ant-test',
      baseURL: vendor.baseUrl,
      ...overrides,
    }),
  // The API accepts the key as `x-api-key` or as a bearer token; this SDK line sends the latter.
  credential: (seen) =>
    seen.headers['x-api-key'] ? `x-api-key ${String(seen.headers['x-api-key'])}` : seen.headers.authorization,
  expectedCredential: 'Bearer sk-ant-test',
  userParts: (seen) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (seen.body.messages[0].content as any[]).map((block) => {
      if (block.type === 'text') return { text: block.text as string };
      expect(block.type).toBe('image');
      expect(block.source.type).toBe('base64');
      return { mediaType: block.source.media_type as string, base64: block.source.data as string };
    }),
  expectStructuredOutput: (seen) => {
    expect(seen.headers['anthropic-version']).toBeTruthy();
    expect(seen.body.system).toContain('tienda de abarrotes');
    expect(seen.body.system).toContain('La Costeña');
    expect(seen.body.messages[0].role).toBe('user');
    expect(seen.body.max_tokens).toBe(8192);
    expect(seen.body.tools).toEqual([
      expect.objectContaining({ name: 'report_shelf_products', input_schema: DETECTION_ANSWER_JSON_SCHEMA }),
    ]);
    expect(seen.body.tool_choice).toEqual({
      type: 'tool',
      name: 'report_shelf_products',
      disable_parallel_tool_use: true,
    });
  },
  expectRepairTurn: (seen, firstAnswer) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const toolUse = (firstAnswer.body as any).content[0];
    const messages = seen.body.messages;
    expect(messages).toHaveLength(3);
    expect(messages[1]).toEqual({
      role: 'assistant',
      content: [{ type: 'tool_use', id: toolUse.id, name: 'report_shelf_products', input: toolUse.input }],
    });
    expect(messages[2].role).toBe('user');
    expect(messages[2].content).toHaveLength(1);
    expect(messages[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: toolUse.id, is_error: true });
    expect(messages[2].content[0].content).toContain('Tu respuesta anterior no es válida');
    // The zod problems: a string count, an inverted box and an image that was never sent.
    expect(messages[2].content[0].content).toContain('images[0].products[0].count');
    expect(messages[2].content[0].content).toContain('right must be greater than left');
  },
  success: 'anthropic-message-tool-use.json',
  firstBad: 'anthropic-message-tool-use-invalid.json',
  secondBad: 'anthropic-message-tool-use-missing-image.json',
  rateLimited: 'anthropic-error-429.json',
  serverError: 'anthropic-error-529.json',
  unauthorized: 'anthropic-error-401.json',
  costs: {
    // 3050 × 1 + 240 × 5
    success: [4250, 3050, 240],
    // (3050 + 3050) × 1 + (120 + 240) × 5
    repaired: [7900, 6100, 360],
    // (3050 + 4420) × 1 + (120 + 60) × 5
    badTwice: [8370, 7470, 180],
  },
};

describe.each([openAiCase, anthropicCase])('$name vision adapter against a loopback server', (vendorCase) => {
  it('maps the answer to one result per frame, boxes in frame pixels, cost from usage × price', async () => {
    vendor.reply(fixture(vendorCase.success));
    const provider = vendorCase.make();

    const results = await provider.detectProducts([bigFrame, smallFrame]);

    expectStandardDetections(results);
    expect(vendor.seen).toHaveLength(1);
    const [request] = vendor.seen;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe(vendorCase.path);
    expect(vendorCase.credential(request!)).toBe(vendorCase.expectedCredential);
    expect(request!.body.model).toBe(vendorCase.model);
    vendorCase.expectStructuredOutput(request!);
    const [costUsdMicros, inputTokens, outputTokens] = vendorCase.costs.success;
    expect(provider.getCost()).toEqual({
      provider: vendorCase.name,
      model: vendorCase.model,
      units: 2,
      inputTokens,
      outputTokens,
      costUsdMicros,
      attempts: 1,
    });
    expect(provider.getProvider()).toBe(vendorCase.name);
    expect(provider.getModel()).toBe(vendorCase.model);
  });

  it('sends every frame as a labelled JPEG whose long side is at most VISION_IMAGE_MAX_SIDE_PX', async () => {
    vendor.reply(fixture(vendorCase.success));
    await vendorCase.make().detectProducts([bigFrame, smallFrame]);

    const parts = vendorCase.userParts(vendor.seen[0]!);
    expect(parts.map((part) => ('text' in part ? part.text : 'IMAGE'))).toEqual([
      'Imagen 1 de 2:',
      'IMAGE',
      'Imagen 2 de 2:',
      'IMAGE',
      expect.stringContaining('2 imágenes'),
    ]);
    const images = parts.filter((part): part is { base64: string; mediaType: string } => 'base64' in part);
    const sizes = await Promise.all(
      images.map(async (image) => {
        expect(image.mediaType).toBe('image/jpeg');
        const meta = await sharp(Buffer.from(image.base64, 'base64')).metadata();
        return { format: meta.format, width: meta.width, height: meta.height };
      }),
    );
    // 2560×1920 shrunk to a 512 px long side; the 348×348 photo is not enlarged.
    expect(sizes).toEqual([
      { format: 'jpeg', width: MAX_SIDE, height: 384 },
      { format: 'jpeg', width: 348, height: 348 },
    ]);
  });

  it('retries a 429 (honouring retry-after) and counts the retry in the cost', async () => {
    vendor.reply(fixture(vendorCase.rateLimited), fixture(vendorCase.success));
    const provider = vendorCase.make();

    expectStandardDetections(await provider.detectProducts([bigFrame, smallFrame]));

    expect(vendor.seen).toHaveLength(2);
    expect(vendor.seen[1]!.headers['x-stainless-retry-count']).toBe('1');
    const [costUsdMicros, inputTokens, outputTokens] = vendorCase.costs.success;
    expect(provider.getCost()).toMatchObject({ attempts: 2, inputTokens, outputTokens, costUsdMicros });
  });

  it('gives PROVIDER_RATE_LIMITED (retryable) when every retry is rate limited', async () => {
    vendor.reply(fixture(vendorCase.rateLimited), fixture(vendorCase.rateLimited));
    const error = await providerError(vendorCase.make({ maxRetries: 1 }).detectProducts([smallFrame]));

    expect(error.code).toBe('PROVIDER_RATE_LIMITED');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('HTTP 429');
    expect(error.cost).toMatchObject({ attempts: 2, inputTokens: 0, outputTokens: 0, costUsdMicros: 0, units: 1 });
  });

  it('gives PROVIDER_UNAVAILABLE (retryable) once the 5xx retries are exhausted, with the attempts in the cost', async () => {
    vendor.reply(fixture(vendorCase.serverError), fixture(vendorCase.serverError), fixture(vendorCase.serverError));
    const provider = vendorCase.make({ maxRetries: 2 });

    const error = await providerError(provider.detectProducts([bigFrame, smallFrame]));

    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.retryable).toBe(true);
    expect(vendor.seen).toHaveLength(3);
    expect(error.cost).toEqual({
      provider: vendorCase.name,
      model: vendorCase.model,
      units: 2,
      inputTokens: 0,
      outputTokens: 0,
      costUsdMicros: 0,
      attempts: 3,
    });
    expect(provider.getCost()).toEqual(error.cost);
  });

  it('gives PROVIDER_TIMEOUT (retryable) when the server never answers', async () => {
    vendor.reply('hang', 'hang');
    const error = await providerError(vendorCase.make({ timeoutMs: 300, maxRetries: 1 }).detectProducts([smallFrame]));

    expect(error.code).toBe('PROVIDER_TIMEOUT');
    expect(error.retryable).toBe(true);
    expect(vendor.seen).toHaveLength(2);
    expect(error.cost).toMatchObject({ attempts: 2, costUsdMicros: 0 });
  });

  it('sends an invalid answer back once with the validation problem and uses the corrected one', async () => {
    const bad = fixture(vendorCase.firstBad);
    vendor.reply(bad, fixture(vendorCase.success));
    const provider = vendorCase.make();

    expectStandardDetections(await provider.detectProducts([bigFrame, smallFrame]));

    expect(vendor.seen).toHaveLength(2);
    vendorCase.expectRepairTurn(vendor.seen[1]!, bad);
    // The repair call carries the same images.
    expect(vendorCase.userParts(vendor.seen[1]!)).toEqual(vendorCase.userParts(vendor.seen[0]!));
    const [costUsdMicros, inputTokens, outputTokens] = vendorCase.costs.repaired;
    expect(provider.getCost()).toMatchObject({ attempts: 2, units: 2, inputTokens, outputTokens, costUsdMicros });
  });

  it('gives PROVIDER_BAD_RESPONSE (not retryable) with the cost of both calls when the repair is invalid too', async () => {
    vendor.reply(fixture(vendorCase.firstBad), fixture(vendorCase.secondBad));
    const provider = vendorCase.make();

    const error = await providerError(provider.detectProducts([bigFrame, smallFrame]));

    expect(error.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('invalid twice');
    expect(vendor.seen).toHaveLength(2);
    const [costUsdMicros, inputTokens, outputTokens] = vendorCase.costs.badTwice;
    expect(error.cost).toMatchObject({ attempts: 2, units: 2, inputTokens, outputTokens, costUsdMicros });
    expect(provider.getCost()).toEqual(error.cost);
  });

  it('gives PROVIDER_REJECTED (not retryable, no retry) for a refused key', async () => {
    vendor.reply(fixture(vendorCase.unauthorized), fixture(vendorCase.success));
    const error = await providerError(vendorCase.make({ apiKey: 'sk-wrong' }).detectProducts([smallFrame]));

    expect(error.code).toBe('PROVIDER_REJECTED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('HTTP 401');
    expect(vendor.seen).toHaveLength(1);
    expect(error.cost).toMatchObject({ attempts: 1 });
  });

  it('gives PROVIDER_NOT_CONFIGURED without a key or a price, and sends nothing', async () => {
    const withoutKey = await providerError(vendorCase.make({ apiKey: null }).detectProducts([smallFrame]));
    expect(withoutKey.code).toBe('PROVIDER_NOT_CONFIGURED');
    expect(withoutKey.retryable).toBe(false);
    expect(withoutKey.message).toContain('API_KEY');
    expect(withoutKey.cost).toMatchObject({ attempts: 0, units: 0, costUsdMicros: 0 });

    const withoutPrice = await providerError(vendorCase.make({ price: null }).detectProducts([smallFrame]));
    expect(withoutPrice.code).toBe('PROVIDER_NOT_CONFIGURED');
    expect(withoutPrice.message).toContain('VISION_PRICES_JSON');

    expect(vendor.seen).toHaveLength(0);
  });

  it('refuses an unreadable frame before sending anything', async () => {
    vendor.reply(fixture(vendorCase.success));
    const provider = vendorCase.make();
    const missing: FrameInput = { ...smallFrame, frameId: 'gone', path: join(workDir, 'gone.jpg') };

    await expect(provider.detectProducts([smallFrame, missing])).rejects.toThrow(/gone.*cannot read the image/);

    expect(vendor.seen).toHaveLength(0);
    expect(provider.getCost()).toMatchObject({ attempts: 0, units: 0, costUsdMicros: 0 });
  });
});

describe('openai-compatible (self-hosted) adapter against a loopback server', () => {
  const compatible = (overrides: { apiKey?: string | null; baseURL?: string | null; batchSize?: number } = {}) =>
    new OpenAiVisionProvider({
      ...common(),
      model: 'qwen2.5vl:7b',
      price: { input: 0, output: 0 },
      providerName: 'openai-compatible',
      baseURL: `${vendor.baseUrl}/v1`,
      ...overrides,
    });

  it('works without a key (no Authorization header), in batches, frames mapped back in order', async () => {
    vendor.reply(fixture('ollama-chat-completion.json'), fixture('ollama-chat-completion-one-image.json'));
    const provider = compatible({ apiKey: null, batchSize: 2 });

    const results = await provider.detectProducts([bigFrame, smallFrame, thirdFrame]);

    expect(vendor.seen).toHaveLength(2);
    for (const request of vendor.seen) {
      expect(request.url).toBe('/v1/chat/completions');
      expect(request.headers.authorization).toBeUndefined();
      expect(request.body).toMatchObject({ model: 'qwen2.5vl:7b', max_tokens: 8192, temperature: 0 });
      expect(request.body).not.toHaveProperty('max_completion_tokens');
      expect(request.body).not.toHaveProperty('store');
      expect(request.body.response_format.json_schema.strict).toBe(true);
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const imageCount = (seen: Seen) => (seen.body.messages[1].content as any[]).filter((p) => p.type === 'image_url');
    expect(imageCount(vendor.seen[0]!)).toHaveLength(2);
    expect(imageCount(vendor.seen[1]!)).toHaveLength(1);
    expect(vendor.seen[1]!.body.messages[1].content[0]).toEqual({ type: 'text', text: 'Imagen 1 de 1:' });

    // The first answer came wrapped in a ```json fence; the second batch's image 1 is frame 3.
    expect(results.map((result) => result.frameId)).toEqual(['frame-big', 'frame-small', 'frame-third']);
    expectStandardDetections(results.slice(0, 2));
    expect(results[2]!.candidates).toEqual([
      {
        name: 'Pan Blanco Grande Bimbo 680 g',
        brand: 'Bimbo',
        barcode: '7501030411000',
        barcodeFormat: null,
        category: 'pan',
        count: 3,
        box: { x: 0, y: 0, w: 174, h: 174 },
        confidence: 0.88,
      },
    ]);
    expect(provider.getCost()).toEqual({
      provider: 'openai-compatible',
      model: 'qwen2.5vl:7b',
      units: 3,
      inputTokens: 1630 + 905,
      outputTokens: 310 + 96,
      costUsdMicros: 0,
      attempts: 2,
    });
  });

  it('sends the optional key as a bearer token', async () => {
    vendor.reply(fixture('ollama-chat-completion.json'));
    await compatible({ apiKey: 'local-secret' }).detectProducts([bigFrame, smallFrame]);
    expect(vendor.seen[0]!.headers.authorization).toBe('Bearer local-secret');
  });

  it('gives PROVIDER_NOT_CONFIGURED without a base URL', async () => {
    const error = await providerError(compatible({ baseURL: null }).detectProducts([smallFrame]));
    expect(error.code).toBe('PROVIDER_NOT_CONFIGURED');
    expect(error.message).toContain('OPENAI_COMPATIBLE_BASE_URL');
    expect(vendor.seen).toHaveLength(0);
  });

  it('returns no results and calls nothing for no frames', async () => {
    const provider = compatible();
    expect(await provider.detectProducts([])).toEqual([]);
    expect(vendor.seen).toHaveLength(0);
    expect(provider.getCost()).toMatchObject({ attempts: 0, units: 0 });
  });
});

describe('ConfiguredVisionProviderFactory (configuration → adapter)', () => {
  const factoryFor = (env: Record<string, string>) =>
    new ConfiguredVisionProviderFactory(loadConfig({ NODE_ENV: 'test', VISION_MAX_RETRIES: '0', ...env }));

  it('builds the openai adapter from OPENAI_* with the built-in price of the default model', async () => {
    const factory = factoryFor({ OPENAI_API_KEY: 'sk-test-openai', OPENAI_BASE_URL: `${vendor.baseUrl}/v1` });
    const provider = factory.create('openai');
    expect(provider.getProvider()).toBe('openai');
    expect(provider.getModel()).toBe('gpt-4.1-mini');

    vendor.reply(fixture('openai-chat-completion.json'));
    expectStandardDetections(await provider.detectProducts([bigFrame, smallFrame]));
    expect(vendor.seen[0]!.headers.authorization).toBe('Bearer sk-test-openai');
    expect(provider.getCost()).toMatchObject({ costUsdMicros: 1172, attempts: 1 });
  });

  it('prices with VISION_PRICES_JSON over the built-in table, also for a dated snapshot', async () => {
    const factory = factoryFor({
      OPENAI_API_KEY: 'sk-test-openai',
      OPENAI_BASE_URL: `${vendor.baseUrl}/v1`,
      VISION_PRICES_JSON: JSON.stringify({ 'gpt-4.1-mini': { input: 1, output: 2 } }),
    });
    const provider = factory.create('openai', 'gpt-4.1-mini-2025-04-14');
    expect(provider.getModel()).toBe('gpt-4.1-mini-2025-04-14');
    vendor.reply(fixture('openai-chat-completion.json'));
    await provider.detectProducts([bigFrame, smallFrame]);
    // 2210 × 1 + 180 × 2
    expect(provider.getCost().costUsdMicros).toBe(2570);
  });

  it('builds anthropic and openai-compatible adapters with their default models', () => {
    const factory = factoryFor({
      ANTHROPIC_API_KEY: 'sk-ant-test',
      OPENAI_COMPATIBLE_BASE_URL: `${vendor.baseUrl}/v1`,
    });
    const anthropic = factory.create('anthropic');
    expect(anthropic).toBeInstanceOf(AnthropicVisionProvider);
    expect(anthropic.getModel()).toBe('claude-sonnet-4-6');
    const selfHosted = factory.create('openai-compatible', '  ');
    expect(selfHosted.getProvider()).toBe('openai-compatible');
    expect(selfHosted.getModel()).toBe('qwen2.5vl:7b');
    expect(factory.create('barcode')).toBeInstanceOf(BarcodeVisionProvider);
  });

  it('reports a missing key or an unpriced model as PROVIDER_NOT_CONFIGURED when called', async () => {
    const factory = factoryFor({ OPENAI_API_KEY: 'sk-test-openai', OPENAI_BASE_URL: `${vendor.baseUrl}/v1` });
    expect((await providerError(factory.create('anthropic').detectProducts([smallFrame]))).code).toBe(
      'PROVIDER_NOT_CONFIGURED',
    );
    const unpriced = await providerError(factory.create('openai', 'gpt-9-vision').detectProducts([smallFrame]));
    expect(unpriced.code).toBe('PROVIDER_NOT_CONFIGURED');
    expect(unpriced.message).toContain('gpt-9-vision');
    expect(vendor.seen).toHaveLength(0);
    expect(() => factory.create('tesseract' as never)).toThrow(VisionProviderError);
  });

  it('refuses an invalid VISION_PRICES_JSON at construction (boot)', () => {
    expect(() => factoryFor({ VISION_PRICES_JSON: '{"gpt-4.1-mini": {"input": -1, "output": 2}}' })).toThrow(
      ConfigError,
    );
    expect(() => factoryFor({ VISION_PRICES_JSON: 'not json' })).toThrow(/VISION_PRICES_JSON/);
  });
});
