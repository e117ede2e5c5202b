import { Injectable } from '@nestjs/common';
import { currentContext } from '../../common/http/request-context.js';
import { AuditRepository, type AuditEntry, type AuditFilter } from './audit.repository.js';

export type { AuditEntry, AuditFilter };

/**
 * Actions written to the audit log. Dotted `<area>.<verb>` names; never rename one.
 */
export type AuditAction =
  | 'auth.signup'
  | 'auth.login'
  | 'auth.logout'
  | 'auth.refresh_reuse_detected'
  | 'auth.session_revoked'
  | 'auth.admin_promoted'
  | 'user.profile_updated'
  | 'user.contact_changed'
  | 'user.deleted'
  | 'user.role_changed'
  | 'store.created'
  | 'store.updated'
  | 'store.archived'
  | 'store.member_invited'
  | 'store.invitation_revoked'
  | 'store.invitation_accepted'
  | 'store.member_role_changed'
  | 'store.member_removed'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'credits.adjusted'
  | 'credits.package_created'
  | 'credits.package_updated'
  | 'credits.package_deleted'
  | 'setting.changed'
  | 'inventory.item_corrected'
  | 'admin.action';

/** What to record; who, when, IP and request id come from the request context. */
export interface AuditRecord {
  action: AuditAction;
  targetType?: string;
  targetId?: string;
  storeId?: string;
  metadata?: Record<string, unknown>;
  /** Overrides the actor (e.g. the user who just signed in, inside a SYSTEM transaction). */
  actorUserId?: string;
  actorRole?: string;
}

/**
 * The audit trail of sign-ups, logins, refresh-token reuse, role, member and API-key
 * changes and admin actions (issue 3). Entries are written in the caller's
 * transaction, so they exist exactly when the change they describe committed.
 */
@Injectable()
export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  async record(record: AuditRecord): Promise<void> {
    const context = currentContext();
    await this.audit.insert({
      actorUserId: record.actorUserId ?? context?.identity?.userId ?? null,
      actorRole: record.actorRole ?? context?.identity?.role ?? null,
      action: record.action,
      targetType: record.targetType ?? null,
      targetId: record.targetId ?? null,
      storeId: record.storeId ?? null,
      ip: context?.ip ?? null,
      userAgent: context?.userAgent ?? null,
      requestId: context?.requestId ?? null,
      // A request authenticated by an API key acts as SYSTEM; the entry names the key.
      metadata: context?.apiKey ? { apiKeyId: context.apiKey.id, ...record.metadata } : (record.metadata ?? {}),
    });
  }

  /** Newest first; ADMIN only (RLS returns nothing to others). */
  list(filter: AuditFilter): Promise<AuditEntry[]> {
    return this.audit.list(filter);
  }
}
