import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** A refresh-token row of `auth.sessions`. */
export interface SessionRow {
  id: string;
  user_id: string;
  family_id: string;
  parent_id: string | null;
  expires_at: Date;
  rotated_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
  last_used_at: Date | null;
  user_agent: string | null;
  ip: string | null;
}

/** One signed-in device: the live token of a family. */
export interface SessionFamilyRow {
  family_id: string;
  started_at: Date;
  last_used_at: Date | null;
  expires_at: Date;
  user_agent: string | null;
  ip: string | null;
}

/**
 * SQL of `auth.sessions` (refresh-token families). Rotation runs as SYSTEM; people
 * can read their own rows. All times come from the caller (the injected clock).
 */
@Injectable()
export class SessionsRepository {
  constructor(private readonly transactions: TransactionService) {}

  // ---------------------------------------------------------------- sessions

  async insertSession(input: {
    userId: string;
    familyId: string;
    parentId: string | null;
    tokenHash: string;
    expiresAt: Date;
    createdAt: Date;
    userAgent: string | null;
    ip: string | null;
  }): Promise<string> {
    const rows = (await this.transactions.query(
      `INSERT INTO auth.sessions (user_id, family_id, parent_id, token_hash, expires_at, created_at, last_used_at, user_agent, ip)
       VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)
       RETURNING id`,
      [
        input.userId,
        input.familyId,
        input.parentId,
        input.tokenHash,
        input.expiresAt,
        input.createdAt,
        input.userAgent,
        input.ip,
      ],
    )) as Array<{ id: string }>;
    return rows[0]!.id;
  }

  /** The row of a refresh token, locked: concurrent uses of one token serialise here. */
  async lockSessionByTokenHash(tokenHash: string): Promise<SessionRow | null> {
    const rows = (await this.transactions.query(
      `SELECT id, user_id, family_id, parent_id, expires_at, rotated_at, revoked_at, created_at, last_used_at, user_agent, host(ip) AS ip
         FROM auth.sessions WHERE token_hash = $1 FOR UPDATE`,
      [tokenHash],
    )) as SessionRow[];
    return rows[0] ?? null;
  }

  async markRotated(sessionId: string, at: Date): Promise<void> {
    await this.transactions.query(`UPDATE auth.sessions SET rotated_at = $2, last_used_at = $2 WHERE id = $1`, [
      sessionId,
      at,
    ]);
  }

  /** Revokes every live token of a family; returns how many. */
  async revokeFamily(familyId: string, at: Date, reason: string, reuse = false): Promise<number> {
    const rows = (await this.transactions.query(
      `UPDATE auth.sessions
          SET revoked_at = $2, revoke_reason = $3, reuse_detected_at = CASE WHEN $4::boolean THEN $2 ELSE reuse_detected_at END
        WHERE family_id = $1 AND revoked_at IS NULL
        RETURNING id`,
      [familyId, at, reason, reuse],
    )) as unknown[];
    return rows.length;
  }

  /** Revokes every live session of a user (optionally keeping one family); returns the families revoked. */
  async revokeAllForUser(userId: string, at: Date, reason: string, exceptFamilyId: string | null): Promise<string[]> {
    const rows = (await this.transactions.query(
      `UPDATE auth.sessions SET revoked_at = $2, revoke_reason = $3
        WHERE user_id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR family_id <> $4)
        RETURNING family_id`,
      [userId, at, reason, exceptFamilyId],
    )) as Array<{ family_id: string }>;
    return [...new Set(rows.map((row) => row.family_id))];
  }

  /**
   * Whether a family still has a live token for the user and the user is not erased
   * (checked on every authenticated request: logout and revocation act immediately).
   * Returns the user's current platform role.
   */
  async activeSessionRole(userId: string, familyId: string, at: Date): Promise<string | null> {
    const rows = (await this.transactions.query(
      `SELECT u.role
         FROM auth.sessions s
         JOIN auth.users u ON u.id = s.user_id
        WHERE s.family_id = $2 AND s.user_id = $1 AND s.revoked_at IS NULL AND s.rotated_at IS NULL
          AND s.expires_at > $3 AND u.deleted_at IS NULL
        LIMIT 1`,
      [userId, familyId, at],
    )) as Array<{ role: string }>;
    return rows[0]?.role ?? null;
  }

  /** The user's signed-in devices (live families), newest activity first. */
  async listFamilies(userId: string, at: Date): Promise<SessionFamilyRow[]> {
    return (await this.transactions.query(
      `SELECT s.family_id,
              (SELECT min(f.created_at) FROM auth.sessions f WHERE f.family_id = s.family_id) AS started_at,
              s.last_used_at, s.expires_at, s.user_agent, host(s.ip) AS ip
         FROM auth.sessions s
        WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.rotated_at IS NULL AND s.expires_at > $2
        ORDER BY s.last_used_at DESC NULLS LAST`,
      [userId, at],
    )) as SessionFamilyRow[];
  }

  /** Whether the family belongs to the user (any state). */
  async familyBelongsTo(familyId: string, userId: string): Promise<boolean> {
    const rows = (await this.transactions.query(
      `SELECT 1 FROM auth.sessions WHERE family_id = $1 AND user_id = $2 LIMIT 1`,
      [familyId, userId],
    )) as unknown[];
    return rows.length > 0;
  }
}
