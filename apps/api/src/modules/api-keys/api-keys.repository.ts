import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** One row of `auth.api_keys` (the secret itself is never stored; `keyHash` is its SHA-256). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  prefix: string;
  keyHash: string;
  scopes: string[];
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  key_prefix: string;
  key_hash: string;
  scopes: string[];
  created_by: string | null;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = `id, name, key_prefix, key_hash, scopes, created_by, created_at, expires_at, last_used_at, revoked_at`;

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.key_prefix,
    keyHash: row.key_hash,
    scopes: row.scopes,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/**
 * SQL of `auth.api_keys`, in the caller's transaction. Row-level security lets only
 * ADMIN and SYSTEM see or change a row (admins manage keys; the guard checks them as SYSTEM).
 */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly transactions: TransactionService) {}

  async insert(input: {
    name: string;
    prefix: string;
    keyHash: string;
    scopes: string[];
    createdBy: string | null;
    createdAt: Date;
    expiresAt: Date | null;
  }): Promise<ApiKeyRecord> {
    const rows = (await this.transactions.query(
      `INSERT INTO auth.api_keys (name, key_prefix, key_hash, scopes, created_by, created_at, updated_at, expires_at)
       VALUES ($1, $2, $3, $4::text[], $5, $6, $6, $7)
       RETURNING ${COLUMNS}`,
      [input.name, input.prefix, input.keyHash, input.scopes, input.createdBy, input.createdAt, input.expiresAt],
    )) as ApiKeyRow[];
    return toRecord(rows[0]!);
  }

  /** Every key, newest first. */
  async list(): Promise<ApiKeyRecord[]> {
    const rows = (await this.transactions.query(
      `SELECT ${COLUMNS} FROM auth.api_keys ORDER BY created_at DESC, id DESC`,
    )) as ApiKeyRow[];
    return rows.map(toRecord);
  }

  async findByPrefix(prefix: string): Promise<ApiKeyRecord | null> {
    const rows = (await this.transactions.query(`SELECT ${COLUMNS} FROM auth.api_keys WHERE key_prefix = $1`, [
      prefix,
    ])) as ApiKeyRow[];
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async findById(id: string): Promise<ApiKeyRecord | null> {
    const rows = (await this.transactions.query(`SELECT ${COLUMNS} FROM auth.api_keys WHERE id = $1`, [
      id,
    ])) as ApiKeyRow[];
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Sets `revoked_at` once; returns the row when this call revoked it, null when it already was (or is unknown). */
  async revoke(id: string, at: Date): Promise<ApiKeyRecord | null> {
    const rows = (await this.transactions.query(
      `UPDATE auth.api_keys SET revoked_at = $2, updated_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ${COLUMNS}`,
      [id, at],
    )) as ApiKeyRow[];
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.transactions.query(`UPDATE auth.api_keys SET last_used_at = $2 WHERE id = $1`, [id, at]);
  }
}
