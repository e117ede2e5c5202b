import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Credits ledger (issue 4): makes the effect of every ledger row on the wallet explicit and
 * checked by the database.
 *
 * - `held_delta`: the change of the wallet's `held` that the row made, beside `amount` (the
 *   change of `balance`). So for every wallet, `balance = Σ amount` and `held = Σ held_delta`
 *   over its rows, and each row's `balance_after` / `held_after` are the wallet's values
 *   right after it.
 * - `credit_transactions_sign_check`: the sign of both per type, so a row can never move
 *   credits the wrong way:
 *
 *   | type                                 | amount (balance) | held_delta (held) |
 *   | ------------------------------------ | ---------------- | ----------------- |
 *   | WELCOME, PURCHASE, REFERRAL_REWARD   | > 0              | 0                 |
 *   | ADMIN_ADJUSTMENT                     | ≠ 0 (±)          | 0                 |
 *   | HOLD (reserve for a session)         | 0                | > 0               |
 *   | HOLD_COMMIT (session READY: spent)   | < 0              | = amount          |
 *   | HOLD_VOID (session FAILED: released) | 0                | < 0               |
 *
 * No hold existed before this migration (the service that writes them arrives with it), so
 * the default 0 is right for every existing row and the CHECK validates at once.
 *
 * - `billing.apply_credit_write(…)`: the one ledger write, in one round trip: lock the wallet
 *   (`FOR UPDATE`), look for a replay (same idempotency key, or the session's HOLD / final row),
 *   refuse an overdraft ('insufficient', before the CHECKs would raise 23514), else move the
 *   wallet and append the row with the resulting balance and held. Each statement of a PL/pgSQL
 *   function takes a fresh READ COMMITTED snapshot, so the replay lookup, which runs after the
 *   lock is granted, sees the row of whoever held the lock before: a racing replay returns the
 *   first row instead of failing on the UNIQUE constraint. One call instead of a lock statement
 *   plus a write statement doubled the ledger's throughput in `bench/ledger.bench.mjs`.
 * - `billing.finish_credit_hold(…)`: finds a session's HOLD and applies its HOLD_COMMIT or
 *   HOLD_VOID through `apply_credit_write` (replays: the session's existing final row).
 *
 * Both are SECURITY INVOKER: row-level security and the app role's privileges apply inside as
 * outside (the service calls them as SYSTEM). Owned by the owner role; EXECUTE for the app role.
 */
const APP = 'miinventario_app';

const APPLY_SIGNATURE = 'billing.apply_credit_write(uuid, text, integer, integer, text, text, text, jsonb, uuid, text)';
const FINISH_SIGNATURE = 'billing.finish_credit_hold(text, text, text, text, jsonb, uuid)';

const APPLY_FUNCTION = `CREATE FUNCTION billing.apply_credit_write(
    p_wallet_id uuid, p_type text, p_amount integer, p_held_delta integer,
    p_reference_type text, p_reference_id text, p_idempotency_key text,
    p_metadata jsonb, p_created_by uuid, p_replay text)
  RETURNS TABLE (outcome text, available integer, entry billing.credit_transactions)
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $fn$
-- outcome: 'inserted' (entry = the new row), 'existing' (entry = the earlier row that makes this a
-- replay; nothing written), 'insufficient' (nothing written), 'no_wallet'. available = balance - held
-- of the wallet after the call. p_replay: 'key' (idempotency key only), 'hold' (also the HOLD of
-- the reference), 'final' (also its HOLD_COMMIT / HOLD_VOID).
DECLARE
  v_wallet billing.credit_wallets;
  v_row billing.credit_transactions;
BEGIN
  SELECT w.* INTO v_wallet FROM billing.credit_wallets w WHERE w.id = p_wallet_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'no_wallet'::text, NULL::integer, NULL::billing.credit_transactions;
    RETURN;
  END IF;
  available := v_wallet.balance - v_wallet.held;

  SELECT t.* INTO v_row FROM billing.credit_transactions t WHERE t.idempotency_key = p_idempotency_key;
  IF NOT FOUND AND p_replay = 'hold' THEN
    SELECT t.* INTO v_row FROM billing.credit_transactions t
     WHERE t.type = 'HOLD' AND t.reference_type = p_reference_type AND t.reference_id = p_reference_id;
  ELSIF NOT FOUND AND p_replay = 'final' THEN
    SELECT t.* INTO v_row FROM billing.credit_transactions t
     WHERE t.type IN ('HOLD_COMMIT', 'HOLD_VOID')
       AND t.reference_type = p_reference_type AND t.reference_id = p_reference_id;
  END IF;
  IF v_row.id IS NOT NULL THEN
    outcome := 'existing';
    entry := v_row;
    RETURN NEXT;
    RETURN;
  END IF;

  IF v_wallet.balance + p_amount < 0 OR v_wallet.held + p_held_delta < 0
     OR (v_wallet.balance + p_amount) - (v_wallet.held + p_held_delta) < 0 THEN
    outcome := 'insufficient';
    entry := NULL;
    RETURN NEXT;
    RETURN;
  END IF;

  UPDATE billing.credit_wallets w
     SET balance = w.balance + p_amount, held = w.held + p_held_delta
   WHERE w.id = p_wallet_id
  RETURNING w.* INTO v_wallet;
  INSERT INTO billing.credit_transactions AS t
    (wallet_id, user_id, type, amount, held_delta, balance_after, held_after,
     reference_type, reference_id, idempotency_key, metadata, created_by)
  VALUES (v_wallet.id, v_wallet.user_id, p_type, p_amount, p_held_delta, v_wallet.balance, v_wallet.held,
          p_reference_type, p_reference_id, p_idempotency_key, coalesce(p_metadata, '{}'::jsonb), p_created_by)
  RETURNING t.* INTO v_row;
  outcome := 'inserted';
  available := v_wallet.balance - v_wallet.held;
  entry := v_row;
  RETURN NEXT;
END
$fn$`;

const FINISH_FUNCTION = `CREATE FUNCTION billing.finish_credit_hold(
    p_reference_type text, p_reference_id text, p_type text, p_idempotency_key text,
    p_metadata jsonb, p_created_by uuid)
  RETURNS TABLE (outcome text, available integer, entry billing.credit_transactions)
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $fn$
-- Commits (HOLD_COMMIT: balance and held - size) or voids (HOLD_VOID: held - size) the HOLD of a
-- reference; outcome 'no_hold' when it has none, else as apply_credit_write. The hold's id is
-- added to the metadata. HOLD rows never change, so reading one before the lock is safe.
DECLARE
  v_hold billing.credit_transactions;
BEGIN
  IF p_type NOT IN ('HOLD_COMMIT', 'HOLD_VOID') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'finish_credit_hold: p_type must be HOLD_COMMIT or HOLD_VOID';
  END IF;
  SELECT t.* INTO v_hold FROM billing.credit_transactions t
   WHERE t.type = 'HOLD' AND t.reference_type = p_reference_type AND t.reference_id = p_reference_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'no_hold'::text, NULL::integer, NULL::billing.credit_transactions;
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM billing.apply_credit_write(
    v_hold.wallet_id, p_type,
    CASE WHEN p_type = 'HOLD_COMMIT' THEN -v_hold.held_delta ELSE 0 END, -v_hold.held_delta,
    p_reference_type, p_reference_id, p_idempotency_key,
    coalesce(p_metadata, '{}'::jsonb) || jsonb_build_object('holdId', v_hold.id), p_created_by, 'final');
END
$fn$`;

export class CreditsLedger1764400100000 implements MigrationInterface {
  name = 'CreditsLedger1764400100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE billing.credit_transactions ADD COLUMN held_delta integer NOT NULL DEFAULT 0`);
    await queryRunner.query(
      `ALTER TABLE billing.credit_transactions ADD CONSTRAINT credit_transactions_sign_check CHECK (
        CASE type
          WHEN 'HOLD' THEN amount = 0 AND held_delta > 0
          WHEN 'HOLD_VOID' THEN amount = 0 AND held_delta < 0
          WHEN 'HOLD_COMMIT' THEN amount < 0 AND held_delta = amount
          WHEN 'ADMIN_ADJUSTMENT' THEN amount <> 0 AND held_delta = 0
          ELSE amount > 0 AND held_delta = 0
        END)`,
    );
    await queryRunner.query(
      `COMMENT ON COLUMN billing.credit_transactions.amount IS 'Change of the wallet balance made by this row, in credits (HOLD and HOLD_VOID: 0). balance = sum(amount).'`,
    );
    await queryRunner.query(
      `COMMENT ON COLUMN billing.credit_transactions.held_delta IS 'Change of the wallet held amount made by this row, in credits (HOLD +, HOLD_COMMIT and HOLD_VOID -). held = sum(held_delta).'`,
    );
    await queryRunner.query(APPLY_FUNCTION);
    await queryRunner.query(FINISH_FUNCTION);
    for (const fn of [APPLY_SIGNATURE, FINISH_SIGNATURE]) {
      await queryRunner.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
      await queryRunner.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${APP}`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION ${FINISH_SIGNATURE}`);
    await queryRunner.query(`DROP FUNCTION ${APPLY_SIGNATURE}`);
    await queryRunner.query(`ALTER TABLE billing.credit_transactions DROP CONSTRAINT credit_transactions_sign_check`);
    await queryRunner.query(`ALTER TABLE billing.credit_transactions DROP COLUMN held_delta`);
    await queryRunner.query(`COMMENT ON COLUMN billing.credit_transactions.amount IS NULL`);
  }
}
