import { Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import type { StoreRole } from './stores.dto.js';
import { StoresRepository } from './stores.repository.js';

const RANK: Record<StoreRole, number> = { OPERATOR: 1, OWNER: 2 };

/**
 * The one place that decides whether a person may act on stores (CONVENTIONS #4,
 * issue 3 "Roles and access"): membership and store role, checked in bulk by ids with
 * one query, in the caller's transaction (so a removed member is refused on their very
 * next request, whatever their access token says).
 *
 * - OPERATOR: records and sees the store's inventories, reads the store and its members.
 * - OWNER: everything an OPERATOR does, plus managing the store, its members and billing.
 *
 * A store the caller does not belong to (unknown, another tenant's, archived) is 404
 * NOT_FOUND, never 403, so its existence is not revealed; a member without the needed
 * role gets 403 FORBIDDEN. Row-level security is the second wall behind this one.
 * Other modules (inventory, videos, credits) use this service; they never read
 * `tenancy.*` themselves.
 */
@Injectable()
export class StoreAccessService {
  constructor(private readonly stores: StoresRepository) {}

  /**
   * Checks that `userId` is a member of every store in `storeIds` with at least the
   * `minimum` role. Duplicated ids are fine; an empty list passes.
   *
   * @returns the caller's role in each store (store id → OWNER | OPERATOR).
   * @throws NotFoundDomainException NOT_FOUND (404) when any store is not one of the caller's live stores.
   * @throws DomainException FORBIDDEN (403) when the caller's role in any of them is below `minimum`.
   */
  async assertAccess(userId: string, storeIds: string[], minimum: StoreRole): Promise<Map<string, StoreRole>> {
    const ids = [...new Set(storeIds)];
    if (ids.length === 0) return new Map();
    const roles = await this.stores.rolesOf(userId, ids);
    if (ids.some((id) => !roles.has(id))) throw new NotFoundDomainException('Store');
    if (ids.some((id) => RANK[roles.get(id)!] < RANK[minimum])) {
      throw new DomainException('FORBIDDEN', `This action needs the ${minimum} role in the store.`);
    }
    return roles;
  }

  /**
   * {@link assertAccess} for one store.
   *
   * @returns the caller's role in it.
   * @throws NotFoundDomainException NOT_FOUND (404); DomainException FORBIDDEN (403).
   */
  async assertStoreAccess(userId: string, storeId: string, minimum: StoreRole): Promise<StoreRole> {
    const roles = await this.assertAccess(userId, [storeId], minimum);
    return roles.get(storeId)!;
  }

  /** The caller's role in each of `storeIds` they belong to (absent: not a member); never throws. */
  rolesOf(userId: string, storeIds: string[]): Promise<Map<string, StoreRole>> {
    const ids = [...new Set(storeIds)];
    return ids.length === 0 ? Promise.resolve(new Map()) : this.stores.rolesOf(userId, ids);
  }

  /**
   * The account that pays for the store's inventories: its OWNER who joined first (an
   * OPERATOR spends the owner's credits). Members may read it (row-level security).
   *
   * @throws NotFoundDomainException NOT_FOUND when the store is archived, unknown to the caller, or has no OWNER.
   */
  async payingOwnerOf(storeId: string): Promise<string> {
    const owner = await this.stores.payingOwnerOf(storeId);
    if (!owner) throw new NotFoundDomainException('Store owner');
    return owner;
  }
}
