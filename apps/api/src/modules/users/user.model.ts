import type { PlatformRole } from '../auth/token.service.js';

/** A person's account as other modules see it. Times are UTC. */
export interface User {
  id: string;
  /** E.164, or null when the account has only an e-mail (or was erased). */
  phone: string | null;
  /** Lower-case, or null. */
  email: string | null;
  role: PlatformRole;
  displayName: string | null;
  locale: string;
  signupReferralCode: string | null;
  createdAt: Date;
  lastLoginAt: Date | null;
  deletedAt: Date | null;
}

export interface UserRow {
  id: string;
  phone: string | null;
  email: string | null;
  role: PlatformRole;
  display_name: string | null;
  locale: string;
  signup_referral_code: string | null;
  created_at: Date;
  last_login_at: Date | null;
  deleted_at: Date | null;
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    phone: row.phone,
    email: row.email,
    role: row.role,
    displayName: row.display_name,
    locale: row.locale,
    signupReferralCode: row.signup_referral_code,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
    deletedAt: row.deleted_at,
  };
}
