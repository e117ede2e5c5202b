import { Injectable } from '@nestjs/common';
import { DomainException } from '../../common/errors/domain.exception.js';
import { AuditService, type AuditEntry } from '../audit/audit.service.js';
import { toUserView, type UserView } from '../users/user.dto.js';
import type { User } from '../users/user.model.js';
import { UsersService } from '../users/users.service.js';
import type { AdminUserQueryDto, AuditLogQueryDto, ChangeUserRoleDto } from './admin.dto.js';

/** An audit entry as the API returns it (times as ISO-8601 strings). */
export type AuditLogView = Omit<AuditEntry, 'createdAt'> & { createdAt: string };

export type AdminUserView = UserView & { lastLoginAt: string | null };

function toAdminUserView(user: User): AdminUserView {
  return { ...toUserView(user), lastLoginAt: user.lastLoginAt?.toISOString() ?? null };
}

/**
 * The SaaS admin's tools (ADMIN only, enforced by `@Roles('ADMIN')` and by row-level
 * security): the audit log, the list of accounts, platform-role changes.
 */
@Injectable()
export class AdminService {
  constructor(
    private readonly audit: AuditService,
    private readonly users: UsersService,
  ) {}

  /** Audit entries matching every given filter, newest first, `limit` (≤ 200) per page. */
  async listAuditLogs(query: AuditLogQueryDto): Promise<{ items: AuditLogView[]; nextCursor: string | null }> {
    const entries = await this.audit.list({
      action: query.action,
      actorUserId: query.actorUserId,
      targetType: query.targetType,
      targetId: query.targetId,
      storeId: query.storeId,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      before: query.before,
      limit: query.limit + 1,
    });
    const page = entries.slice(0, query.limit);
    return {
      items: page.map((entry) => ({ ...entry, createdAt: entry.createdAt.toISOString() })),
      nextCursor: entries.length > query.limit ? (page[page.length - 1]?.id ?? null) : null,
    };
  }

  /** Live accounts, newest first, searched by phone, e-mail or name. See {@link UsersService.search}. */
  async listUsers(query: AdminUserQueryDto): Promise<{ items: AdminUserView[]; nextCursor: string | null }> {
    const { users, nextCursor } = await this.users.search({
      query: query.q,
      role: query.role,
      cursor: query.cursor,
      limit: query.limit,
    });
    return { items: users.map(toAdminUserView), nextCursor };
  }

  /**
   * Sets a person's platform role; effective on their next request (the guard reads the
   * current role). Audited as `user.role_changed` with `{ from, to }`; no entry when unchanged.
   *
   * @throws DomainException NOT_FOUND (404) for an unknown or erased account; CONFLICT (409)
   *   when an admin changes their own role (so the last admin cannot lock everyone out).
   */
  async changeRole(actorUserId: string, userId: string, dto: ChangeUserRoleDto): Promise<AdminUserView> {
    if (actorUserId === userId) {
      throw new DomainException('CONFLICT', 'Admins cannot change their own role; ask another admin.');
    }
    const user = await this.users.getById(userId);
    if (user.role === dto.role) return toAdminUserView(user);
    await this.users.setRole(userId, dto.role);
    await this.audit.record({
      action: 'user.role_changed',
      targetType: 'user',
      targetId: userId,
      metadata: { from: user.role, to: dto.role },
    });
    return toAdminUserView({ ...user, role: dto.role });
  }
}
