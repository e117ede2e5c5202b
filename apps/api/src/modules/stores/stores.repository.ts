import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';
import type { Giro, StoreRole } from './stores.dto.js';

/** A row of `tenancy.stores` with the role of the user it was read for. */
export interface StoreRow {
  id: string;
  name: string;
  giro: Giro;
  address: string | null;
  time_zone: string;
  created_by: string;
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
  role: StoreRole;
}

/** A row of `tenancy.store_users`. */
export interface MemberRow {
  store_id: string;
  user_id: string;
  role: StoreRole;
  created_at: Date;
}

const STORE_COLUMNS = `s.id, s.name, s.giro, s.address, s.time_zone, s.created_by, s.archived_at, s.created_at, s.updated_at`;

/**
 * SQL of `tenancy.stores` and `tenancy.store_users`. Runs in the caller's transaction:
 * row-level security shows members their stores (and a creator the store it just
 * inserted), lets OWNERs update stores and manage members, and lets anyone delete
 * their own membership. Archived stores are filtered here explicitly: their creator
 * can still read the row under RLS.
 */
@Injectable()
export class StoresRepository {
  constructor(private readonly transactions: TransactionService) {}

  // ------------------------------------------------------------------ access

  /** The caller's role in each of `storeIds` that exists, is not archived and has them as a member. One query. */
  async rolesOf(userId: string, storeIds: string[]): Promise<Map<string, StoreRole>> {
    const rows = (await this.transactions.query(
      `SELECT su.store_id, su.role
         FROM tenancy.store_users su
         JOIN tenancy.stores s ON s.id = su.store_id
        WHERE su.user_id = $1 AND su.store_id = ANY($2::uuid[]) AND s.archived_at IS NULL`,
      [userId, storeIds],
    )) as Array<{ store_id: string; role: StoreRole }>;
    return new Map(rows.map((row) => [row.store_id, row.role]));
  }

  // ------------------------------------------------------------------ stores

  /** Inserts a store created by `createdBy` (RLS: `created_by` must be the caller). */
  async insertStore(input: {
    name: string;
    giro: Giro;
    address: string | null;
    timeZone: string;
    createdBy: string;
  }): Promise<string> {
    const rows = (await this.transactions.query(
      `INSERT INTO tenancy.stores (name, giro, address, time_zone, created_by)
       VALUES ($1, $2, $3, $4, $5)
       RETURNING id`,
      [input.name, input.giro, input.address, input.timeZone, input.createdBy],
    )) as Array<{ id: string }>;
    return rows[0]!.id;
  }

  /** The creator's OWNER row (RLS: allowed once, while the store has no member: `auth.can_claim_store`). */
  async insertCreatorMembership(storeId: string, userId: string): Promise<void> {
    await this.transactions.query(
      `INSERT INTO tenancy.store_users (store_id, user_id, role, added_by) VALUES ($1, $2, 'OWNER', $2)`,
      [storeId, userId],
    );
  }

  /** The live stores `userId` belongs to, oldest first, each with their role. */
  async listForMember(userId: string): Promise<StoreRow[]> {
    return (await this.transactions.query(
      `SELECT ${STORE_COLUMNS}, su.role
         FROM tenancy.store_users su
         JOIN tenancy.stores s ON s.id = su.store_id
        WHERE su.user_id = $1 AND s.archived_at IS NULL
        ORDER BY s.created_at, s.id`,
      [userId],
    )) as StoreRow[];
  }

  /** One live store of `userId`, with their role; null when they are not a member or it is archived. */
  async findForMember(userId: string, storeId: string): Promise<StoreRow | null> {
    const rows = (await this.transactions.query(
      `SELECT ${STORE_COLUMNS}, su.role
         FROM tenancy.store_users su
         JOIN tenancy.stores s ON s.id = su.store_id
        WHERE su.user_id = $1 AND s.id = $2 AND s.archived_at IS NULL`,
      [userId, storeId],
    )) as StoreRow[];
    return rows[0] ?? null;
  }

  /** Changes the given fields of a live store (RLS: OWNERs only); false when no row changed. */
  async updateStore(
    storeId: string,
    patch: { name?: string; giro?: Giro; address?: string | null; timeZone?: string },
  ): Promise<boolean> {
    const rows = (await this.transactions.query(
      `UPDATE tenancy.stores
          SET name = COALESCE($2, name),
              giro = COALESCE($3, giro),
              address = CASE WHEN $4::boolean THEN $5 ELSE address END,
              time_zone = COALESCE($6, time_zone)
        WHERE id = $1 AND archived_at IS NULL
        RETURNING id`,
      [
        storeId,
        patch.name ?? null,
        patch.giro ?? null,
        patch.address !== undefined,
        patch.address ?? null,
        patch.timeZone ?? null,
      ],
    )) as unknown[];
    return rows.length > 0;
  }

  /** Archives a live store (RLS: OWNERs only); false when it was not live. */
  async archiveStore(storeId: string, at: Date): Promise<boolean> {
    const rows = (await this.transactions.query(
      `UPDATE tenancy.stores SET archived_at = $2 WHERE id = $1 AND archived_at IS NULL RETURNING id`,
      [storeId, at],
    )) as unknown[];
    return rows.length > 0;
  }

  /**
   * Locks the store row until the transaction ends (RLS: OWNERs only), so concurrent
   * member changes of one store run one after the other (the last-OWNER rule).
   */
  async lockStore(storeId: string): Promise<boolean> {
    const rows = (await this.transactions.query(`SELECT id FROM tenancy.stores WHERE id = $1 FOR UPDATE`, [
      storeId,
    ])) as unknown[];
    return rows.length > 0;
  }

  // ------------------------------------------------------------------ members

  /** Members of a store: OWNERs first, then by joining time. */
  async listMembers(storeId: string): Promise<MemberRow[]> {
    return (await this.transactions.query(
      `SELECT store_id, user_id, role, created_at
         FROM tenancy.store_users
        WHERE store_id = $1
        ORDER BY (role = 'OWNER') DESC, created_at, user_id`,
      [storeId],
    )) as MemberRow[];
  }

  async findMember(storeId: string, userId: string): Promise<MemberRow | null> {
    const rows = (await this.transactions.query(
      `SELECT store_id, user_id, role, created_at FROM tenancy.store_users WHERE store_id = $1 AND user_id = $2`,
      [storeId, userId],
    )) as MemberRow[];
    return rows[0] ?? null;
  }

  /** The OWNER who joined a live store first (ties by membership id); null when none. */
  async payingOwnerOf(storeId: string): Promise<string | null> {
    const rows = (await this.transactions.query(
      `SELECT su.user_id
         FROM tenancy.store_users su
         JOIN tenancy.stores s ON s.id = su.store_id AND s.archived_at IS NULL
        WHERE su.store_id = $1 AND su.role = 'OWNER'
        ORDER BY su.created_at, su.id
        LIMIT 1`,
      [storeId],
    )) as Array<{ user_id: string }>;
    return rows[0]?.user_id ?? null;
  }

  async countOwners(storeId: string): Promise<number> {
    const rows = (await this.transactions.query(
      `SELECT count(*)::int AS n FROM tenancy.store_users WHERE store_id = $1 AND role = 'OWNER'`,
      [storeId],
    )) as Array<{ n: number }>;
    return rows[0]!.n;
  }

  /** Sets a member's role (RLS: OWNERs only). */
  async setMemberRole(storeId: string, userId: string, role: StoreRole): Promise<MemberRow | null> {
    const rows = (await this.transactions.query(
      `UPDATE tenancy.store_users SET role = $3 WHERE store_id = $1 AND user_id = $2
       RETURNING store_id, user_id, role, created_at`,
      [storeId, userId, role],
    )) as MemberRow[];
    return rows[0] ?? null;
  }

  /** Deletes a membership (RLS: OWNERs, or the member themself); false when there was none. */
  async deleteMember(storeId: string, userId: string): Promise<boolean> {
    const rows = (await this.transactions.query(
      `DELETE FROM tenancy.store_users WHERE store_id = $1 AND user_id = $2 RETURNING id`,
      [storeId, userId],
    )) as unknown[];
    return rows.length > 0;
  }

  /**
   * Adds a member from an accepted invitation. Run elevated (SYSTEM): the invitee is
   * not a member yet, so RLS would refuse. An existing membership is kept as it is.
   * Returns whether a row was added.
   */
  async insertInvitedMember(input: {
    storeId: string;
    userId: string;
    role: StoreRole;
    invitationId: string;
    addedBy: string | null;
  }): Promise<boolean> {
    const rows = (await this.transactions.query(
      `INSERT INTO tenancy.store_users (store_id, user_id, role, invitation_id, added_by)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (store_id, user_id) DO NOTHING
       RETURNING id`,
      [input.storeId, input.userId, input.role, input.invitationId, input.addedBy],
    )) as unknown[];
    return rows.length > 0;
  }
}
