import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** A row of `admin.settings`. */
export interface SettingRow {
  key: string;
  value: unknown;
  description: string | null;
  updated_by: string | null;
  updated_at: Date;
}

/** SQL of `admin.settings` (ADMIN/SYSTEM only under row-level security). */
@Injectable()
export class SettingsRepository {
  constructor(private readonly transactions: TransactionService) {}

  async list(): Promise<SettingRow[]> {
    return (await this.transactions.query(
      `SELECT key, value, description, updated_by, updated_at FROM admin.settings ORDER BY key`,
    )) as SettingRow[];
  }

  async get(key: string): Promise<SettingRow | null> {
    const rows = (await this.transactions.query(
      `SELECT key, value, description, updated_by, updated_at FROM admin.settings WHERE key = $1`,
      [key],
    )) as SettingRow[];
    return rows[0] ?? null;
  }

  /** Inserts or replaces a setting; returns the row. */
  async put(key: string, value: unknown, description: string, updatedBy: string | null): Promise<SettingRow> {
    const rows = (await this.transactions.query(
      `INSERT INTO admin.settings (key, value, description, updated_by) VALUES ($1, $2::jsonb, $3, $4)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by
       RETURNING key, value, description, updated_by, updated_at`,
      [key, JSON.stringify(value), description, updatedBy],
    )) as SettingRow[];
    return rows[0]!;
  }
}
