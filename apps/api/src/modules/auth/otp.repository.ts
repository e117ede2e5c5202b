import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** A one-time code row (hash only; the code itself is never stored). */
export interface OtpCodeRow {
  id: string;
  identifier: string;
  channel: 'SMS' | 'EMAIL';
  purpose: 'LOGIN' | 'CHANGE_PHONE' | 'CHANGE_EMAIL';
  requested_by_user_id: string | null;
  code_hash: string;
  attempts: number;
  max_attempts: number;
  expires_at: Date;
  consumed_at: Date | null;
  invalidated_at: Date | null;
  created_at: Date;
}

export interface LockoutRow {
  identifier: string;
  failed_attempts: number;
  lock_count: number;
  locked_until: Date | null;
}

/**
 * SQL of `auth.otp_codes` and `auth.otp_lockouts`, reachable only by the SYSTEM
 * identity (codes are asked for and checked before anyone is authenticated).
 * All times come from the caller (the injected clock), never from `now()`.
 */
@Injectable()
export class OtpRepository {
  constructor(private readonly transactions: TransactionService) {}

  // ---------------------------------------------------------------- one-time codes

  /** Codes created for `identifier` since `since`, newest first (resend limits). */
  async codesSince(identifier: string, purpose: string, since: Date): Promise<Array<{ created_at: Date }>> {
    return (await this.transactions.query(
      `SELECT created_at FROM auth.otp_codes WHERE identifier = $1 AND purpose = $2 AND created_at >= $3 ORDER BY created_at DESC`,
      [identifier, purpose, since],
    )) as Array<{ created_at: Date }>;
  }

  /** Marks every live code of the identifier and purpose dead (a new one replaces them). */
  async invalidateLiveCodes(identifier: string, purpose: string, at: Date): Promise<void> {
    await this.transactions.query(
      `UPDATE auth.otp_codes SET invalidated_at = $3
        WHERE identifier = $1 AND purpose = $2 AND consumed_at IS NULL AND invalidated_at IS NULL`,
      [identifier, purpose, at],
    );
  }

  async insertCode(input: {
    id: string;
    identifier: string;
    channel: 'SMS' | 'EMAIL';
    purpose: string;
    requestedByUserId: string | null;
    codeHash: string;
    maxAttempts: number;
    expiresAt: Date;
    createdAt: Date;
    requestId: string | null;
    ip: string | null;
    userAgent: string | null;
  }): Promise<void> {
    await this.transactions.query(
      `INSERT INTO auth.otp_codes
         (id, identifier, channel, purpose, requested_by_user_id, code_hash, max_attempts, expires_at, created_at,
          request_id, ip, user_agent)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        input.id,
        input.identifier,
        input.channel,
        input.purpose,
        input.requestedByUserId,
        input.codeHash,
        input.maxAttempts,
        input.expiresAt,
        input.createdAt,
        input.requestId,
        input.ip,
        input.userAgent,
      ],
    );
  }

  /** The newest live code of the identifier and purpose, locked for this transaction. */
  async lockLatestLiveCode(identifier: string, purpose: string): Promise<OtpCodeRow | null> {
    const rows = (await this.transactions.query(
      `SELECT id, identifier, channel, purpose, requested_by_user_id, code_hash, attempts, max_attempts, expires_at,
              consumed_at, invalidated_at, created_at
         FROM auth.otp_codes
        WHERE identifier = $1 AND purpose = $2 AND consumed_at IS NULL AND invalidated_at IS NULL
        ORDER BY created_at DESC
        LIMIT 1
        FOR UPDATE`,
      [identifier, purpose],
    )) as OtpCodeRow[];
    return rows[0] ?? null;
  }

  /** Counts a wrong guess; the code dies (invalidated) when it reaches its maximum. */
  async recordWrongGuess(codeId: string, at: Date): Promise<void> {
    await this.transactions.query(
      `UPDATE auth.otp_codes
          SET attempts = attempts + 1,
              invalidated_at = CASE WHEN attempts + 1 >= max_attempts THEN $2 ELSE invalidated_at END
        WHERE id = $1`,
      [codeId, at],
    );
  }

  async invalidateCode(codeId: string, at: Date): Promise<void> {
    await this.transactions.query(
      `UPDATE auth.otp_codes SET invalidated_at = $2 WHERE id = $1 AND invalidated_at IS NULL`,
      [codeId, at],
    );
  }

  /** Consumes a live code; false when it was already used or killed (the guard against double use). */
  async consumeCode(codeId: string, at: Date): Promise<boolean> {
    const rows = (await this.transactions.query(
      `UPDATE auth.otp_codes SET consumed_at = $2
        WHERE id = $1 AND consumed_at IS NULL AND invalidated_at IS NULL
        RETURNING id`,
      [codeId, at],
    )) as unknown[];
    return rows.length === 1;
  }

  // ---------------------------------------------------------------- lockouts

  /** The identifier's lockout row, locked (created if missing) so concurrent failures count once each. */
  async lockLockout(identifier: string): Promise<LockoutRow> {
    await this.transactions.query(
      `INSERT INTO auth.otp_lockouts (identifier) VALUES ($1) ON CONFLICT (identifier) DO NOTHING`,
      [identifier],
    );
    const rows = (await this.transactions.query(
      `SELECT identifier, failed_attempts, lock_count, locked_until FROM auth.otp_lockouts WHERE identifier = $1 FOR UPDATE`,
      [identifier],
    )) as LockoutRow[];
    return rows[0]!;
  }

  async readLockout(identifier: string): Promise<LockoutRow | null> {
    const rows = (await this.transactions.query(
      `SELECT identifier, failed_attempts, lock_count, locked_until FROM auth.otp_lockouts WHERE identifier = $1`,
      [identifier],
    )) as LockoutRow[];
    return rows[0] ?? null;
  }

  async saveLockout(row: LockoutRow, at: Date): Promise<void> {
    await this.transactions.query(
      `UPDATE auth.otp_lockouts
          SET failed_attempts = $2, lock_count = $3, locked_until = $4, last_failed_at = $5
        WHERE identifier = $1`,
      [row.identifier, row.failed_attempts, row.lock_count, row.locked_until, at],
    );
  }

  async clearLockout(identifier: string): Promise<void> {
    await this.transactions.query(`DELETE FROM auth.otp_lockouts WHERE identifier = $1`, [identifier]);
  }
}
