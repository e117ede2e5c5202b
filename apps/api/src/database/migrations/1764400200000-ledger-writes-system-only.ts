import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Credits are money: only the SYSTEM (or an ADMIN) identity may write wallets and the
 * ledger. The initial schema let a person's own identity insert, update and delete their
 * wallet row and insert their own ledger rows; the credits service already writes both
 * only through `TransactionService.elevate` (SYSTEM), so this closes a door nothing uses.
 * People keep reading their own wallet and transactions (`rls_select` is unchanged).
 */
const PRIVILEGED_WRITE = 'auth.has_identity() AND (SELECT auth.is_privileged())';
const OWN_ROW =
  'auth.has_identity() AND ((SELECT auth.is_privileged()) OR (user_id = (SELECT auth.request_user_id())))';

export class LedgerWritesSystemOnly1764400200000 implements MigrationInterface {
  name = 'LedgerWritesSystemOnly1764400200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of policies(PRIVILEGED_WRITE)) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of policies(OWN_ROW)) await queryRunner.query(sql);
  }
}

function policies(rule: string): string[] {
  return [
    'DROP POLICY rls_insert ON billing.credit_wallets',
    'DROP POLICY rls_update ON billing.credit_wallets',
    'DROP POLICY rls_delete ON billing.credit_wallets',
    'DROP POLICY rls_insert ON billing.credit_transactions',
    `CREATE POLICY rls_insert ON billing.credit_wallets FOR INSERT WITH CHECK (${rule})`,
    `CREATE POLICY rls_update ON billing.credit_wallets FOR UPDATE USING (${rule}) WITH CHECK (${rule})`,
    `CREATE POLICY rls_delete ON billing.credit_wallets FOR DELETE USING (${rule})`,
    `CREATE POLICY rls_insert ON billing.credit_transactions FOR INSERT WITH CHECK (${rule})`,
  ];
}
