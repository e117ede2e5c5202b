import { Inject, Injectable } from '@nestjs/common';
import { NotFoundDomainException, ValidationException } from '../../common/errors/domain.exception.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import type { PlatformRole } from '../auth/token.service.js';
import type { User } from './user.model.js';
import { UsersRepository } from './users.repository.js';

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|([0-9a-f-]{36})$/;

function encodeUserCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`).toString('base64url');
}

function decodeUserCursor(cursor: string): { createdAt: string; id: string } {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new ValidationException([{ field: 'cursor', message: 'Not a cursor returned by this listing.' }]);
  return { createdAt: match[1]!, id: match[2]! };
}

/**
 * Accounts and their platform roles (USER, OWNER, OPERATOR, ADMIN). Every method
 * runs in the caller's open transaction (request or SYSTEM), so other modules'
 * writes commit or roll back together with these.
 */
@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  findById(id: string): Promise<User | null> {
    return this.users.findById(id);
  }

  findByIds(ids: string[]): Promise<User[]> {
    return this.users.findByIds(ids);
  }

  /** @throws NotFoundDomainException NOT_FOUND when the account does not exist or is erased. */
  async getById(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user || user.deletedAt) throw new NotFoundDomainException('User');
    return user;
  }

  findByContact(kind: 'phone' | 'email', value: string): Promise<User | null> {
    return this.users.findByContact(kind, value);
  }

  /**
   * The account behind a verified phone or e-mail, created on first verification
   * with role USER (or ADMIN when `admin` is true). An existing account listed as
   * admin is promoted. Returns whether it was created and whether its role changed.
   */
  async signIn(input: {
    kind: 'phone' | 'email';
    value: string;
    admin: boolean;
    referralCode: string | null;
  }): Promise<{
    user: User;
    created: boolean;
    promoted: boolean;
  }> {
    const at = this.clock.now();
    const existing = await this.users.findByContact(input.kind, input.value);
    if (!existing) {
      const { user, created } = await this.users.insert({
        kind: input.kind,
        value: input.value,
        role: input.admin ? 'ADMIN' : 'USER',
        referralCode: input.referralCode,
        at,
      });
      if (created) return { user, created: true, promoted: false };
      return this.finishSignIn(user, input.admin, at);
    }
    return this.finishSignIn(existing, input.admin, at);
  }

  private async finishSignIn(user: User, admin: boolean, at: Date) {
    await this.users.recordLogin(user.id, at);
    if (admin && user.role !== 'ADMIN') {
      await this.users.setRole(user.id, 'ADMIN');
      return { user: { ...user, role: 'ADMIN' as PlatformRole, lastLoginAt: at }, created: false, promoted: true };
    }
    return { user: { ...user, lastLoginAt: at }, created: false, promoted: false };
  }

  /** Raises a platform role (never lowers ADMIN): creating a store makes a USER an OWNER. */
  async ensureRoleAtLeast(userId: string, role: PlatformRole): Promise<void> {
    const rank: Record<PlatformRole, number> = { USER: 0, OPERATOR: 1, OWNER: 2, ADMIN: 3 };
    const user = await this.getById(userId);
    if (rank[user.role] < rank[role]) await this.users.setRole(userId, role);
  }

  /**
   * Admin search of live accounts, newest first. `query` containing `@` or letters
   * matches inside the e-mail or name; otherwise its digits match inside the E.164
   * phone (`55 1234` finds +525512345678). `cursor` is the `nextCursor` of the previous page.
   *
   * @throws ValidationException VALIDATION_FAILED (field `cursor`) for a cursor this did not issue.
   */
  async search(filter: {
    query?: string;
    role?: PlatformRole;
    cursor?: string;
    limit: number;
  }): Promise<{ users: User[]; nextCursor: string | null }> {
    const query = filter.query?.trim();
    const phoneLike = query !== undefined && /^[\d\s+().-]+$/.test(query);
    const rows = await this.users.search({
      phoneDigits: phoneLike ? query.replace(/\D/g, '') || undefined : undefined,
      text: query && !phoneLike ? query : undefined,
      role: filter.role,
      after: filter.cursor ? decodeUserCursor(filter.cursor) : undefined,
      limit: filter.limit + 1,
    });
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return {
      users: page.map((row) => row.user),
      nextCursor: rows.length > filter.limit && last ? encodeUserCursor(last.cursorAt, last.user.id) : null,
    };
  }

  /** Sets any platform role (admin action; the caller audits it). */
  async setRole(userId: string, role: PlatformRole): Promise<void> {
    await this.getById(userId);
    await this.users.setRole(userId, role);
  }

  updateProfile(userId: string, patch: { displayName?: string | null; locale?: string }): Promise<User | null> {
    return this.users.updateProfile(userId, patch);
  }

  setContact(userId: string, kind: 'phone' | 'email', value: string): Promise<User | null> {
    return this.users.setContact(userId, kind, value, this.clock.now());
  }

  anonymise(userId: string): Promise<void> {
    return this.users.anonymise(userId, this.clock.now());
  }
}
