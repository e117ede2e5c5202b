import { readFileSync } from 'node:fs';
import { Logger, type LoggerService } from '@nestjs/common';
import sharp from 'sharp';
import { parseDetectionAnswer, toDetectionResults, type DetectionAnswer } from '../detection-schema.js';
import { tokenCostUsdMicros, type ModelPrice } from '../pricing.js';
import {
  VisionProviderError,
  type DetectionResult,
  type FrameInput,
  type ProviderCost,
  type VisionProvider,
  type VisionProviderErrorCode,
} from '../vision-provider.port.js';

/**
 * What the cloud adapters (`openai`, `anthropic`, `openai-compatible`) share (issue 6, adapters
 * 2–4): the Spanish prompt, resizing frames before sending, batching several frames per call,
 * validating the model's JSON with one repair call, mapping SDK failures to
 * {@link VisionProviderError} codes, and adding up tokens and cost for COGS.
 */

/** Settings every cloud adapter takes (the factory fills them from configuration). */
export interface CloudVisionOptions {
  /** Model id sent to the API, e.g. `gpt-4.1-mini`, `claude-sonnet-4-5`, `qwen2.5vl:7b`. */
  model: string;
  /**
   * USD per million tokens (see `pricing.ts`). Null when the model has no price: then
   * `detectProducts` fails with PROVIDER_NOT_CONFIGURED before any call, so no cost goes unrecorded.
   */
  price: ModelPrice | null;
  /** Milliseconds one HTTP attempt may take (VISION_TIMEOUT_SECONDS × 1000); the SDK retries a timeout. */
  timeoutMs: number;
  /** Retries of one request by the SDK on 408/409/429/5xx, timeouts and connection errors, with backoff (VISION_MAX_RETRIES). */
  maxRetries: number;
  /** Longest side, pixels, of the JPEG sent for a frame (VISION_IMAGE_MAX_SIDE_PX); smaller frames are not enlarged. */
  imageMaxSidePx: number;
  /** Frames per API call (default 6); the model answers per image of the call. */
  batchSize?: number;
  /** Output token limit of one call (default 8192). */
  maxOutputTokens?: number;
  /** JPEG quality 1–100 of the images sent (default 85). */
  jpegQuality?: number;
  /** System prompt; default: `prompts/shelf-products.es.md`. */
  prompt?: string;
  logger?: LoggerService;
  /** `fetch` the SDK uses (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/** One frame as sent: a JPEG, base64, with its size in pixels. */
export interface PreparedImage {
  base64: string;
  mediaType: 'image/jpeg';
  width: number;
  height: number;
}

/** Tokens and HTTP attempts of one `detectProducts` call, repair calls and SDK retries included. */
export class CallTally {
  attempts = 0;
  inputTokens = 0;
  outputTokens = 0;
  /** Frames whose images were sent at least once. */
  frames = 0;

  /** Adds the usage a response reported (missing or negative numbers count as 0). */
  addUsage(inputTokens: number | null | undefined, outputTokens: number | null | undefined): void {
    this.inputTokens += Math.max(0, Math.trunc(inputTokens ?? 0));
    this.outputTokens += Math.max(0, Math.trunc(outputTokens ?? 0));
  }
}

/** What a subclass returns for one model call. */
export interface ModelReply<TTurn> {
  /** The JSON value the model answered (parsed), or undefined when it answered none. */
  value: unknown;
  /** Why the answer is unusable before validation (English), e.g. "the answer is not JSON: …"; null otherwise. */
  problem: string | null;
  /** What the subclass needs to send the answer back in a repair call. */
  turn: TTurn;
}

/** A repair call: the previous answer and what is wrong with it. */
export interface RepairRequest<TTurn> {
  previous: ModelReply<TTurn>;
  problem: string;
}

/** SDK error classes (openai and @anthropic-ai/sdk share this Stainless hierarchy). */
export interface SdkErrorClasses {
  APIError: abstract new (...args: never[]) => Error;
  APIConnectionError: abstract new (...args: never[]) => Error;
  APIConnectionTimeoutError: abstract new (...args: never[]) => Error;
  APIUserAbortError: abstract new (...args: never[]) => Error;
}

/** Logger of the vendor SDKs (`logger` client option): their lines go to the Nest logger, never to the console. */
export function sdkLogger(logger: LoggerService) {
  return {
    error: (message: string) => logger.error(message),
    warn: (message: string) => logger.warn(message),
    info: (message: string) => logger.log(message),
    debug: (message: string) => logger.debug?.(message),
  };
}

export const SHELF_PROMPT_URL = new URL('../prompts/shelf-products.es.md', import.meta.url);
let shelfPrompt: string | undefined;

/**
 * The system prompt of the cloud adapters (Spanish, for Mexican shop shelves), read once from
 * `prompts/shelf-products.es.md` next to this module (the build copies it with `swc --copy-files`).
 *
 * @throws Error when the file is missing (a broken build).
 */
export function loadShelfPrompt(): string {
  shelfPrompt ??= readFileSync(SHELF_PROMPT_URL, 'utf8').trim();
  return shelfPrompt;
}

/** Label placed before image `position` (1-based) of `count` in a request. */
export function imageLabel(position: number, count: number): string {
  return `Imagen ${position} de ${count}:`;
}

/** Last text of a request: what to answer. */
export function batchInstruction(count: number): string {
  return count === 1
    ? 'Reporta los productos de la imagen 1 con el formato JSON indicado.'
    : `Reporta los productos de cada una de las ${count} imágenes con el formato JSON indicado, una entrada por imagen.`;
}

const MAX_PROBLEM_CHARS = 4000;

function clip(text: string, max = MAX_PROBLEM_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Text of a repair call: the validation problem and the request for corrected JSON. */
export function repairInstruction(problem: string, count: number): string {
  return (
    `Tu respuesta anterior no es válida:\n${clip(problem)}\n\n` +
    `Vuelve a responder completa y corregida, con una entrada para cada una de las ${count} imágenes, ` +
    'solo con el JSON en el formato indicado.'
  );
}

/**
 * Decoded JSON of a model's text answer; tolerates a Markdown code fence around it (some
 * self-hosted models add one).
 */
export function parseJsonText(text: string): { value: unknown; problem: string | null } {
  let body = text.trim();
  const fenced = /^```(?:json)?\s*\n?([\s\S]*?)\n?```$/i.exec(body);
  if (fenced?.[1] !== undefined) body = fenced[1].trim();
  if (body === '') return { value: undefined, problem: 'the answer is empty' };
  try {
    return { value: JSON.parse(body), problem: null };
  } catch (error) {
    return { value: undefined, problem: `the answer is not valid JSON (${(error as Error).message})` };
  }
}

/**
 * Maps an SDK failure (after the SDK's own retries) to a {@link VisionProviderError}:
 * timeout → PROVIDER_TIMEOUT; connection failure, 409 and 5xx (529 overloaded included) →
 * PROVIDER_UNAVAILABLE; 429 → PROVIDER_RATE_LIMITED (all retryable); 408 → PROVIDER_TIMEOUT;
 * other 4xx (bad key, bad request, quota) → PROVIDER_REJECTED (not retryable).
 *
 * @returns null for anything else (a programming error, to rethrow as is).
 */
export function providerErrorFromSdk(
  error: unknown,
  classes: SdkErrorClasses,
  label: string,
  attempts: number,
): VisionProviderError | null {
  // Plain boolean tests: the SDK classes are structurally alike, so type-guard narrowing would
  // wrongly rule out the later ones.
  const is = (type: abstract new (...args: never[]) => Error): boolean => error instanceof type;
  if (!(error instanceof Error) || is(classes.APIUserAbortError)) return null;
  const tried = `after ${attempts} attempt(s)`;
  if (is(classes.APIConnectionTimeoutError)) {
    return new VisionProviderError('PROVIDER_TIMEOUT', `${label}: request timed out ${tried}`, true);
  }
  if (is(classes.APIConnectionError)) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
    return new VisionProviderError('PROVIDER_UNAVAILABLE', `${label}: connection failed ${tried} (${detail})`, true);
  }
  const { status, code: sdkCode } = error as { status?: unknown; code?: unknown };
  if (!is(classes.APIError) || typeof status !== 'number') return null;
  let code: VisionProviderErrorCode;
  let retryable = true;
  if (status === 429 && sdkCode === 'insufficient_quota') {
    // OpenAI: the account has no credit left; waiting does not help.
    code = 'PROVIDER_REJECTED';
    retryable = false;
  } else if (status === 429) code = 'PROVIDER_RATE_LIMITED';
  else if (status === 408) code = 'PROVIDER_TIMEOUT';
  else if (status === 409 || status >= 500) code = 'PROVIDER_UNAVAILABLE';
  else {
    code = 'PROVIDER_REJECTED';
    retryable = false;
  }
  return new VisionProviderError(code, `${label}: HTTP ${status} ${tried}: ${clip(error.message, 500)}`, retryable);
}

/**
 * Base of the cloud adapters. `detectProducts` splits the frames into batches of `batchSize`,
 * sends each batch's resized images in one call, validates the JSON answer with
 * {@link parseDetectionAnswer}, asks once for a corrected answer when it is invalid, and maps it
 * back to one {@link DetectionResult} per frame, in input order.
 *
 * Subclasses supply the SDK client and the vendor's request/answer format.
 */
export abstract class CloudVisionProvider<TClient, TTurn> implements VisionProvider {
  protected readonly logger: LoggerService;
  protected readonly prompt: string;
  protected readonly batchSize: number;
  protected readonly maxOutputTokens: number;
  private readonly jpegQuality: number;
  private lastCost: ProviderCost;

  protected constructor(
    protected readonly providerName: string,
    protected readonly options: CloudVisionOptions,
  ) {
    this.logger = options.logger ?? new Logger('VisionProvider');
    this.prompt = options.prompt ?? loadShelfPrompt();
    this.batchSize = positiveInteger(options.batchSize ?? 6, 'batchSize');
    this.maxOutputTokens = positiveInteger(options.maxOutputTokens ?? 8192, 'maxOutputTokens');
    this.jpegQuality = Math.min(100, positiveInteger(options.jpegQuality ?? 85, 'jpegQuality'));
    this.lastCost = this.costOf(new CallTally());
  }

  getProvider(): string {
    return this.providerName;
  }

  getModel(): string {
    return this.options.model;
  }

  /**
   * Cost of the last `detectProducts` call, failed ones included: tokens of every response that
   * reported usage (repair calls included), USD micro-dollars at the model's price, frames sent
   * (`units`) and HTTP attempts (SDK retries and repair calls included).
   */
  getCost(): ProviderCost {
    return { ...this.lastCost };
  }

  /**
   * Detects the products in each frame; see the class description.
   *
   * @param frames JPEG frames on local disk with their size in pixels; may be empty (no call).
   * @returns one result per frame, in input order; boxes in frame pixels, or null.
   * @throws VisionProviderError with the cost spent so far in `cost`: PROVIDER_NOT_CONFIGURED
   *   (missing key, base URL or model price; nothing sent), PROVIDER_RATE_LIMITED,
   *   PROVIDER_UNAVAILABLE and PROVIDER_TIMEOUT (retryable, after the SDK's retries),
   *   PROVIDER_REJECTED (4xx or a refusal, not retryable), PROVIDER_BAD_RESPONSE (the answer
   *   was invalid twice, not retryable).
   * @throws Error when a frame is malformed or its file cannot be read (checked before any call).
   */
  async detectProducts(frames: readonly FrameInput[]): Promise<DetectionResult[]> {
    const tally = new CallTally();
    try {
      const problem = this.configurationProblem();
      if (problem) throw new VisionProviderError('PROVIDER_NOT_CONFIGURED', `${this.label()}: ${problem}`, false);
      if (frames.length === 0) return [];
      await checkFrames(frames);
      const client = this.createClient(countingFetch(tally, this.options.fetch ?? globalThis.fetch));
      const results: DetectionResult[] = [];
      for (let start = 0; start < frames.length; start += this.batchSize) {
        const batch = frames.slice(start, start + this.batchSize);
        const images = await Promise.all(batch.map((frame) => this.prepareImage(frame)));
        tally.frames += batch.length;
        const answer = await this.answerBatch(client, images, tally);
        results.push(...toDetectionResults(answer, batch));
      }
      this.logger.log(
        {
          provider: this.providerName,
          model: this.options.model,
          frames: frames.length,
          attempts: tally.attempts,
          inputTokens: tally.inputTokens,
          outputTokens: tally.outputTokens,
        },
        `vision: ${frames.length} frame(s) analysed by ${this.label()}`,
      );
      return results;
    } catch (error) {
      const cost = this.costOf(tally);
      const failure = error instanceof VisionProviderError ? error : this.classifyError(error, tally.attempts);
      if (!failure) throw error;
      this.logger.warn(
        { provider: this.providerName, model: this.options.model, code: failure.code, attempts: tally.attempts },
        failure.message,
      );
      throw new VisionProviderError(failure.code, failure.message, failure.retryable, cost);
    } finally {
      this.lastCost = this.costOf(tally);
    }
  }

  /** `provider/model`, for messages. */
  protected label(): string {
    return `${this.providerName} (${this.options.model})`;
  }

  /** Why this adapter cannot be called (missing key, base URL…), or null. */
  protected abstract configurationProblem(): string | null;

  /** A client of the vendor's SDK that sends its requests through `fetch`. */
  protected abstract createClient(fetch: typeof globalThis.fetch): TClient;

  /**
   * Sends one call for `images` (or a repair call) and adds the response's usage to `tally`.
   *
   * @throws VisionProviderError PROVIDER_REJECTED when the model refuses; SDK errors as they are.
   */
  protected abstract ask(
    client: TClient,
    images: readonly PreparedImage[],
    repair: RepairRequest<TTurn> | null,
    tally: CallTally,
  ): Promise<ModelReply<TTurn>>;

  /** Maps an SDK error to a provider error (see {@link providerErrorFromSdk}), or null. */
  protected abstract classifyError(error: unknown, attempts: number): VisionProviderError | null;

  private async answerBatch(
    client: TClient,
    images: readonly PreparedImage[],
    tally: CallTally,
  ): Promise<DetectionAnswer> {
    const first = await this.ask(client, images, null, tally);
    const checked = check(first, images.length);
    if (checked.ok) return checked.answer;
    this.logger.warn(
      {
        provider: this.providerName,
        model: this.options.model,
        images: images.length,
        problem: clip(checked.problem, 1000),
      },
      `vision: invalid answer from ${this.label()}; asking once for a corrected one`,
    );
    const second = await this.ask(client, images, { previous: first, problem: checked.problem }, tally);
    const rechecked = check(second, images.length);
    if (rechecked.ok) return rechecked.answer;
    throw new VisionProviderError(
      'PROVIDER_BAD_RESPONSE',
      `${this.label()}: the answer for ${images.length} image(s) was invalid twice (first answer and one repair request): ${clip(rechecked.problem, 1000)}`,
      false,
    );
  }

  private async prepareImage(frame: FrameInput): Promise<PreparedImage> {
    const max = this.options.imageMaxSidePx;
    try {
      const { data, info } = await sharp(frame.path)
        .resize({ width: max, height: max, fit: 'inside', withoutEnlargement: true })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality: this.jpegQuality })
        .toBuffer({ resolveWithObject: true });
      return { base64: data.toString('base64'), mediaType: 'image/jpeg', width: info.width, height: info.height };
    } catch (error) {
      throw new Error(`frame ${frame.frameId}: cannot read the image ${frame.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private costOf(tally: CallTally): ProviderCost {
    const price = this.options.price;
    return {
      provider: this.providerName,
      model: this.options.model,
      units: tally.frames,
      inputTokens: tally.inputTokens,
      outputTokens: tally.outputTokens,
      costUsdMicros: price ? tokenCostUsdMicros(price, tally.inputTokens, tally.outputTokens) : 0,
      attempts: tally.attempts,
    };
  }
}

function check<TTurn>(reply: ModelReply<TTurn>, imageCount: number) {
  return reply.problem !== null
    ? ({ ok: false, problem: reply.problem } as const)
    : parseDetectionAnswer(reply.value, imageCount);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** `fetch` that counts every HTTP attempt (the SDK's retries go through it too). */
function countingFetch(tally: CallTally, base: typeof globalThis.fetch): typeof globalThis.fetch {
  return (input, init) => {
    tally.attempts += 1;
    return base(input, init);
  };
}

/**
 * Checks every frame before anything is sent (bad input costs nothing): an id, a path, a size in
 * whole pixels, and a file the image library can read.
 */
async function checkFrames(frames: readonly FrameInput[]): Promise<void> {
  await Promise.all(
    frames.map(async (frame, position) => {
      const name = `frame ${position} (${String(frame?.frameId)})`;
      if (!frame || typeof frame.frameId !== 'string' || typeof frame.path !== 'string' || frame.path === '') {
        throw new TypeError(`${name}: frameId and path are required`);
      }
      for (const [key, value] of [
        ['width', frame.width],
        ['height', frame.height],
      ] as const) {
        if (!Number.isSafeInteger(value) || value < 1)
          throw new TypeError(`${name}: ${key} must be a positive integer`);
      }
      try {
        await sharp(frame.path).metadata();
      } catch (error) {
        throw new Error(`${name}: cannot read the image ${frame.path}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
}
