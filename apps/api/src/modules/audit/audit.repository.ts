import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** One row of `admin.audit_logs`. */
export interface AuditEntry {
  id: string;
  actorUserId: string | null;
  actorRole: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  storeId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
}

/** Filters of the admin listing; `before` is the cursor (an entry id, newest first). */
export interface AuditFilter {
  action?: string;
  actorUserId?: string;
  targetType?: string;
  targetId?: string;
  storeId?: string;
  from?: Date;
  to?: Date;
  before?: string;
  limit: number;
}

interface AuditRow {
  id: string;
  actor_user_id: string | null;
  actor_role: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  store_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
}

/** SQL of the append-only `admin.audit_logs` (the app role may only SELECT and INSERT). */
@Injectable()
export class AuditRepository {
  constructor(private readonly transactions: TransactionService) {}

  async insert(entry: Omit<AuditEntry, 'id' | 'createdAt'>): Promise<void> {
    await this.transactions.query(
      `INSERT INTO admin.audit_logs
         (actor_user_id, actor_role, action, target_type, target_id, store_id, ip, user_agent, request_id, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        entry.actorUserId,
        entry.actorRole,
        entry.action,
        entry.targetType,
        entry.targetId,
        entry.storeId,
        entry.ip,
        entry.userAgent,
        entry.requestId,
        JSON.stringify(entry.metadata),
      ],
    );
  }

  async list(filter: AuditFilter): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.action) add('action = ?', filter.action);
    if (filter.actorUserId) add('actor_user_id = ?', filter.actorUserId);
    if (filter.targetType) add('target_type = ?', filter.targetType);
    if (filter.targetId) add('target_id = ?', filter.targetId);
    if (filter.storeId) add('store_id = ?', filter.storeId);
    if (filter.from) add('created_at >= ?', filter.from);
    if (filter.to) add('created_at < ?', filter.to);
    if (filter.before) add('id < ?', filter.before);
    params.push(filter.limit);
    const rows = (await this.transactions.query(
      `SELECT id::text AS id, actor_user_id, actor_role, action, target_type, target_id, store_id, host(ip) AS ip,
              user_agent, request_id, metadata, created_at
         FROM admin.audit_logs
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id DESC
        LIMIT $${params.length}`,
      params,
    )) as AuditRow[];
    return rows.map((row) => ({
      id: row.id,
      actorUserId: row.actor_user_id,
      actorRole: row.actor_role,
      action: row.action,
      targetType: row.target_type,
      targetId: row.target_id,
      storeId: row.store_id,
      ip: row.ip,
      userAgent: row.user_agent,
      requestId: row.request_id,
      metadata: row.metadata,
      createdAt: row.created_at,
    }));
  }
}
