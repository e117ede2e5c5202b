import { z } from 'zod';
import { VISION_PROVIDER_NAMES } from '../vision/vision-provider.port.js';

/**
 * The settings admins may change, each with its value schema and description (the source of
 * truth for `PUT /admin/settings/{key}`).
 */
export const SETTING_DEFINITIONS = {
  vision_provider: {
    schema: z.enum(VISION_PROVIDER_NAMES),
    description: 'Active vision provider: barcode (offline), openai, anthropic or openai-compatible.',
  },
  vision_model: {
    schema: z.string().trim().min(1).max(200).nullable(),
    description: 'Model of the active cloud provider; null = the configured default (OPENAI_MODEL, …).',
  },
  welcome_credits: {
    schema: z.number().int().min(0).max(100),
    description: 'Credits granted once to every new user (integer).',
  },
} as const;
export type SettingKey = keyof typeof SETTING_DEFINITIONS;
export const SETTING_KEYS = Object.keys(SETTING_DEFINITIONS) as SettingKey[];

export const SettingKeyParamSchema = z.enum(SETTING_KEYS as [SettingKey, ...SettingKey[]]);

export const SettingViewSchema = z
  .object({
    key: z.string(),
    value: z.unknown().describe('JSON value'),
    description: z.string().nullable(),
    updatedBy: z.uuid().nullable(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Setting' });
export type SettingView = z.infer<typeof SettingViewSchema>;

export const SettingListSchema = z.object({ items: z.array(SettingViewSchema) }).meta({ id: 'SettingList' });

export const PutSettingSchema = z.strictObject({ value: z.unknown() }).meta({ id: 'PutSetting' });
export type PutSettingDto = z.infer<typeof PutSettingSchema>;
