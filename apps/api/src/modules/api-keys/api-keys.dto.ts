import { z } from 'zod';
import { API_KEY_SCOPES } from './api-key-scopes.js';

/** `POST /admin/api-keys` body. */
export const CreateApiKeySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).describe('who uses the key, e.g. "payments relay"'),
    scopes: z
      .array(z.enum(API_KEY_SCOPES))
      .min(1)
      .max(API_KEY_SCOPES.length)
      .refine((scopes) => new Set(scopes).size === scopes.length, 'scopes must not repeat')
      .describe('what the key may do'),
    expiresAt: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('when the key stops working (must be in the future); absent: never'),
  })
  .meta({ id: 'CreateApiKey' });
export type CreateApiKeyDto = z.infer<typeof CreateApiKeySchema>;

/** An API key as admins see it: never its secret. */
export const ApiKeyViewSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().describe('first part of the key ("mik_<prefix>_…"), to recognise it'),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    createdBy: z.uuid().nullable(),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
    status: z.enum(['ACTIVE', 'EXPIRED', 'REVOKED']),
  })
  .meta({ id: 'ApiKey' });
export type ApiKeyView = z.infer<typeof ApiKeyViewSchema>;

/** `POST /admin/api-keys` answer (201): the key itself, shown this once only. */
export const CreatedApiKeySchema = ApiKeyViewSchema.extend({
  key: z
    .string()
    .describe('the secret "mik_<prefix>_<secret>"; send it as x-api-key. It is not stored and never shown again'),
}).meta({ id: 'CreatedApiKey' });

export const ApiKeyListSchema = z.object({ items: z.array(ApiKeyViewSchema) }).meta({ id: 'ApiKeyList' });

/** `DELETE /admin/api-keys/{id}` path. */
export { UuidParamSchema as ApiKeyIdParamSchema } from '../../common/http/params.js';

/** `GET /internal/ping` answer: the calling key. */
export const InternalPingSchema = z
  .object({
    keyId: z.uuid(),
    name: z.string(),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    time: z.iso.datetime().describe('server time (UTC)'),
  })
  .meta({ id: 'InternalPing' });
