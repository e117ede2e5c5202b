import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { findModelPrice, loadPriceTable, type ModelPrice, type PriceTable } from './pricing.js';
import { AnthropicVisionProvider } from './providers/anthropic.provider.js';
import { BarcodeVisionProvider } from './providers/barcode.provider.js';
import type { CloudVisionOptions } from './providers/cloud-vision.provider.js';
import { OpenAiVisionProvider } from './providers/openai.provider.js';
import {
  VisionProviderError,
  type VisionProvider,
  type VisionProviderFactory,
  type VisionProviderName,
} from './vision-provider.port.js';

/** Frames sent per call to a cloud provider. */
export const CLOUD_BATCH_SIZE = 6;

/** A self-hosted model costs nothing per token unless VISION_PRICES_JSON names it. */
const SELF_HOSTED_PRICE: ModelPrice = Object.freeze({ input: 0, output: 0 });

/**
 * Builds the vision adapter for a provider name and model (the admin setting; DESIGN.md
 * "Vision providers"), from configuration: `barcode` (offline, the default), `openai`,
 * `anthropic`, `openai-compatible`. Keys and base URLs come from OPENAI_*, ANTHROPIC_* and
 * OPENAI_COMPATIBLE_*; timeouts, retries, image size and prices from VISION_*.
 *
 * Wire it as `{ provide: VISION_PROVIDER_FACTORY, useClass: ConfiguredVisionProviderFactory }`.
 *
 * @throws ConfigError at construction (boot) when VISION_PRICES_JSON is not valid (see `loadPriceTable`).
 */
@Injectable()
export class ConfiguredVisionProviderFactory implements VisionProviderFactory {
  private readonly prices: PriceTable;
  private readonly logger = new Logger('VisionProvider');

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.prices = loadPriceTable(config.VISION_PRICES_JSON);
  }

  /**
   * A new adapter (adapters keep the cost of their last call: use one per session job).
   *
   * @param model model id; null/blank → OPENAI_MODEL, ANTHROPIC_MODEL or OPENAI_COMPATIBLE_MODEL.
   *   Ignored by `barcode`.
   * @throws VisionProviderError PROVIDER_NOT_CONFIGURED for an unknown provider name. A missing
   *   key, base URL or model price is reported by `detectProducts` (PROVIDER_NOT_CONFIGURED,
   *   nothing sent), so the pipeline handles it like any provider failure.
   */
  create(name: VisionProviderName, model?: string | null): VisionProvider {
    const config = this.config;
    const chosen = model?.trim() || null;
    switch (name) {
      case 'barcode':
        return new BarcodeVisionProvider();
      case 'openai': {
        const id = chosen ?? config.OPENAI_MODEL;
        return new OpenAiVisionProvider({
          ...this.common(id, findModelPrice(this.prices, id)),
          providerName: 'openai',
          apiKey: config.OPENAI_API_KEY ?? null,
          baseURL: config.OPENAI_BASE_URL ?? null,
        });
      }
      case 'openai-compatible': {
        const id = chosen ?? config.OPENAI_COMPATIBLE_MODEL;
        return new OpenAiVisionProvider({
          ...this.common(id, findModelPrice(this.prices, id) ?? SELF_HOSTED_PRICE),
          providerName: 'openai-compatible',
          apiKey: config.OPENAI_COMPATIBLE_API_KEY ?? null,
          baseURL: config.OPENAI_COMPATIBLE_BASE_URL ?? null,
        });
      }
      case 'anthropic': {
        const id = chosen ?? config.ANTHROPIC_MODEL;
        return new AnthropicVisionProvider({
          ...this.common(id, findModelPrice(this.prices, id)),
          apiKey: config.ANTHROPIC_API_KEY ?? null,
          baseURL: config.ANTHROPIC_BASE_URL ?? null,
        });
      }
      default:
        throw new VisionProviderError(
          'PROVIDER_NOT_CONFIGURED',
          `unknown vision provider "${String(name)}" (expected barcode, openai, anthropic or openai-compatible)`,
          false,
        );
    }
  }

  private common(model: string, price: ModelPrice | null): CloudVisionOptions {
    return {
      model,
      price,
      timeoutMs: this.config.VISION_TIMEOUT_SECONDS * 1000,
      maxRetries: this.config.VISION_MAX_RETRIES,
      imageMaxSidePx: this.config.VISION_IMAGE_MAX_SIDE_PX,
      batchSize: CLOUD_BATCH_SIZE,
      logger: this.logger,
    };
  }
}
