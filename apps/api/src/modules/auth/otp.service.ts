import { createHmac, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { DomainException } from '../../common/errors/domain.exception.js';
import { currentContext } from '../../common/http/request-context.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { TransactionService } from '../../database/transaction.service.js';
import { MESSAGE_SENDER, type MessageSender } from '../notifications/message-sender.port.js';
import { AUTH_SECRETS, type AuthSecrets } from './auth-secrets.js';
import type { Identifier } from './identifier.js';
import { OtpRepository, type LockoutRow } from './otp.repository.js';

/** What a code is for; a code verifies only for its own purpose and identifier. */
export type OtpPurpose = 'LOGIN' | 'CHANGE_PHONE' | 'CHANGE_EMAIL';

/** Answer to a code request: lifetimes in seconds. */
export interface OtpChallenge {
  channel: 'SMS' | 'EMAIL';
  expiresIn: number;
  resendAfter: number;
}

/** First lock after repeated failures, then doubled each time, capped at one hour (issue 3). */
const FIRST_LOCK_SECONDS = 30;
const MAX_LOCK_SECONDS = 3600;

type VerifyOutcome<T> = { ok: true; value: T } | { ok: false; error: DomainException };

/**
 * One-time codes by SMS or e-mail (sign-in, sign-up, contact change).
 *
 * Rules (OWASP ASVS 5.0 V6.5–6.6; NIST SP 800-63B §5.1.3): 6 digits from a CSPRNG;
 * only an HMAC-SHA256 of the code (with a server pepper, bound to the code's row,
 * identifier and purpose) is stored; valid OTP_TTL_SECONDS (10 min); usable once;
 * a new code kills the previous one; OTP_MAX_ATTEMPTS (5) wrong guesses kill it;
 * resend at least OTP_RESEND_SECONDS (60 s) apart and at most OTP_HOURLY_LIMIT (5)
 * an hour; every OTP_MAX_ATTEMPTS consecutive failures lock the identifier for
 * 30 s, 60 s, 120 s … up to 1 h. Nothing here looks up whether an account exists,
 * so known and unknown identifiers get the same answers in the same time.
 */
@Injectable()
export class OtpService {
  private readonly logger = new Logger(OtpService.name);

  constructor(
    private readonly otp: OtpRepository,
    private readonly transactions: TransactionService,
    @Inject(MESSAGE_SENDER) private readonly sender: MessageSender,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(AUTH_SECRETS) private readonly secrets: AuthSecrets,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Issues a code for `identifier` and sends it on its channel.
   *
   * @throws DomainException OTP_LOCKED (429, Retry-After) while the identifier is locked;
   *   OTP_RESEND_TOO_SOON (429, Retry-After) inside the resend interval or over the hourly limit;
   *   MESSAGE_DELIVERY_FAILED (502) when the channel refuses (the code is then killed).
   */
  async request(
    identifier: Identifier,
    purpose: OtpPurpose,
    requestedByUserId: string | null = null,
  ): Promise<OtpChallenge> {
    const context = currentContext();
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const codeId = randomUUID();
    await this.transactions.runAsSystem(async () => {
      const now = this.clock.now();
      const lockout = await this.otp.readLockout(identifier.value);
      this.throwIfLocked(lockout, now);
      const recent = await this.otp.codesSince(identifier.value, purpose, new Date(now.getTime() - 3600_000));
      const newest = recent[0];
      if (newest) {
        const waited = (now.getTime() - newest.created_at.getTime()) / 1000;
        if (waited < this.config.OTP_RESEND_SECONDS) {
          throw this.tooSoon(
            Math.ceil(this.config.OTP_RESEND_SECONDS - waited),
            'Wait before asking for another code.',
          );
        }
      }
      if (recent.length >= this.config.OTP_HOURLY_LIMIT) {
        const oldest = recent[recent.length - 1]!;
        const retry = Math.ceil((oldest.created_at.getTime() + 3600_000 - now.getTime()) / 1000);
        throw this.tooSoon(Math.max(retry, 1), 'Too many codes asked for this identifier in the last hour.');
      }
      await this.otp.invalidateLiveCodes(identifier.value, purpose, now);
      await this.otp.insertCode({
        id: codeId,
        identifier: identifier.value,
        channel: identifier.channel,
        purpose,
        requestedByUserId,
        codeHash: this.hash(codeId, identifier.value, purpose, code),
        maxAttempts: this.config.OTP_MAX_ATTEMPTS,
        expiresAt: new Date(now.getTime() + this.config.OTP_TTL_SECONDS * 1000),
        createdAt: now,
        requestId: context?.requestId ?? null,
        ip: context?.ip ?? null,
        userAgent: context?.userAgent ?? null,
      });
    });
    try {
      await this.sender.send({
        channel: identifier.channel,
        to: identifier.value,
        template: purpose === 'LOGIN' ? 'otp.login' : 'otp.change-contact',
        params: { code, minutes: String(Math.round(this.config.OTP_TTL_SECONDS / 60)) },
        requestId: context?.requestId,
      });
    } catch (error) {
      await this.transactions.runAsSystem(() => this.otp.invalidateCode(codeId, this.clock.now()));
      if (error instanceof DomainException) throw error;
      this.logger.error({ err: error }, 'code delivery failed');
      throw new DomainException('MESSAGE_DELIVERY_FAILED', 'The code could not be sent; try again.');
    }
    return {
      channel: identifier.channel,
      expiresIn: this.config.OTP_TTL_SECONDS,
      resendAfter: this.config.OTP_RESEND_SECONDS,
    };
  }

  /**
   * Checks `code` for `identifier` and, when right, consumes it and runs `onSuccess`
   * in the same SYSTEM transaction (so a sign-in and the code's use commit together).
   * A wrong answer is committed (attempts, lockout) before the error is thrown.
   *
   * @throws DomainException OTP_INVALID (401) for a wrong, expired, used, replaced or
   *   dead code, or none at all (one answer for all, so nothing is revealed);
   *   OTP_LOCKED (429, Retry-After) while the identifier is locked.
   */
  async verify<T>(
    input: { identifier: Identifier; code: string; purpose: OtpPurpose; requestedByUserId?: string | null },
    onSuccess: () => Promise<T>,
  ): Promise<T> {
    const outcome = await this.transactions.runAsSystem(async (): Promise<VerifyOutcome<T>> => {
      const now = this.clock.now();
      const lockout = await this.otp.lockLockout(input.identifier.value);
      const lockedFor = this.lockedSeconds(lockout, now);
      if (lockedFor > 0) return { ok: false, error: this.locked(lockedFor) };
      const row = await this.otp.lockLatestLiveCode(input.identifier.value, input.purpose);
      const requester = input.requestedByUserId ?? null;
      const usable =
        row !== null &&
        row.expires_at.getTime() > now.getTime() &&
        row.attempts < row.max_attempts &&
        row.requested_by_user_id === requester;
      const matches =
        usable &&
        /^\d{6}$/.test(input.code) &&
        this.equal(row.code_hash, this.hash(row.id, row.identifier, row.purpose, input.code));
      if (!matches) {
        if (row && usable) await this.otp.recordWrongGuess(row.id, now);
        if (row && row.expires_at.getTime() <= now.getTime()) await this.otp.invalidateCode(row.id, now);
        const relock = await this.countFailure(lockout, now);
        return { ok: false, error: relock ?? new DomainException('OTP_INVALID', 'The code is not valid.') };
      }
      if (!(await this.otp.consumeCode(row.id, now))) {
        return { ok: false, error: new DomainException('OTP_INVALID', 'The code is not valid.') };
      }
      await this.otp.clearLockout(input.identifier.value);
      return { ok: true, value: await onSuccess() };
    });
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  private hash(codeId: string, identifier: string, purpose: string, code: string): string {
    return createHmac('sha256', this.secrets.otpPepper)
      .update(`${codeId}\n${identifier}\n${purpose}\n${code}`)
      .digest('hex');
  }

  private equal(a: string, b: string): boolean {
    const left = Buffer.from(a, 'hex');
    const right = Buffer.from(b, 'hex');
    return left.length === right.length && timingSafeEqual(left, right);
  }

  private lockedSeconds(lockout: LockoutRow | null, now: Date): number {
    if (!lockout?.locked_until) return 0;
    return Math.max(0, Math.ceil((lockout.locked_until.getTime() - now.getTime()) / 1000));
  }

  private throwIfLocked(lockout: LockoutRow | null, now: Date): void {
    const seconds = this.lockedSeconds(lockout, now);
    if (seconds > 0) throw this.locked(seconds);
  }

  /** Counts one failure; returns the lock error when this failure starts a lock. */
  private async countFailure(lockout: LockoutRow, now: Date): Promise<DomainException | null> {
    const next: LockoutRow = { ...lockout, failed_attempts: lockout.failed_attempts + 1 };
    let error: DomainException | null = null;
    if (next.failed_attempts >= this.config.OTP_MAX_ATTEMPTS) {
      const seconds = Math.min(FIRST_LOCK_SECONDS * 2 ** lockout.lock_count, MAX_LOCK_SECONDS);
      next.failed_attempts = 0;
      next.lock_count = lockout.lock_count + 1;
      next.locked_until = new Date(now.getTime() + seconds * 1000);
      error = this.locked(seconds);
    }
    await this.otp.saveLockout(next, now);
    return error;
  }

  private locked(seconds: number): DomainException {
    return new DomainException('OTP_LOCKED', `Too many failed codes; try again in ${seconds} s.`, undefined, {
      'retry-after': String(seconds),
    });
  }

  private tooSoon(seconds: number, detail: string): DomainException {
    return new DomainException('OTP_RESEND_TOO_SOON', detail, undefined, { 'retry-after': String(seconds) });
  }
}
