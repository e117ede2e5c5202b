import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type { ContentBlockParam, MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { DETECTION_ANSWER_JSON_SCHEMA } from '../detection-schema.js';
import { VisionProviderError } from '../vision-provider.port.js';
import {
  CloudVisionProvider,
  batchInstruction,
  imageLabel,
  providerErrorFromSdk,
  repairInstruction,
  sdkLogger,
  type CallTally,
  type CloudVisionOptions,
  type ModelReply,
  type PreparedImage,
  type RepairRequest,
} from './cloud-vision.provider.js';

/** Default base URL of the Anthropic API. */
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** Name of the tool the model is made to call with its answer. */
export const ANTHROPIC_TOOL_NAME = 'report_shelf_products';

/** Settings of {@link AnthropicVisionProvider}. */
export interface AnthropicVisionProviderOptions extends CloudVisionOptions {
  /** ANTHROPIC_API_KEY; required. */
  apiKey?: string | null;
  /** ANTHROPIC_BASE_URL (default https://api.anthropic.com). */
  baseURL?: string | null;
}

/** The assistant content of an answer and its tool call, sent back in a repair call. */
interface AnthropicTurn {
  assistantContent: ContentBlockParam[];
  toolUseId: string | null;
}

const REPORT_TOOL: Tool = {
  name: ANTHROPIC_TOOL_NAME,
  description:
    'Registra los productos que se ven en cada imagen enviada: una entrada por imagen, en orden, con el nombre, ' +
    'la marca, la categoría, el código de barras legible, las piezas visibles, la confianza y el rectángulo 0–1000.',
  input_schema: DETECTION_ANSWER_JSON_SCHEMA as Tool.InputSchema,
};

/**
 * Vision adapter `anthropic` (issue 6, adapter 3) on the official `@anthropic-ai/sdk` Messages API.
 *
 * Each call sends the Spanish prompt as `system` and a user message with, per frame, the label
 * "Imagen i de N:" and the resized JPEG as a base64 `image` block; the model must answer by
 * calling the tool {@link ANTHROPIC_TOOL_NAME} (`tool_choice: {type: 'tool'}`), whose
 * `input_schema` is {@link DETECTION_ANSWER_JSON_SCHEMA}
 * (https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use, "Forcing tool use").
 * A repair call appends the assistant's tool call and a `tool_result` with `is_error: true`
 * carrying the validation problem. Tokens: `usage.input_tokens` + cache creation + cache read
 * tokens (all at the input price) and `usage.output_tokens`.
 *
 * The client reads nothing from the environment: key and base URL are passed explicitly.
 */
export class AnthropicVisionProvider extends CloudVisionProvider<Anthropic, AnthropicTurn> {
  constructor(private readonly settings: AnthropicVisionProviderOptions) {
    super('anthropic', settings);
  }

  protected configurationProblem(): string | null {
    if (!this.settings.apiKey) return 'ANTHROPIC_API_KEY is not set';
    if (!this.settings.price) {
      return `no price for model "${this.settings.model}": add it to VISION_PRICES_JSON ({"${this.settings.model}": {"input": …, "output": …}} in USD per million tokens)`;
    }
    return null;
  }

  protected createClient(fetch: typeof globalThis.fetch): Anthropic {
    return new Anthropic({
      apiKey: this.settings.apiKey ?? null,
      baseURL: this.settings.baseURL || ANTHROPIC_DEFAULT_BASE_URL,
      webhookKey: null,
      timeout: this.settings.timeoutMs,
      maxRetries: this.settings.maxRetries,
      fetch,
      logger: sdkLogger(this.logger),
      logLevel: 'warn',
      openTelemetry: false,
    });
  }

  protected async ask(
    client: Anthropic,
    images: readonly PreparedImage[],
    repair: RepairRequest<AnthropicTurn> | null,
    tally: CallTally,
  ): Promise<ModelReply<AnthropicTurn>> {
    const count = images.length;
    const content: ContentBlockParam[] = images.flatMap((image, i): ContentBlockParam[] => [
      { type: 'text', text: imageLabel(i + 1, count) },
      { type: 'image', source: { type: 'base64', media_type: image.mediaType, data: image.base64 } },
    ]);
    content.push({ type: 'text', text: batchInstruction(count) });
    const messages: MessageParam[] = [{ role: 'user', content }];
    if (repair) {
      const { assistantContent, toolUseId } = repair.previous.turn;
      const instruction = repairInstruction(repair.problem, count);
      messages.push(
        { role: 'assistant', content: assistantContent.length > 0 ? assistantContent : '(sin respuesta)' },
        {
          role: 'user',
          content: toolUseId
            ? [{ type: 'tool_result', tool_use_id: toolUseId, is_error: true, content: instruction }]
            : instruction,
        },
      );
    }
    const message = await client.messages.create({
      model: this.settings.model,
      max_tokens: this.maxOutputTokens,
      system: this.prompt,
      messages,
      tools: [REPORT_TOOL],
      tool_choice: { type: 'tool', name: ANTHROPIC_TOOL_NAME, disable_parallel_tool_use: true },
    });
    const usage = message.usage;
    tally.addUsage(
      (usage?.input_tokens ?? 0) + (usage?.cache_creation_input_tokens ?? 0) + (usage?.cache_read_input_tokens ?? 0),
      usage?.output_tokens,
    );
    if (message.stop_reason === 'refusal') {
      throw new VisionProviderError('PROVIDER_REJECTED', `${this.label()}: the model refused to answer`, false);
    }
    const assistantContent: ContentBlockParam[] = [];
    let toolUse: { id: string; input: unknown } | null = null;
    for (const block of message.content) {
      if (block.type === 'text') assistantContent.push({ type: 'text', text: block.text });
      else if (block.type === 'tool_use') {
        assistantContent.push({ type: 'tool_use', id: block.id, name: block.name, input: block.input });
        if (block.name === ANTHROPIC_TOOL_NAME && !toolUse) toolUse = { id: block.id, input: block.input };
      }
    }
    let problem = toolUse ? null : `the model did not call the tool ${ANTHROPIC_TOOL_NAME}`;
    if (message.stop_reason === 'max_tokens') {
      problem = `the answer was cut at the output token limit (${this.maxOutputTokens})${problem ? `; ${problem}` : ''}`;
    }
    return { value: toolUse?.input, problem, turn: { assistantContent, toolUseId: toolUse?.id ?? null } };
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
