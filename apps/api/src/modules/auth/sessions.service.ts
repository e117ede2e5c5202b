import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { DomainException } from '../../common/errors/domain.exception.js';
import { currentContext } from '../../common/http/request-context.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { TransactionService } from '../../database/transaction.service.js';
import { AuditService } from '../audit/audit.service.js';
import { SessionsRepository } from './sessions.repository.js';
import { TokenService, type AccessTokenClaims, type PlatformRole } from './token.service.js';

/** Tokens handed to a client after sign-in or refresh. Lifetimes in seconds. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Access-token lifetime (900). */
  expiresIn: number;
  /** Refresh-token lifetime (604800). */
  refreshExpiresIn: number;
  /** The session (refresh-token family) id, also the token's `sid`. */
  sessionId: string;
}

/** A signed-in device as its owner sees it. */
export interface SessionView {
  id: string;
  startedAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

const REFRESH_PREFIX = 'mirt_';

/**
 * Sign-in sessions: refresh tokens that are opaque, random (256 bits), stored as
 * SHA-256, valid REFRESH_TOKEN_TTL_SECONDS (7 days) and rotated on every use.
 * Presenting an already-rotated token revokes its whole family and is audited
 * (RFC 9700 §4.14.2, refresh-token rotation with reuse detection).
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly tokens: TokenService,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Opens a new session for the user in the current transaction and returns its tokens. */
  async open(userId: string, role: PlatformRole): Promise<TokenPair> {
    const familyId = randomUUID();
    const refreshToken = this.newRefreshToken();
    const now = this.clock.now();
    const context = currentContext();
    await this.sessions.insertSession({
      userId,
      familyId,
      parentId: null,
      tokenHash: this.hash(refreshToken),
      expiresAt: new Date(now.getTime() + this.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      createdAt: now,
      userAgent: context?.userAgent ?? null,
      ip: context?.ip ?? null,
    });
    return this.pair(userId, familyId, role, refreshToken);
  }

  /**
   * Exchanges a refresh token for a new pair; the presented token is spent.
   *
   * @throws DomainException REFRESH_TOKEN_INVALID (401) for an unknown, expired or revoked
   *   token; REFRESH_TOKEN_REUSED (401) when it was already rotated — the family is then revoked.
   */
  async refresh(refreshToken: string, roleOf: (userId: string) => Promise<PlatformRole | null>): Promise<TokenPair> {
    const outcome = await this.transactions.runAsSystem(async (): Promise<TokenPair | DomainException> => {
      const now = this.clock.now();
      const invalid = new DomainException('REFRESH_TOKEN_INVALID', 'The refresh token is not valid; sign in again.');
      if (!refreshToken.startsWith(REFRESH_PREFIX)) return invalid;
      const row = await this.sessions.lockSessionByTokenHash(this.hash(refreshToken));
      if (!row || row.revoked_at) return invalid;
      if (row.rotated_at) {
        await this.sessions.revokeFamily(row.family_id, now, 'REFRESH_TOKEN_REUSED', true);
        await this.audit.record({
          action: 'auth.refresh_reuse_detected',
          actorUserId: row.user_id,
          actorRole: 'SYSTEM',
          targetType: 'session',
          targetId: row.family_id,
          metadata: { rotatedAt: row.rotated_at.toISOString() },
        });
        return new DomainException(
          'REFRESH_TOKEN_REUSED',
          'This refresh token was already used; the session is closed.',
        );
      }
      if (row.expires_at.getTime() <= now.getTime()) return invalid;
      const role = await roleOf(row.user_id);
      if (!role) return invalid;
      await this.sessions.markRotated(row.id, now);
      const next = this.newRefreshToken();
      const context = currentContext();
      await this.sessions.insertSession({
        userId: row.user_id,
        familyId: row.family_id,
        parentId: row.id,
        tokenHash: this.hash(next),
        expiresAt: new Date(now.getTime() + this.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
        createdAt: now,
        userAgent: context?.userAgent ?? row.user_agent,
        ip: context?.ip ?? row.ip,
      });
      return this.pair(row.user_id, row.family_id, role, next);
    });
    if (outcome instanceof DomainException) throw outcome;
    return outcome;
  }

  /**
   * The identity behind a verified access token when its session is still open and
   * the account not erased; null otherwise. Runs as SYSTEM, once per request.
   */
  async resolve(claims: AccessTokenClaims): Promise<PlatformRole | null> {
    const role = await this.transactions.runAsSystem(() =>
      this.sessions.activeSessionRole(claims.userId, claims.sessionId, this.clock.now()),
    );
    return (role as PlatformRole | null) ?? null;
  }

  /** The user's open sessions, marking the one of this request. */
  async list(userId: string, currentSessionId: string | undefined): Promise<SessionView[]> {
    const rows = await this.transactions.elevate(() => this.sessions.listFamilies(userId, this.clock.now()));
    return rows.map((row) => ({
      id: row.family_id,
      startedAt: row.started_at,
      lastUsedAt: row.last_used_at,
      expiresAt: row.expires_at,
      userAgent: row.user_agent,
      ip: row.ip,
      current: row.family_id === currentSessionId,
    }));
  }

  /**
   * Closes one of the user's sessions (its access tokens stop working at once).
   *
   * @throws DomainException NOT_FOUND when the session is not the user's.
   */
  async revoke(userId: string, sessionId: string, reason: 'LOGOUT' | 'REVOKED_BY_USER'): Promise<void> {
    await this.transactions.elevate(async () => {
      if (!(await this.sessions.familyBelongsTo(sessionId, userId))) {
        throw new DomainException('NOT_FOUND', 'Session was not found.');
      }
      await this.sessions.revokeFamily(sessionId, this.clock.now(), reason);
      await this.audit.record({
        action: reason === 'LOGOUT' ? 'auth.logout' : 'auth.session_revoked',
        actorUserId: userId,
        targetType: 'session',
        targetId: sessionId,
      });
    });
  }

  /** Closes every session of the user except `keepSessionId`; returns how many were closed. */
  async revokeAll(userId: string, keepSessionId: string | null, reason: string): Promise<number> {
    return this.transactions.elevate(async () => {
      const families = await this.sessions.revokeAllForUser(userId, this.clock.now(), reason, keepSessionId);
      await this.audit.record({
        action: 'auth.logout',
        actorUserId: userId,
        targetType: 'user',
        targetId: userId,
        metadata: { sessionsClosed: families.length, reason },
      });
      return families.length;
    });
  }

  private async pair(userId: string, familyId: string, role: PlatformRole, refreshToken: string): Promise<TokenPair> {
    const access = await this.tokens.signAccessToken({ userId, sessionId: familyId, role });
    return {
      accessToken: access.token,
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: access.expiresIn,
      refreshExpiresIn: this.config.REFRESH_TOKEN_TTL_SECONDS,
      sessionId: familyId,
    };
  }

  private newRefreshToken(): string {
    return `${REFRESH_PREFIX}${randomBytes(32).toString('base64url')}`;
  }

  private hash(token: string): string {
    return createHash('sha256').update(token).digest('hex');
  }
}
