import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { AuditService } from '../audit/audit.service.js';
import { CreditsService } from '../credits/credits.service.js';
import { toUserView, type UserView } from '../users/user.dto.js';
import { UsersService } from '../users/users.service.js';
import type { OtpRequestDto, OtpVerifyDto } from './auth.dto.js';
import { normalizeIdentifier } from './identifier.js';
import { OtpService, type OtpChallenge } from './otp.service.js';
import { SessionsService, type SessionView, type TokenPair } from './sessions.service.js';

/** Result of a successful code verification. */
export interface SignInResult extends TokenPair {
  user: UserView;
  isNewUser: boolean;
}

/**
 * Registration and sign-in by one-time code (the same flow for both), token
 * refresh and sign-out. The first verification of an identifier creates the
 * account (role USER, or ADMIN when listed in ADMIN_IDENTIFIERS) with its wallet.
 */
@Injectable()
export class AuthService {
  private readonly adminIdentifiers: Set<string>;

  constructor(
    private readonly otp: OtpService,
    private readonly sessions: SessionsService,
    private readonly users: UsersService,
    private readonly credits: CreditsService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.adminIdentifiers = new Set(
      config.ADMIN_IDENTIFIERS.map((raw) => normalizeIdentifier(raw, 'ADMIN_IDENTIFIERS').value),
    );
  }

  /** Sends a sign-in code. Same answer whether or not an account exists. See {@link OtpService.request}. */
  requestCode(dto: OtpRequestDto): Promise<OtpChallenge> {
    return this.otp.request(normalizeIdentifier(dto.identifier), 'LOGIN');
  }

  /**
   * Verifies the code; signs the person in, creating the account on first use.
   *
   * @throws DomainException OTP_INVALID (401), OTP_LOCKED (429), VALIDATION_FAILED (400).
   */
  async verifyCode(dto: OtpVerifyDto): Promise<SignInResult> {
    const identifier = normalizeIdentifier(dto.identifier);
    return this.otp.verify({ identifier, code: dto.code, purpose: 'LOGIN' }, async () => {
      const { user, created, promoted } = await this.users.signIn({
        kind: identifier.kind,
        value: identifier.value,
        admin: this.adminIdentifiers.has(identifier.value),
        referralCode: dto.referralCode ?? null,
      });
      if (created) await this.credits.openWallet(user.id);
      if (created) await this.credits.grantWelcome(user.id);
      await this.audit.record({
        action: created ? 'auth.signup' : 'auth.login',
        actorUserId: user.id,
        actorRole: user.role,
        targetType: 'user',
        targetId: user.id,
        metadata: {
          channel: identifier.channel,
          ...(created && dto.referralCode ? { referralCode: dto.referralCode } : {}),
        },
      });
      if (promoted) {
        await this.audit.record({
          action: 'auth.admin_promoted',
          actorUserId: user.id,
          actorRole: 'SYSTEM',
          targetType: 'user',
          targetId: user.id,
          metadata: { reason: 'ADMIN_IDENTIFIERS' },
        });
      }
      const tokens = await this.sessions.open(user.id, user.role);
      return { ...tokens, user: toUserView(user), isNewUser: created };
    });
  }

  /** Rotates a refresh token. See {@link SessionsService.refresh}. */
  refresh(refreshToken: string): Promise<TokenPair> {
    return this.sessions.refresh(refreshToken, async (userId) => {
      const user = await this.users.findById(userId);
      return user && !user.deletedAt ? user.role : null;
    });
  }

  /** Signs out this session, or every session of the account. */
  async logout(userId: string, sessionId: string | undefined, allSessions: boolean): Promise<void> {
    if (allSessions || !sessionId) {
      await this.sessions.revokeAll(userId, null, 'LOGOUT_ALL');
      return;
    }
    await this.sessions.revoke(userId, sessionId, 'LOGOUT');
  }

  listSessions(userId: string, currentSessionId: string | undefined): Promise<SessionView[]> {
    return this.sessions.list(userId, currentSessionId);
  }

  revokeSession(userId: string, sessionId: string): Promise<void> {
    return this.sessions.revoke(userId, sessionId, 'REVOKED_BY_USER');
  }
}
