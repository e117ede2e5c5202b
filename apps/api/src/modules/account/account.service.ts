import { Injectable } from '@nestjs/common';
import { DomainException } from '../../common/errors/domain.exception.js';
import { AuditService } from '../audit/audit.service.js';
import { normalizeIdentifier } from '../auth/identifier.js';
import { OtpService, type OtpChallenge } from '../auth/otp.service.js';
import { SessionsService } from '../auth/sessions.service.js';
import { toUserView, type UserView } from '../users/user.dto.js';
import { UsersService } from '../users/users.service.js';
import type { ContactChangeRequestDto, ContactChangeVerifyDto, UpdateMeDto } from './account.dto.js';

/**
 * The signed-in person's own account: profile, a new phone or e-mail proven with a
 * fresh code, and deletion (Mexico's LFPDPPP "cancelación": personal data erased,
 * ledger and audit history kept under the anonymous account id).
 */
@Injectable()
export class AccountService {
  constructor(
    private readonly users: UsersService,
    private readonly otp: OtpService,
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
  ) {}

  async me(userId: string): Promise<UserView> {
    return toUserView(await this.users.getById(userId));
  }

  /** @throws DomainException NOT_FOUND when the account was erased meanwhile. */
  async update(userId: string, dto: UpdateMeDto): Promise<UserView> {
    const user = await this.users.updateProfile(userId, dto);
    if (!user) throw new DomainException('NOT_FOUND', 'User was not found.');
    await this.audit.record({
      action: 'user.profile_updated',
      targetType: 'user',
      targetId: userId,
      metadata: { fields: Object.keys(dto) },
    });
    return toUserView(user);
  }

  /**
   * Sends a code to the new phone or e-mail. Same limits as sign-in codes.
   *
   * @throws DomainException VALIDATION_FAILED, OTP_RESEND_TOO_SOON, OTP_LOCKED, MESSAGE_DELIVERY_FAILED.
   */
  requestContactChange(userId: string, dto: ContactChangeRequestDto): Promise<OtpChallenge> {
    const identifier = normalizeIdentifier(dto.identifier);
    return this.otp.request(identifier, identifier.kind === 'phone' ? 'CHANGE_PHONE' : 'CHANGE_EMAIL', userId);
  }

  /**
   * Proves the new phone or e-mail with its code and sets it on the account.
   *
   * @throws DomainException OTP_INVALID (401), OTP_LOCKED (429), CONTACT_IN_USE (409) when
   *   another account already uses it (told only after the code proved possession).
   */
  async verifyContactChange(userId: string, dto: ContactChangeVerifyDto): Promise<UserView> {
    const identifier = normalizeIdentifier(dto.identifier);
    return this.otp.verify(
      {
        identifier,
        code: dto.code,
        purpose: identifier.kind === 'phone' ? 'CHANGE_PHONE' : 'CHANGE_EMAIL',
        requestedByUserId: userId,
      },
      async () => {
        const holder = await this.users.findByContact(identifier.kind, identifier.value);
        if (holder && holder.id !== userId) {
          throw new DomainException(
            'CONTACT_IN_USE',
            `This ${identifier.kind === 'phone' ? 'phone' : 'e-mail'} belongs to another account.`,
          );
        }
        const before = await this.users.getById(userId);
        const user = await this.users.setContact(userId, identifier.kind, identifier.value);
        if (!user) throw new DomainException('NOT_FOUND', 'User was not found.');
        await this.audit.record({
          action: 'user.contact_changed',
          actorUserId: userId,
          targetType: 'user',
          targetId: userId,
          metadata: {
            kind: identifier.kind,
            hadPrevious: identifier.kind === 'phone' ? before.phone !== null : before.email !== null,
          },
        });
        return toUserView(user);
      },
    );
  }

  /**
   * Deletes the account: personal data erased, every session closed, memberships
   * removed. The wallet and its ledger stay (money history), tied to the anonymous id.
   */
  async delete(userId: string, beforeErase: (userId: string) => Promise<void>): Promise<void> {
    await beforeErase(userId);
    await this.users.anonymise(userId);
    await this.sessions.revokeAll(userId, null, 'ACCOUNT_DELETED');
    await this.audit.record({ action: 'user.deleted', targetType: 'user', targetId: userId });
  }
}
