import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletionContentPart,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { DETECTION_ANSWER_JSON_SCHEMA } from '../detection-schema.js';
import { VisionProviderError } from '../vision-provider.port.js';
import {
  CloudVisionProvider,
  batchInstruction,
  imageLabel,
  parseJsonText,
  providerErrorFromSdk,
  repairInstruction,
  sdkLogger,
  type CallTally,
  type CloudVisionOptions,
  type ModelReply,
  type PreparedImage,
  type RepairRequest,
} from './cloud-vision.provider.js';

/** Default base URL of the OpenAI API. */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** Name of the structured-output schema sent in `response_format`. */
export const OPENAI_SCHEMA_NAME = 'shelf_products';

/** Settings of {@link OpenAiVisionProvider}. */
export interface OpenAiVisionProviderOptions extends CloudVisionOptions {
  /**
   * `openai` (default): api.openai.com or OPENAI_BASE_URL, a key is required.
   * `openai-compatible`: a self-hosted server (Ollama, vLLM) at `baseURL`, key optional.
   */
  providerName?: 'openai' | 'openai-compatible';
  /** API key (OPENAI_API_KEY / OPENAI_COMPATIBLE_API_KEY); without one, no Authorization header is sent. */
  apiKey?: string | null;
  /** Base URL ending in `/v1` (OPENAI_BASE_URL / OPENAI_COMPATIBLE_BASE_URL); required for openai-compatible. */
  baseURL?: string | null;
  /** `detail` of each image (default `high`: shelves need the small print). */
  imageDetail?: 'low' | 'high' | 'auto';
}

/** The assistant text of an answer, sent back in a repair call. */
interface OpenAiTurn {
  assistantText: string;
}

/**
 * Models that reject `temperature` (reasoning models: o1, o3, o4-mini, gpt-5…), per
 * https://platform.openai.com/docs/guides/reasoning.
 */
const REASONING_MODEL = /^(o\d|gpt-5)/i;

/**
 * Vision adapters `openai` and `openai-compatible` (issue 6, adapters 2 and 4) on the official
 * `openai` SDK's Chat Completions API, which self-hosted servers (Ollama, vLLM) also speak.
 *
 * Each call sends the Spanish system prompt and a user message with, per frame, the label
 * "Imagen i de N:" and the resized JPEG as a base64 `image_url` data URL; the answer is
 * constrained by `response_format: {type: 'json_schema', json_schema: {strict: true, schema}}`
 * with {@link DETECTION_ANSWER_JSON_SCHEMA} (https://platform.openai.com/docs/guides/structured-outputs).
 * A repair call appends the invalid answer as the assistant turn and the validation problem as a
 * user turn. Tokens come from `usage.prompt_tokens` / `usage.completion_tokens` (cached prompt
 * tokens are charged at the full input price: COGS errs high).
 *
 * The client reads nothing from the environment: key, base URL, organisation and project are
 * passed explicitly (CONVENTIONS #9).
 */
export class OpenAiVisionProvider extends CloudVisionProvider<OpenAI, OpenAiTurn> {
  constructor(private readonly settings: OpenAiVisionProviderOptions) {
    super(settings.providerName ?? 'openai', settings);
  }

  protected configurationProblem(): string | null {
    if (this.providerName === 'openai' && !this.settings.apiKey) return 'OPENAI_API_KEY is not set';
    if (this.providerName === 'openai-compatible' && !this.settings.baseURL) {
      return 'OPENAI_COMPATIBLE_BASE_URL is not set';
    }
    if (!this.settings.price) {
      return `no price for model "${this.settings.model}": add it to VISION_PRICES_JSON ({"${this.settings.model}": {"input": …, "output": …}} in USD per million tokens)`;
    }
    return null;
  }

  protected createClient(fetch: typeof globalThis.fetch): OpenAI {
    const apiKey = this.settings.apiKey || null;
    return new OpenAI({
      // The SDK refuses to start without a key; a keyless self-hosted server gets none: the
      // placeholder is never sent because the Authorization header is removed below.
      apiKey: apiKey ?? 'no-key',
      ...(apiKey ? {} : { defaultHeaders: { Authorization: null } }),
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      baseURL: this.settings.baseURL || OPENAI_DEFAULT_BASE_URL,
      timeout: this.settings.timeoutMs,
      maxRetries: this.settings.maxRetries,
      fetch,
      logger: sdkLogger(this.logger),
      logLevel: 'warn',
    });
  }

  protected async ask(
    client: OpenAI,
    images: readonly PreparedImage[],
    repair: RepairRequest<OpenAiTurn> | null,
    tally: CallTally,
  ): Promise<ModelReply<OpenAiTurn>> {
    const count = images.length;
    const content: ChatCompletionContentPart[] = images.flatMap((image, i): ChatCompletionContentPart[] => [
      { type: 'text', text: imageLabel(i + 1, count) },
      {
        type: 'image_url',
        image_url: {
          url: `data:${image.mediaType};base64,${image.base64}`,
          detail: this.settings.imageDetail ?? 'high',
        },
      },
    ]);
    content.push({ type: 'text', text: batchInstruction(count) });
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: this.prompt },
      { role: 'user', content },
    ];
    if (repair) {
      messages.push(
        { role: 'assistant', content: repair.previous.turn.assistantText },
        { role: 'user', content: repairInstruction(repair.problem, count) },
      );
    }
    const selfHosted = this.providerName === 'openai-compatible';
    const body: ChatCompletionCreateParamsNonStreaming = {
      model: this.settings.model,
      messages,
      response_format: {
        type: 'json_schema',
        json_schema: { name: OPENAI_SCHEMA_NAME, strict: true, schema: DETECTION_ANSWER_JSON_SCHEMA },
      },
      // Ollama and older vLLM know only `max_tokens`; OpenAI deprecated it for `max_completion_tokens`.
      ...(selfHosted
        ? { max_tokens: this.maxOutputTokens }
        : { max_completion_tokens: this.maxOutputTokens, store: false }),
      ...(selfHosted || !REASONING_MODEL.test(this.settings.model) ? { temperature: 0 } : {}),
    };
    const completion = await client.chat.completions.create(body);
    tally.addUsage(completion.usage?.prompt_tokens, completion.usage?.completion_tokens);
    if (!completion.usage) {
      this.logger.warn(`vision: ${this.label()} reported no token usage; this call is recorded at 0 tokens`);
    }
    const choice = completion.choices[0];
    if (choice?.message.refusal) {
      throw new VisionProviderError(
        'PROVIDER_REJECTED',
        `${this.label()}: the model refused: ${choice.message.refusal.slice(0, 500)}`,
        false,
      );
    }
    const text = choice?.message.content ?? '';
    const parsed = parseJsonText(text);
    let problem = choice ? parsed.problem : 'the answer has no choices';
    if (choice?.finish_reason === 'length') {
      problem = `the answer was cut at the output token limit (${this.maxOutputTokens})${problem ? `; ${problem}` : ''}`;
    }
    return { value: parsed.value, problem, turn: { assistantText: text } };
  }

  protected classifyError(error: unknown, attempts: number): VisionProviderError | null {
    return providerErrorFromSdk(
      error,
      { APIError, APIConnectionError, APIConnectionTimeoutError, APIUserAbortError },
      this.label(),
      attempts,
    );
  }
}
