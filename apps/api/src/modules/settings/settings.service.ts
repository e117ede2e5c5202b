import { Inject, Injectable } from '@nestjs/common';
import { DomainException } from '../../common/errors/domain.exception.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { TransactionService } from '../../database/transaction.service.js';
import { AuditService } from '../audit/audit.service.js';
import type { VisionProviderName } from '../vision/vision-provider.port.js';
import { SETTING_DEFINITIONS, type SettingKey, type SettingView } from './settings.dto.js';
import { SettingsRepository, type SettingRow } from './settings.repository.js';

function toView(row: SettingRow): SettingView {
  return {
    key: row.key,
    value: row.value,
    description: row.description,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * Admin settings (`admin.settings`; DESIGN.md "Vision providers": the provider is chosen per
 * deployment in admin settings). Reads for workers run as SYSTEM; writes are ADMIN, validated
 * per key ({@link SETTING_DEFINITIONS}) and audited (`setting.changed`).
 */
@Injectable()
export class SettingsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly settings: SettingsRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
  ) {}

  /** Every setting (ADMIN, in the request transaction). */
  async list(): Promise<SettingView[]> {
    return (await this.settings.list()).map(toView);
  }

  /**
   * Sets `key` to `value` (ADMIN), audited with the old and new values.
   *
   * @throws VALIDATION_FAILED (400) the value does not fit the key's schema.
   */
  async put(actorUserId: string, key: SettingKey, value: unknown): Promise<SettingView> {
    const definition = SETTING_DEFINITIONS[key];
    const parsed = definition.schema.safeParse(value);
    if (!parsed.success) {
      throw new DomainException(
        'VALIDATION_FAILED',
        `Invalid value for ${key}.`,
        parsed.error.issues.map((issue) => ({ field: ['value', ...issue.path].join('.'), message: issue.message })),
      );
    }
    const before = await this.settings.get(key);
    const row = await this.settings.put(key, parsed.data, definition.description, actorUserId);
    await this.audit.record({
      action: 'setting.changed',
      targetType: 'setting',
      targetId: key,
      metadata: { from: before?.value ?? null, to: parsed.data },
    });
    return toView(row);
  }

  /**
   * The active vision provider and model (SYSTEM read, for the pipeline): the `vision_provider`
   * and `vision_model` settings, else VISION_PROVIDER and the provider's configured model.
   */
  async visionChoice(): Promise<{ provider: VisionProviderName; model: string | null }> {
    return this.transactions.runAsSystem(async () => {
      const provider = SETTING_DEFINITIONS.vision_provider.schema.safeParse(
        (await this.settings.get('vision_provider'))?.value,
      );
      const model = SETTING_DEFINITIONS.vision_model.schema.safeParse((await this.settings.get('vision_model'))?.value);
      return {
        provider: provider.success ? provider.data : this.config.VISION_PROVIDER,
        model: model.success ? model.data : null,
      };
    });
  }
}
