import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';

/** SQL of `billing.credit_wallets` (the ledger arrives with the credits issue). */
@Injectable()
export class CreditsRepository {
  constructor(private readonly transactions: TransactionService) {}

  /** Creates the user's wallet (balance 0) unless it exists; returns its id. */
  async openWallet(userId: string): Promise<string> {
    const inserted = (await this.transactions.query(
      `INSERT INTO billing.credit_wallets (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING RETURNING id`,
      [userId],
    )) as Array<{ id: string }>;
    if (inserted[0]) return inserted[0].id;
    const existing = (await this.transactions.query(`SELECT id FROM billing.credit_wallets WHERE user_id = $1`, [
      userId,
    ])) as Array<{ id: string }>;
    return existing[0]!.id;
  }
}
