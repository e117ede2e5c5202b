import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';
import type { PlatformRole } from '../auth/token.service.js';
import { toUser, type User, type UserRow } from './user.model.js';

const COLUMNS = `id, phone, email, role, display_name, locale, signup_referral_code, created_at, last_login_at, deleted_at`;

/**
 * SQL of `auth.users`. Runs in the caller's transaction (row-level security:
 * a person sees their own row and co-members'; SYSTEM and ADMIN see all).
 */
@Injectable()
export class UsersRepository {
  constructor(private readonly transactions: TransactionService) {}

  async findById(id: string): Promise<User | null> {
    const rows = (await this.transactions.query(`SELECT ${COLUMNS} FROM auth.users WHERE id = $1`, [id])) as UserRow[];
    return rows[0] ? toUser(rows[0]) : null;
  }

  async findByIds(ids: string[]): Promise<User[]> {
    if (ids.length === 0) return [];
    const rows = (await this.transactions.query(`SELECT ${COLUMNS} FROM auth.users WHERE id = ANY($1::uuid[])`, [
      ids,
    ])) as UserRow[];
    return rows.map(toUser);
  }

  /** The live (not erased) account with this phone or e-mail. */
  async findByContact(kind: 'phone' | 'email', value: string): Promise<User | null> {
    const column = kind === 'phone' ? 'phone' : 'email';
    const rows = (await this.transactions.query(
      `SELECT ${COLUMNS} FROM auth.users WHERE ${column} = $1 AND deleted_at IS NULL`,
      [value],
    )) as UserRow[];
    return rows[0] ? toUser(rows[0]) : null;
  }

  /** Inserts an account; `ON CONFLICT` returns the existing one so two concurrent first logins make one user. */
  async insert(input: {
    kind: 'phone' | 'email';
    value: string;
    role: PlatformRole;
    referralCode: string | null;
    at: Date;
  }): Promise<{ user: User; created: boolean }> {
    const column = input.kind === 'phone' ? 'phone' : 'email';
    const verified = input.kind === 'phone' ? 'phone_verified_at' : 'email_verified_at';
    const rows = (await this.transactions.query(
      `INSERT INTO auth.users (${column}, ${verified}, role, signup_referral_code, last_login_at)
       VALUES ($1, $2, $3, $4, $2)
       ON CONFLICT (${column}) DO NOTHING
       RETURNING ${COLUMNS}`,
      [input.value, input.at, input.role, input.referralCode],
    )) as UserRow[];
    if (rows[0]) return { user: toUser(rows[0]), created: true };
    const existing = await this.findByContact(input.kind, input.value);
    if (!existing) throw new Error('user vanished after a conflicting insert');
    return { user: existing, created: false };
  }

  /**
   * Live accounts matching `phoneDigits` (within the E.164 phone) or `text` (within the
   * e-mail or name), optionally of one role, newest first, after the keyset cursor
   * (`createdAt` as ISO text with microseconds, `id`). Each row carries its own cursor.
   */
  async search(filter: {
    phoneDigits?: string;
    text?: string;
    role?: PlatformRole;
    after?: { createdAt: string; id: string };
    limit: number;
  }): Promise<Array<{ user: User; cursorAt: string }>> {
    const where = ['deleted_at IS NULL'];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const like = (value: string) => `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    if (filter.phoneDigits) where.push(`phone LIKE ${param(like(filter.phoneDigits))}`);
    if (filter.text) {
      const text = param(like(filter.text));
      where.push(`(email ILIKE ${text} OR display_name ILIKE ${text})`);
    }
    if (filter.role) where.push(`role = ${param(filter.role)}`);
    if (filter.after) {
      where.push(`(created_at, id) < (${param(filter.after.createdAt)}::timestamptz, ${param(filter.after.id)}::uuid)`);
    }
    const rows = (await this.transactions.query(
      `SELECT ${COLUMNS}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
         FROM auth.users
        WHERE ${where.join(' AND ')}
        ORDER BY created_at DESC, id DESC
        LIMIT ${param(filter.limit)}`,
      params,
    )) as Array<UserRow & { cursor_at: string }>;
    return rows.map((row) => ({ user: toUser(row), cursorAt: row.cursor_at }));
  }

  async setRole(id: string, role: PlatformRole): Promise<void> {
    await this.transactions.query(`UPDATE auth.users SET role = $2 WHERE id = $1`, [id, role]);
  }

  async recordLogin(id: string, at: Date): Promise<void> {
    await this.transactions.query(`UPDATE auth.users SET last_login_at = $2 WHERE id = $1`, [id, at]);
  }

  async updateProfile(id: string, patch: { displayName?: string | null; locale?: string }): Promise<User | null> {
    const rows = (await this.transactions.query(
      `UPDATE auth.users
          SET display_name = CASE WHEN $2::boolean THEN $3 ELSE display_name END,
              locale = COALESCE($4, locale)
        WHERE id = $1 AND deleted_at IS NULL
        RETURNING ${COLUMNS}`,
      [id, patch.displayName !== undefined, patch.displayName ?? null, patch.locale ?? null],
    )) as UserRow[];
    return rows[0] ? toUser(rows[0]) : null;
  }

  /** Sets a verified phone or e-mail. @throws pg 23505 when another account holds it. */
  async setContact(id: string, kind: 'phone' | 'email', value: string, at: Date): Promise<User | null> {
    const column = kind === 'phone' ? 'phone' : 'email';
    const verified = kind === 'phone' ? 'phone_verified_at' : 'email_verified_at';
    const rows = (await this.transactions.query(
      `UPDATE auth.users SET ${column} = $2, ${verified} = $3 WHERE id = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
      [id, value, at],
    )) as UserRow[];
    return rows[0] ? toUser(rows[0]) : null;
  }

  /**
   * Erases personal data (Mexico's LFPDPPP "cancelación"): phone, e-mail, name and
   * referral code become NULL, `deleted_at` is set; the row stays so the ledger and
   * audit history keep their references.
   */
  async anonymise(id: string, at: Date): Promise<void> {
    await this.transactions.query(
      `UPDATE auth.users
          SET phone = NULL, email = NULL, display_name = NULL, signup_referral_code = NULL,
              phone_verified_at = NULL, email_verified_at = NULL, deleted_at = $2, role = 'USER'
        WHERE id = $1`,
      [id, at],
    );
  }
}
