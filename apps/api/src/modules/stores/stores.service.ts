import { Inject, Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { AuditService } from '../audit/audit.service.js';
import { UsersService } from '../users/users.service.js';
import { StoreAccessService } from './store-access.service.js';
import { DEFAULT_TIME_ZONE, type CreateStoreDto, type StoreView, type UpdateStoreDto } from './stores.dto.js';
import { StoresRepository, type StoreRow } from './stores.repository.js';

/** A store row as the API returns it. */
export function toStoreView(row: StoreRow): StoreView {
  return {
    id: row.id,
    name: row.name,
    giro: row.giro,
    address: row.address,
    timeZone: row.time_zone,
    role: row.role,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Empty or blank address → null (no address). */
function cleanAddress(address: string | null | undefined): string | null | undefined {
  if (address === undefined) return undefined;
  return address && address.length > 0 ? address : null;
}

/**
 * Stores (issue 3 "Stores"): create, list mine, read, update, archive. A person may
 * belong to several stores. Access goes through {@link StoreAccessService}: reading
 * needs any membership, changing or archiving needs OWNER. Every change is audited in
 * the same transaction.
 */
@Injectable()
export class StoresService {
  constructor(
    private readonly stores: StoresRepository,
    private readonly access: StoreAccessService,
    private readonly users: UsersService,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Creates a store; the creator becomes its OWNER and gets the platform role OWNER
   * (an ADMIN stays ADMIN). The time zone defaults to America/Mexico_City.
   *
   * @returns the store, with role OWNER.
   * @throws DomainException NOT_FOUND when the account was erased meanwhile.
   */
  async create(userId: string, dto: CreateStoreDto): Promise<StoreView> {
    const timeZone = dto.timeZone ?? DEFAULT_TIME_ZONE;
    const storeId = await this.stores.insertStore({
      name: dto.name,
      giro: dto.giro,
      address: cleanAddress(dto.address) ?? null,
      timeZone,
      createdBy: userId,
    });
    await this.stores.insertCreatorMembership(storeId, userId);
    await this.users.ensureRoleAtLeast(userId, 'OWNER');
    await this.audit.record({
      action: 'store.created',
      targetType: 'store',
      targetId: storeId,
      storeId,
      metadata: { giro: dto.giro, timeZone },
    });
    return this.get(userId, storeId);
  }

  /** The live stores the caller belongs to (oldest first), each with the caller's role. */
  async listMine(userId: string): Promise<StoreView[]> {
    return (await this.stores.listForMember(userId)).map(toStoreView);
  }

  /**
   * One store of the caller (any role).
   *
   * @throws NotFoundDomainException NOT_FOUND when the caller is not a member or it is archived.
   */
  async get(userId: string, storeId: string): Promise<StoreView> {
    await this.access.assertStoreAccess(userId, storeId, 'OPERATOR');
    const row = await this.stores.findForMember(userId, storeId);
    if (!row) throw new NotFoundDomainException('Store');
    return toStoreView(row);
  }

  /**
   * Changes name, giro, address or time zone (OWNER).
   *
   * @throws NOT_FOUND (404) not the caller's store; FORBIDDEN (403) the caller is an OPERATOR.
   */
  async update(userId: string, storeId: string, dto: UpdateStoreDto): Promise<StoreView> {
    await this.access.assertStoreAccess(userId, storeId, 'OWNER');
    const patch = { ...dto, address: cleanAddress(dto.address) };
    const updated = await this.stores.updateStore(storeId, patch);
    if (!updated) throw new NotFoundDomainException('Store');
    await this.audit.record({
      action: 'store.updated',
      targetType: 'store',
      targetId: storeId,
      storeId,
      metadata: { fields: Object.keys(dto).filter((key) => dto[key as keyof UpdateStoreDto] !== undefined) },
    });
    return this.get(userId, storeId);
  }

  /**
   * Archives a store (OWNER): it disappears from every member's list and every
   * store route answers 404 for it; its rows are kept.
   *
   * @throws NOT_FOUND (404) not the caller's store; FORBIDDEN (403) the caller is an OPERATOR.
   */
  async archive(userId: string, storeId: string): Promise<void> {
    await this.access.assertStoreAccess(userId, storeId, 'OWNER');
    const archived = await this.stores.archiveStore(storeId, this.clock.now());
    if (!archived) throw new NotFoundDomainException('Store');
    await this.audit.record({ action: 'store.archived', targetType: 'store', targetId: storeId, storeId });
  }

  /**
   * Takes a person out of every store before their account is deleted: a store where
   * they are the only member is archived; otherwise their membership is removed. Runs
   * in the caller's transaction, so a refusal changes nothing.
   *
   * @throws DomainException SOLE_OWNER (409) when they are the only OWNER of a store that
   *   has other members (they must make someone else OWNER, or archive it, first).
   * @returns the ids of the stores archived and of those left.
   */
  async leaveAllForAccountDeletion(userId: string): Promise<{ archived: string[]; left: string[] }> {
    const memberships = await this.stores.listForMember(userId);
    const plan: Array<{ storeId: string; archive: boolean }> = [];
    for (const store of memberships) {
      const members = await this.stores.listMembers(store.id);
      const others = members.filter((member) => member.user_id !== userId);
      if (others.length === 0) {
        plan.push({ storeId: store.id, archive: true });
      } else if (store.role === 'OWNER' && !others.some((member) => member.role === 'OWNER')) {
        throw new DomainException(
          'SOLE_OWNER',
          `You are the only OWNER of "${store.name}", which has other members: make one of them OWNER or archive the store first.`,
        );
      } else {
        plan.push({ storeId: store.id, archive: false });
      }
    }
    const result = { archived: [] as string[], left: [] as string[] };
    for (const step of plan) {
      if (step.archive) {
        await this.stores.archiveStore(step.storeId, this.clock.now());
        await this.audit.record({
          action: 'store.archived',
          targetType: 'store',
          targetId: step.storeId,
          storeId: step.storeId,
          metadata: { reason: 'ACCOUNT_DELETED' },
        });
        result.archived.push(step.storeId);
      }
      await this.stores.deleteMember(step.storeId, userId);
      await this.audit.record({
        action: 'store.member_removed',
        targetType: 'user',
        targetId: userId,
        storeId: step.storeId,
        metadata: { left: true, reason: 'ACCOUNT_DELETED' },
      });
      if (!step.archive) result.left.push(step.storeId);
    }
    return result;
  }
}
