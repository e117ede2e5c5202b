import { Inject, Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { currentContext } from '../../common/http/request-context.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { publicBaseUrl } from '../../config/public-url.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { TransactionService } from '../../database/transaction.service.js';
import { AuditService } from '../audit/audit.service.js';
import { normalizeIdentifier } from '../auth/identifier.js';
import { MESSAGE_SENDER, type MessageSender } from '../notifications/message-sender.port.js';
import type { User } from '../users/user.model.js';
import { UsersService } from '../users/users.service.js';
import { InvitationsRepository, type InvitationRow } from './invitations.repository.js';
import { StoreAccessService } from './store-access.service.js';
import type { CreateInvitationDto, InvitationView, MyInvitationView, StoreView } from './stores.dto.js';
import { StoresRepository } from './stores.repository.js';
import { StoresService } from './stores.service.js';

/** An invitation is valid for 7 days (issue 3). */
export const INVITATION_TTL_SECONDS = 7 * 86400;
/** Base of accept links when PUBLIC_URL is not set (the seed API port). */

/** What a person is called in an invitation: their name, else their phone or e-mail. */
function displayNameOf(user: Pick<User, 'displayName' | 'phone' | 'email'> | undefined): string | null {
  return user?.displayName ?? user?.phone ?? user?.email ?? null;
}

/**
 * Invitations to join a store (issue 3 "Stores": members are invited by phone or e-mail
 * with a role, and accept after signing in).
 *
 * - An OWNER invites a phone number or e-mail (normalised like sign-in identifiers) as
 *   OWNER or OPERATOR. The message goes out through the message port (SMS or e-mail,
 *   Spanish) with an accept link `<PUBLIC_URL>/invitaciones/<id>`. Inviting the same
 *   identifier again replaces the pending invitation (the old link stops working).
 * - The invitation lasts 7 days and is accepted only by a signed-in person whose
 *   verified phone or e-mail is the one invited; anyone else gets 404, as for an
 *   unknown id. Accepting again an invitation one already accepted, while still a
 *   member, is idempotent (200, same answer).
 * - Acceptance writes the membership as SYSTEM (row-level security keeps membership
 *   inserts to OWNERs), after the checks above.
 */
@Injectable()
export class InvitationsService {
  private readonly publicUrl: string;

  constructor(
    private readonly invitations: InvitationsRepository,
    private readonly stores: StoresRepository,
    private readonly storesService: StoresService,
    private readonly access: StoreAccessService,
    private readonly users: UsersService,
    private readonly audit: AuditService,
    private readonly transactions: TransactionService,
    @Inject(MESSAGE_SENDER) private readonly sender: MessageSender,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.publicUrl = publicBaseUrl(config);
  }

  /** The link an invitee opens (a web route); it works only for the person invited. */
  acceptUrl(invitationId: string): string {
    return `${this.publicUrl}/invitaciones/${invitationId}`;
  }

  /**
   * Invites a phone or e-mail to a store (OWNER) as OWNER or OPERATOR (default) and sends the invitation.
   *
   * @returns the new pending invitation (expires in 7 days).
   * @throws NOT_FOUND (404) not the caller's store; FORBIDDEN (403) the caller is an OPERATOR;
   *   VALIDATION_FAILED (400, field `identifier`) neither a phone nor an e-mail;
   *   ALREADY_MEMBER (409) that person is already a member; MESSAGE_DELIVERY_FAILED (502)
   *   the channel refused the message (nothing is kept).
   */
  async invite(userId: string, storeId: string, dto: CreateInvitationDto): Promise<InvitationView> {
    await this.access.assertStoreAccess(userId, storeId, 'OWNER');
    const identifier = normalizeIdentifier(dto.identifier);
    // RLS shows the caller only themself and co-members, so this reveals nothing about other accounts.
    const existing = await this.users.findByContact(identifier.kind, identifier.value);
    if (existing && (await this.stores.findMember(storeId, existing.id))) {
      throw new DomainException('ALREADY_MEMBER', 'This person is already a member of the store.');
    }
    const role = dto.role ?? 'OPERATOR';
    const now = this.clock.now();
    const replaced = await this.invitations.revokePendingFor(storeId, identifier.value, now);
    const row = await this.invitations.insert({
      storeId,
      identifier: identifier.value,
      channel: identifier.channel,
      role,
      invitedBy: userId,
      expiresAt: new Date(now.getTime() + INVITATION_TTL_SECONDS * 1000),
      createdAt: now,
    });
    const store = await this.storesService.get(userId, storeId);
    const inviter = await this.users.getById(userId);
    await this.audit.record({
      action: 'store.member_invited',
      targetType: 'invitation',
      targetId: row.id,
      storeId,
      metadata: { role, channel: identifier.channel, replaced },
    });
    // Last, so a refused delivery rolls back everything above and nothing is left half-done.
    await this.sender.send({
      channel: identifier.channel,
      to: identifier.value,
      template: 'store.invitation',
      params: {
        storeName: store.name,
        role,
        inviterName: displayNameOf(inviter) ?? 'MiInventario',
        acceptUrl: this.acceptUrl(row.id),
      },
      requestId: currentContext()?.requestId,
    });
    return this.toView(row, now);
  }

  /**
   * The store's invitations that are neither accepted nor revoked, newest first;
   * `status` is EXPIRED once past `expiresAt` (OWNER).
   *
   * @throws NOT_FOUND (404); FORBIDDEN (403) for an OPERATOR.
   */
  async listForStore(userId: string, storeId: string): Promise<InvitationView[]> {
    await this.access.assertStoreAccess(userId, storeId, 'OWNER');
    const now = this.clock.now();
    return (await this.invitations.listPending(storeId)).map((row) => this.toView(row, now));
  }

  /**
   * Revokes a pending invitation (OWNER); its link stops working.
   *
   * @throws NOT_FOUND (404) store not the caller's, or no pending invitation with that id
   *   in it; FORBIDDEN (403) for an OPERATOR.
   */
  async revoke(userId: string, storeId: string, invitationId: string): Promise<void> {
    await this.access.assertStoreAccess(userId, storeId, 'OWNER');
    if (!(await this.invitations.revoke(storeId, invitationId, this.clock.now()))) {
      throw new NotFoundDomainException('Invitation');
    }
    await this.audit.record({
      action: 'store.invitation_revoked',
      targetType: 'invitation',
      targetId: invitationId,
      storeId,
    });
  }

  /**
   * The live invitations (pending, not expired, store not archived) addressed to the
   * caller's verified phone or e-mail, newest first.
   */
  async listMine(userId: string): Promise<MyInvitationView[]> {
    const identifiers = this.identifiersOf(await this.users.getById(userId));
    const now = this.clock.now();
    // Elevated: the invitee cannot read the store (nor the inviter) before joining.
    const rows = await this.transactions.elevate(() => this.invitations.listLiveFor(identifiers, now));
    const inviterIds = [...new Set(rows.flatMap((row) => (row.invited_by ? [row.invited_by] : [])))];
    const inviters = new Map(
      (await this.transactions.elevate(() => this.users.findByIds(inviterIds))).map((u) => [u.id, u]),
    );
    return rows.map((row) => ({
      id: row.id,
      store: { id: row.store_id, name: row.store_name, giro: row.store_giro },
      role: row.role,
      inviterName: row.invited_by ? displayNameOf(inviters.get(row.invited_by)) : null,
      expiresAt: row.expires_at.toISOString(),
      createdAt: row.created_at.toISOString(),
    }));
  }

  /**
   * Accepts an invitation addressed to the caller: they become a member with the
   * invitation's role (and get at least that platform role). Idempotent: accepting
   * again while still a member answers the same. A person who already belongs to the
   * store keeps their current role.
   *
   * @returns the store, with the caller's role in it.
   * @throws NOT_FOUND (404) unknown id, addressed to someone else, revoked, store archived,
   *   or accepted earlier by a person who is no longer a member; INVITATION_EXPIRED (410)
   *   past its 7 days.
   */
  async accept(userId: string, invitationId: string): Promise<StoreView> {
    const mine = new Set(this.identifiersOf(await this.users.getById(userId)));
    // As the caller first: RLS shows an invitation only to its store's OWNERs and its addressee.
    const visible = await this.invitations.findVisible(invitationId);
    if (!visible || !mine.has(visible.identifier)) throw new NotFoundDomainException('Invitation');
    const now = this.clock.now();
    const outcome = await this.transactions.elevate(async () => {
      const invitation = await this.invitations.lockWithStore(invitationId);
      if (!invitation || !mine.has(invitation.identifier) || invitation.revoked_at || invitation.store_archived_at) {
        throw new NotFoundDomainException('Invitation');
      }
      if (invitation.accepted_at) {
        const stillMember = await this.stores.findMember(invitation.store_id, userId);
        if (invitation.accepted_by === userId && stillMember) return { invitation, accepted: false, added: false };
        throw new NotFoundDomainException('Invitation');
      }
      if (invitation.expires_at.getTime() <= now.getTime()) {
        throw new DomainException('INVITATION_EXPIRED', 'This invitation has expired; ask for a new one.');
      }
      const added = await this.stores.insertInvitedMember({
        storeId: invitation.store_id,
        userId,
        role: invitation.role,
        invitationId,
        addedBy: invitation.invited_by,
      });
      await this.invitations.markAccepted(invitationId, userId, now);
      return { invitation, accepted: true, added };
    });
    const { invitation } = outcome;
    if (outcome.accepted) {
      if (outcome.added) await this.users.ensureRoleAtLeast(userId, invitation.role);
      await this.audit.record({
        action: 'store.invitation_accepted',
        targetType: 'invitation',
        targetId: invitationId,
        storeId: invitation.store_id,
        metadata: { role: invitation.role, added: outcome.added },
      });
    }
    return this.storesService.get(userId, invitation.store_id);
  }

  private identifiersOf(user: User): string[] {
    return [user.phone, user.email].filter((value): value is string => value !== null);
  }

  private toView(row: InvitationRow, now: Date): InvitationView {
    return {
      id: row.id,
      storeId: row.store_id,
      identifier: row.identifier,
      channel: row.channel,
      role: row.role,
      status: row.expires_at.getTime() <= now.getTime() ? 'EXPIRED' : 'PENDING',
      invitedBy: row.invited_by,
      acceptUrl: this.acceptUrl(row.id),
      expiresAt: row.expires_at.toISOString(),
      createdAt: row.created_at.toISOString(),
    };
  }
}
