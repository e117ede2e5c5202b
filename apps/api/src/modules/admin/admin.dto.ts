import { z } from 'zod';
import { UserViewSchema } from '../users/user.dto.js';

const PLATFORM_ROLES = ['USER', 'OWNER', 'OPERATOR', 'ADMIN'] as const;

/** `GET /admin/audit-logs` query: filters (all optional, combined with AND) and the cursor. */
export const AuditLogQuerySchema = z
  .strictObject({
    action: z
      .string()
      .regex(/^[a-z_]+\.[a-z_]+$/, 'an action such as user.role_changed')
      .optional(),
    actorUserId: z.uuid().optional(),
    targetType: z.string().trim().min(1).max(64).optional(),
    targetId: z.string().trim().min(1).max(200).optional(),
    storeId: z.uuid().optional(),
    from: z.iso.datetime({ offset: true }).optional().describe('entries at or after this time'),
    to: z.iso.datetime({ offset: true }).optional().describe('entries strictly before this time'),
    before: z
      .string()
      .regex(/^\d{1,19}$/, 'the nextCursor of a previous page')
      .optional()
      .describe('cursor: the nextCursor of the previous page'),
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('entries per page (at most 200)'),
  })
  .meta({ id: 'AuditLogQuery' });
export type AuditLogQueryDto = z.infer<typeof AuditLogQuerySchema>;

/** One audit entry: who (actor), what (action, target), where (IP, request id), when. */
export const AuditLogEntrySchema = z
  .object({
    id: z.string().describe('increasing; newest first'),
    actorUserId: z.uuid().nullable().describe('00000000-0000-0000-0000-000000000000 for SYSTEM'),
    actorRole: z.string().nullable(),
    action: z.string(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    storeId: z.uuid().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'AuditLogEntry' });

export const AuditLogPageSchema = z
  .object({
    items: z.array(AuditLogEntrySchema),
    nextCursor: z.string().nullable().describe('pass as `before` for the next (older) page; null on the last'),
  })
  .meta({ id: 'AuditLogPage' });

/** `GET /admin/users` query. */
export const AdminUserQuerySchema = z
  .strictObject({
    q: z
      .string()
      .trim()
      .min(2)
      .max(254)
      .optional()
      .describe('part of a phone number (digits, e.g. "55 1234"), e-mail address or name'),
    role: z.enum(PLATFORM_ROLES).optional(),
    cursor: z.string().max(200).optional().describe('the nextCursor of the previous page'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .meta({ id: 'AdminUserQuery' });
export type AdminUserQueryDto = z.infer<typeof AdminUserQuerySchema>;

/** An account as admins see it. */
export const AdminUserViewSchema = UserViewSchema.extend({ lastLoginAt: z.iso.datetime().nullable() }).meta({
  id: 'AdminUser',
});

export const AdminUserPageSchema = z
  .object({ items: z.array(AdminUserViewSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'AdminUserPage' });

/** `PATCH /admin/users/{userId}` body. */
export const ChangeUserRoleSchema = z
  .strictObject({ role: z.enum(PLATFORM_ROLES).describe('the new platform role') })
  .meta({ id: 'ChangeUserRole' });
export type ChangeUserRoleDto = z.infer<typeof ChangeUserRoleSchema>;

/** `PATCH /admin/users/{userId}` path. */
export { UuidParamSchema as UserIdParamSchema } from '../../common/http/params.js';
