import { Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { TransactionService } from '../../database/transaction.service.js';
import { AuditService } from '../audit/audit.service.js';
import { UsersService } from '../users/users.service.js';
import { StoreAccessService } from './store-access.service.js';
import type { MemberView, StoreRole } from './stores.dto.js';
import { StoresRepository, type MemberRow } from './stores.repository.js';

/**
 * Members of a store (issue 3 "Stores" and "Roles and access"): list (any member),
 * change a role and remove (OWNER), leave (any member, for themself). A store always
 * keeps at least one OWNER: the last one can be neither demoted nor removed, and
 * cannot leave (409 LAST_OWNER); member changes of one store are serialised on the
 * store row so two OWNERs demoting each other cannot both succeed. Removal takes
 * effect on the member's very next request (access is checked in the database on
 * every request, not read from the token).
 */
@Injectable()
export class StoreMembersService {
  constructor(
    private readonly stores: StoresRepository,
    private readonly access: StoreAccessService,
    private readonly users: UsersService,
    private readonly audit: AuditService,
    private readonly transactions: TransactionService,
  ) {}

  /**
   * The members of a store, OWNERs first, with names and contact data.
   *
   * @throws NotFoundDomainException NOT_FOUND when the caller is not a member.
   */
  async list(userId: string, storeId: string): Promise<MemberView[]> {
    await this.access.assertStoreAccess(userId, storeId, 'OPERATOR');
    const rows = await this.stores.listMembers(storeId);
    const people = new Map((await this.users.findByIds(rows.map((row) => row.user_id))).map((u) => [u.id, u]));
    return rows.map((row) => this.toView(row, people));
  }

  /**
   * Gives a member another role (OWNER). Setting the role a member already has changes
   * nothing and is not audited.
   *
   * @throws NOT_FOUND (404) store not the caller's, or `memberId` is not a member;
   *   FORBIDDEN (403) the caller is an OPERATOR; LAST_OWNER (409) demoting the only OWNER.
   */
  async changeRole(userId: string, storeId: string, memberId: string, role: StoreRole): Promise<MemberView> {
    await this.access.assertStoreAccess(userId, storeId, 'OWNER');
    await this.stores.lockStore(storeId);
    const member = await this.stores.findMember(storeId, memberId);
    if (!member) throw new NotFoundDomainException('Member');
    let updated = member;
    if (member.role !== role) {
      if (member.role === 'OWNER') await this.assertAnotherOwner(storeId);
      updated = (await this.stores.setMemberRole(storeId, memberId, role)) ?? member;
      // Platform role of another person's account: RLS lets only its owner (or SYSTEM) write it.
      if (role === 'OWNER') await this.transactions.elevate(() => this.users.ensureRoleAtLeast(memberId, 'OWNER'));
      await this.audit.record({
        action: 'store.member_role_changed',
        targetType: 'user',
        targetId: memberId,
        storeId,
        metadata: { from: member.role, to: role },
      });
    }
    const people = new Map((await this.users.findByIds([memberId])).map((u) => [u.id, u]));
    return this.toView(updated, people);
  }

  /**
   * Removes a member (OWNER), or the caller themself (any member: leaving the store).
   *
   * @throws NOT_FOUND (404) store not the caller's, or `memberId` is not a member;
   *   FORBIDDEN (403) an OPERATOR removing someone else; LAST_OWNER (409) removing the only OWNER.
   */
  async remove(userId: string, storeId: string, memberId: string): Promise<void> {
    const self = memberId === userId;
    const callerRole = await this.access.assertStoreAccess(userId, storeId, self ? 'OPERATOR' : 'OWNER');
    // Only OWNERs may lock the store (RLS), and only removing an OWNER needs the lock.
    if (callerRole === 'OWNER') await this.stores.lockStore(storeId);
    const member = await this.stores.findMember(storeId, memberId);
    if (!member) throw new NotFoundDomainException('Member');
    if (member.role === 'OWNER') await this.assertAnotherOwner(storeId);
    if (!(await this.stores.deleteMember(storeId, memberId))) throw new NotFoundDomainException('Member');
    await this.audit.record({
      action: 'store.member_removed',
      targetType: 'user',
      targetId: memberId,
      storeId,
      metadata: { role: member.role, left: self },
    });
  }

  private async assertAnotherOwner(storeId: string): Promise<void> {
    if ((await this.stores.countOwners(storeId)) <= 1) {
      throw new DomainException(
        'LAST_OWNER',
        'A store needs at least one OWNER: make someone else OWNER first, or archive the store.',
      );
    }
  }

  private toView(
    row: MemberRow,
    people: Map<string, { displayName: string | null; phone: string | null; email: string | null }>,
  ): MemberView {
    const person = people.get(row.user_id);
    return {
      userId: row.user_id,
      displayName: person?.displayName ?? null,
      phone: person?.phone ?? null,
      email: person?.email ?? null,
      role: row.role,
      joinedAt: row.created_at.toISOString(),
    };
  }
}
