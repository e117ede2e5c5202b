import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';
import type { Giro, StoreRole } from './stores.dto.js';

/** A row of `tenancy.invitations`. */
export interface InvitationRow {
  id: string;
  store_id: string;
  identifier: string;
  channel: 'SMS' | 'EMAIL';
  role: StoreRole;
  invited_by: string | null;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_by: string | null;
  revoked_at: Date | null;
  created_at: Date;
}

/** An invitation with the store it is for (read elevated for the invitee, who cannot read the store yet). */
export interface InvitationWithStoreRow extends InvitationRow {
  store_name: string;
  store_giro: Giro;
  store_archived_at: Date | null;
}

const COLUMNS = `id, store_id, identifier, channel, role, invited_by, expires_at, accepted_at, accepted_by, revoked_at, created_at`;
const I_COLUMNS = COLUMNS.split(', ')
  .map((column) => `i.${column}`)
  .join(', ');

/**
 * SQL of `tenancy.invitations`. Row-level security: a store's OWNERs read and write its
 * invitations; an invitee reads the ones addressed to their own phone or e-mail. What
 * the invitee needs beyond that (the store's name, marking the invitation accepted)
 * runs elevated, after the service has checked the invitee.
 */
@Injectable()
export class InvitationsRepository {
  constructor(private readonly transactions: TransactionService) {}

  async insert(input: {
    storeId: string;
    identifier: string;
    channel: 'SMS' | 'EMAIL';
    role: StoreRole;
    invitedBy: string;
    expiresAt: Date;
    createdAt: Date;
  }): Promise<InvitationRow> {
    const rows = (await this.transactions.query(
      `INSERT INTO tenancy.invitations (store_id, identifier, channel, role, invited_by, expires_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
       RETURNING ${COLUMNS}`,
      [input.storeId, input.identifier, input.channel, input.role, input.invitedBy, input.expiresAt, input.createdAt],
    )) as InvitationRow[];
    return rows[0]!;
  }

  /** Revokes the pending invitation(s) of a store for one identifier (replaced by a new one); returns their ids. */
  async revokePendingFor(storeId: string, identifier: string, at: Date): Promise<string[]> {
    const rows = (await this.transactions.query(
      `UPDATE tenancy.invitations SET revoked_at = $3
        WHERE store_id = $1 AND identifier = $2 AND accepted_at IS NULL AND revoked_at IS NULL
        RETURNING id`,
      [storeId, identifier, at],
    )) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  /** Invitations of a store neither accepted nor revoked (expired ones included), newest first. */
  async listPending(storeId: string): Promise<InvitationRow[]> {
    return (await this.transactions.query(
      `SELECT ${COLUMNS} FROM tenancy.invitations
        WHERE store_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
        ORDER BY created_at DESC, id`,
      [storeId],
    )) as InvitationRow[];
  }

  /** Revokes one pending invitation of a store; false when there is none. */
  async revoke(storeId: string, invitationId: string, at: Date): Promise<boolean> {
    const rows = (await this.transactions.query(
      `UPDATE tenancy.invitations SET revoked_at = $3
        WHERE id = $2 AND store_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
        RETURNING id`,
      [storeId, invitationId, at],
    )) as unknown[];
    return rows.length > 0;
  }

  /** An invitation as the caller may see it (RLS: the store's OWNERs, or the person it is addressed to). */
  async findVisible(invitationId: string): Promise<InvitationRow | null> {
    const rows = (await this.transactions.query(`SELECT ${COLUMNS} FROM tenancy.invitations WHERE id = $1`, [
      invitationId,
    ])) as InvitationRow[];
    return rows[0] ?? null;
  }

  /** Run elevated: the invitation and its store, the invitation row locked until the transaction ends. */
  async lockWithStore(invitationId: string): Promise<InvitationWithStoreRow | null> {
    const rows = (await this.transactions.query(
      `SELECT ${I_COLUMNS}, s.name AS store_name, s.giro AS store_giro, s.archived_at AS store_archived_at
         FROM tenancy.invitations i
         JOIN tenancy.stores s ON s.id = i.store_id
        WHERE i.id = $1
        FOR UPDATE OF i`,
      [invitationId],
    )) as InvitationWithStoreRow[];
    return rows[0] ?? null;
  }

  /** Run elevated: marks an invitation accepted by `userId`. */
  async markAccepted(invitationId: string, userId: string, at: Date): Promise<void> {
    await this.transactions.query(
      `UPDATE tenancy.invitations SET accepted_at = $3, accepted_by = $2 WHERE id = $1 AND accepted_at IS NULL`,
      [invitationId, userId, at],
    );
  }

  /**
   * Run elevated: the live invitations addressed to any of `identifiers` (pending, not
   * expired at `now`, store not archived), with their store, newest first.
   */
  async listLiveFor(identifiers: string[], now: Date): Promise<InvitationWithStoreRow[]> {
    if (identifiers.length === 0) return [];
    return (await this.transactions.query(
      `SELECT ${I_COLUMNS}, s.name AS store_name, s.giro AS store_giro, s.archived_at AS store_archived_at
         FROM tenancy.invitations i
         JOIN tenancy.stores s ON s.id = i.store_id
        WHERE i.identifier = ANY($1::text[]) AND i.accepted_at IS NULL AND i.revoked_at IS NULL
          AND i.expires_at > $2 AND s.archived_at IS NULL
        ORDER BY i.created_at DESC, i.id`,
      [identifiers, now],
    )) as InvitationWithStoreRow[];
  }
}
