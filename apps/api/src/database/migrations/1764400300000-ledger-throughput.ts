import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ledger throughput (issue 4's benchmark goal: ≥ 2,000 ledger operations/s with 64 clients on 64
 * wallets, `bench/ledger.bench.mjs`). Same guarantees, same function signatures and results; less
 * work per hold, commit or void. Measured before / after in bench/README.md.
 *
 * 1. `billing.apply_credit_write` and `billing.finish_credit_hold` no longer look for an earlier
 *    row before every write. They still lock the wallet first (`FOR UPDATE`, so the statements
 *    after it see every write committed before the lock was granted) and refuse an overdraft before
 *    writing; then the row is appended with `INSERT … ON CONFLICT DO NOTHING`, whose arbiters are
 *    exactly the UNIQUE indexes a replay hits (idempotency key, the reference's HOLD, its
 *    HOLD_COMMIT / HOLD_VOID), and the wallet is moved only when the row was appended. The look-ups
 *    of the earlier row run only when nothing was written: a replay, an overdraft (a replay of an
 *    earlier write is still returned, not refused), or a conflict on an index none of them covers,
 *    for which the plain INSERT runs again so that PostgreSQL raises its own unique_violation (23505)
 *    naming the constraint, as before. A racing replay now waits on the UNIQUE index (or on the
 *    wallet lock, as before) and returns the first row. `finish_credit_hold` finds the HOLD and locks
 *    its wallet in one statement (the HOLD row never changes). Statements per call: 3 instead of 5
 *    (hold) and 6 (commit, void).
 * 2. `credit_transactions_holds_created_idx` (created_at of HOLD rows) is dropped. Besides costing an
 *    index insert per hold, it was a plan trap: it shares its predicate (`type = 'HOLD'`) with
 *    `credit_transactions_one_hold_key`, and with statistics older than the last burst of holds the
 *    planner chose it for "the HOLD of this session", scanning every HOLD row (seen: 8,000 rows read
 *    for 1 found; calls 3× slower and growing with the ledger). No query needs it:
 *    `CreditsRepository.staleHolds` starts from the wallets with `held > 0`.
 * 3. `auth.is_privileged()` is PL/pgSQL instead of SQL, same body and result. Every row-level
 *    security policy calls it once per statement (an InitPlan); as a SQL function that cannot be
 *    inlined (it has a SET clause) each call started a small executor (`fmgr_sql`): 16 % of the
 *    backend time of a hold in a CPU profile. PL/pgSQL evaluates the same expression without one.
 *    Every policy of every table benefits; no policy text changes.
 * 4. The four CHECK constraints of `billing.credit_transactions` keep their names and rules, written
 *    as calls to IMMUTABLE PL/pgSQL functions. PostgreSQL re-reads each CHECK from its stored node
 *    text (`stringToNode`) for every INSERT statement; the four were 11 KB of it (the sign rule, a
 *    five-branch CASE, 6 KB), a function call a few hundred bytes: a hold's function time fell from
 *    110 – 125 to 95 – 105 µs with this alone.
 *
 * Not changed, on purpose: `synchronous_commit` (every ledger COMMIT waits for its WAL flush: money),
 * SECURITY INVOKER (row-level security and the app role's privileges still apply inside: ledger
 * writes stay SYSTEM-only), the append-only grants, the wallet CHECKs, the foreign keys, the lock
 * order, the UNIQUE indexes.
 */

const APP = 'miinventario_app';

/** Columns of an appended row, in the INSERT's order. */
const INSERT_COLUMNS = `(wallet_id, user_id, type, amount, held_delta, balance_after, held_after,
     reference_type, reference_id, idempotency_key, metadata, created_by)`;

/**
 * The PL/pgSQL that appends one row for the locked wallet `v_wallet` and moves it, shared by both
 * functions (which declare `v_wallet`, `v_row`, `v_insufficient`). `amount`, `heldDelta` and
 * `metadata` are PL/pgSQL expressions; `lookups` finds the earlier row of a replay into `v_row`.
 * Ends with RETURN in every branch.
 */
function writeLockedWallet(values: { amount: string; heldDelta: string; metadata: string }, lookups: string): string {
  const row = `(v_wallet.id, v_wallet.user_id, p_type, ${values.amount}, ${values.heldDelta},
          v_wallet.balance + ${values.amount}, v_wallet.held + ${values.heldDelta},
          p_reference_type, p_reference_id, p_idempotency_key, coalesce(${values.metadata}, '{}'::jsonb), p_created_by)`;
  return `  v_insufficient := v_wallet.balance + ${values.amount} < 0 OR v_wallet.held + ${values.heldDelta} < 0
    OR (v_wallet.balance + ${values.amount}) - (v_wallet.held + ${values.heldDelta}) < 0;
  IF NOT v_insufficient THEN
    -- Append the row unless a UNIQUE index already holds its key; move the wallet only then. The
    -- wallet is locked: v_wallet is its current value.
    INSERT INTO billing.credit_transactions AS t
      ${INSERT_COLUMNS}
    VALUES ${row}
    ON CONFLICT DO NOTHING
    RETURNING t.* INTO v_row;
    IF FOUND THEN
      UPDATE billing.credit_wallets w
         SET balance = w.balance + v_row.amount, held = w.held + v_row.held_delta
       WHERE w.id = v_wallet.id;
      outcome := 'inserted';
      available := v_row.balance_after - v_row.held_after;
      entry := v_row;
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;
  -- Nothing written. A replay returns the earlier row (also when the write would now overdraw).
  available := v_wallet.balance - v_wallet.held;
${lookups}
  IF v_row.id IS NOT NULL THEN
    outcome := 'existing';
    entry := v_row;
    RETURN NEXT;
    RETURN;
  END IF;
  IF v_insufficient THEN
    outcome := 'insufficient';
    RETURN NEXT;
    RETURN;
  END IF;
  -- A conflict on a UNIQUE index that the look-ups do not cover: let PostgreSQL raise its
  -- unique_violation (23505, naming the constraint).
  INSERT INTO billing.credit_transactions ${INSERT_COLUMNS} VALUES ${row};
  RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'credit ledger: a conflicting row vanished';`;
}

const KEY_LOOKUP = `  SELECT t.* INTO v_row FROM billing.credit_transactions t WHERE t.idempotency_key = p_idempotency_key;`;
const HOLD_LOOKUP = `SELECT t.* INTO v_row FROM billing.credit_transactions t
     WHERE t.type = 'HOLD' AND t.reference_type = p_reference_type AND t.reference_id = p_reference_id;`;
const FINAL_LOOKUP = `SELECT t.* INTO v_row FROM billing.credit_transactions t
     WHERE t.type IN ('HOLD_COMMIT', 'HOLD_VOID')
       AND t.reference_type = p_reference_type AND t.reference_id = p_reference_id;`;

const APPLY_FUNCTION = `CREATE OR REPLACE FUNCTION billing.apply_credit_write(
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
-- the reference), 'final' (also its HOLD_COMMIT / HOLD_VOID). Migration LedgerThroughput1764400300000.
DECLARE
  v_wallet billing.credit_wallets;
  v_row billing.credit_transactions;
  v_insufficient boolean;
BEGIN
  SELECT w.* INTO v_wallet FROM billing.credit_wallets w WHERE w.id = p_wallet_id FOR UPDATE;
  IF NOT FOUND THEN
    outcome := 'no_wallet';
    RETURN NEXT;
    RETURN;
  END IF;
${writeLockedWallet(
  { amount: 'p_amount', heldDelta: 'p_held_delta', metadata: 'p_metadata' },
  `${KEY_LOOKUP}
  IF NOT FOUND AND p_replay = 'hold' THEN
    ${HOLD_LOOKUP}
  ELSIF NOT FOUND AND p_replay = 'final' THEN
    ${FINAL_LOOKUP}
  END IF;`,
)}
END
$fn$`;

const FINISH_FUNCTION = `CREATE OR REPLACE FUNCTION billing.finish_credit_hold(
    p_reference_type text, p_reference_id text, p_type text, p_idempotency_key text,
    p_metadata jsonb, p_created_by uuid)
  RETURNS TABLE (outcome text, available integer, entry billing.credit_transactions)
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $fn$
-- Commits (HOLD_COMMIT: balance and held - size) or voids (HOLD_VOID: held - size) the HOLD of a
-- reference; outcome 'no_hold' when it has none, else as apply_credit_write (replays: the
-- reference's existing final row, whatever its type). The hold's id is added to the metadata.
-- Migration LedgerThroughput1764400300000.
DECLARE
  v_hold record;
  v_wallet billing.credit_wallets;
  v_amount integer;
  v_held_delta integer;
  v_metadata jsonb;
  v_row billing.credit_transactions;
  v_insufficient boolean;
BEGIN
  IF p_type NOT IN ('HOLD_COMMIT', 'HOLD_VOID') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'finish_credit_hold: p_type must be HOLD_COMMIT or HOLD_VOID';
  END IF;
  -- The HOLD (which never changes) and its wallet, locked, in one statement.
  SELECT w AS wallet, h.id, h.held_delta INTO v_hold
    FROM billing.credit_transactions h
    JOIN billing.credit_wallets w ON w.id = h.wallet_id
   WHERE h.type = 'HOLD' AND h.reference_type = p_reference_type AND h.reference_id = p_reference_id
     FOR UPDATE OF w;
  IF NOT FOUND THEN
    outcome := 'no_hold';
    RETURN NEXT;
    RETURN;
  END IF;
  v_wallet := v_hold.wallet;
  v_held_delta := -v_hold.held_delta;
  v_amount := CASE WHEN p_type = 'HOLD_COMMIT' THEN v_held_delta ELSE 0 END;
  v_metadata := coalesce(p_metadata, '{}'::jsonb) || jsonb_build_object('holdId', v_hold.id);
${writeLockedWallet(
  { amount: 'v_amount', heldDelta: 'v_held_delta', metadata: 'v_metadata' },
  `${KEY_LOOKUP}
  IF NOT FOUND THEN
    ${FINAL_LOOKUP}
  END IF;`,
)}
END
$fn$`;

// ------------------------------------------------------------------ previous definitions (down)

/** `billing.apply_credit_write` as migration CreditsLedger1764400100000 created it. */
const PREVIOUS_APPLY_FUNCTION = `CREATE OR REPLACE FUNCTION billing.apply_credit_write(
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

/** `billing.finish_credit_hold` as migration CreditsLedger1764400100000 created it. */
const PREVIOUS_FINISH_FUNCTION = `CREATE OR REPLACE FUNCTION billing.finish_credit_hold(
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

// ------------------------------------------------------------------ auth.is_privileged

const IS_PRIVILEGED_PLPGSQL = `CREATE OR REPLACE FUNCTION auth.is_privileged() RETURNS boolean
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- ADMIN and SYSTEM (workers, pre-authentication flows) see and write every row. PL/pgSQL, not
  -- SQL: called by every policy, and cheaper so (migration LedgerThroughput1764400300000).
  RETURN auth.request_role() IN ('ADMIN', 'SYSTEM');
END
$fn$`;

/** As migration InitialSchema1764400000000 created it. */
const IS_PRIVILEGED_SQL = `CREATE OR REPLACE FUNCTION auth.is_privileged() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT auth.request_role() IN ('ADMIN', 'SYSTEM')
$fn$`;

// ------------------------------------------------------------------ CHECK constraints

/**
 * The CHECKs of `billing.credit_transactions`: name, the rule as migrations InitialSchema and
 * CreditsLedger wrote it (restored by `down`), and the same rule as an IMMUTABLE function of the
 * row's columns.
 */
const LEDGER_CHECKS: Array<{ name: string; inline: string; fn: string; args: string; params: string; body: string }> = [
  {
    name: 'credit_transactions_type_check',
    inline: `type IN ('WELCOME', 'PURCHASE', 'HOLD', 'HOLD_COMMIT', 'HOLD_VOID', 'REFERRAL_REWARD', 'ADMIN_ADJUSTMENT')`,
    fn: 'billing.ledger_type_ok',
    args: 'type',
    params: 'p_type text',
    body: `p_type IN ('WELCOME', 'PURCHASE', 'HOLD', 'HOLD_COMMIT', 'HOLD_VOID', 'REFERRAL_REWARD', 'ADMIN_ADJUSTMENT')`,
  },
  {
    name: 'credit_transactions_after_check',
    inline: 'balance_after >= 0 AND held_after >= 0 AND balance_after - held_after >= 0',
    fn: 'billing.ledger_after_ok',
    args: 'balance_after, held_after',
    params: 'p_balance_after integer, p_held_after integer',
    body: 'p_balance_after >= 0 AND p_held_after >= 0 AND p_balance_after - p_held_after >= 0',
  },
  {
    name: 'credit_transactions_hold_reference_check',
    inline: `type NOT IN ('HOLD', 'HOLD_COMMIT', 'HOLD_VOID') OR (reference_type IS NOT NULL AND reference_id IS NOT NULL)`,
    fn: 'billing.ledger_hold_reference_ok',
    args: 'type, reference_type, reference_id',
    params: 'p_type text, p_reference_type text, p_reference_id text',
    body: `p_type NOT IN ('HOLD', 'HOLD_COMMIT', 'HOLD_VOID') OR (p_reference_type IS NOT NULL AND p_reference_id IS NOT NULL)`,
  },
  {
    name: 'credit_transactions_sign_check',
    inline: `CASE type
          WHEN 'HOLD' THEN amount = 0 AND held_delta > 0
          WHEN 'HOLD_VOID' THEN amount = 0 AND held_delta < 0
          WHEN 'HOLD_COMMIT' THEN amount < 0 AND held_delta = amount
          WHEN 'ADMIN_ADJUSTMENT' THEN amount <> 0 AND held_delta = 0
          ELSE amount > 0 AND held_delta = 0
        END`,
    fn: 'billing.ledger_sign_ok',
    args: 'type, amount, held_delta',
    params: 'p_type text, p_amount integer, p_held_delta integer',
    body: `CASE p_type
          WHEN 'HOLD' THEN p_amount = 0 AND p_held_delta > 0
          WHEN 'HOLD_VOID' THEN p_amount = 0 AND p_held_delta < 0
          WHEN 'HOLD_COMMIT' THEN p_amount < 0 AND p_held_delta = p_amount
          WHEN 'ADMIN_ADJUSTMENT' THEN p_amount <> 0 AND p_held_delta = 0
          ELSE p_amount > 0 AND p_held_delta = 0
        END`,
  },
];

/** `billing.ledger_x(text, integer)` style signature of a check function. */
function checkSignature(check: (typeof LEDGER_CHECKS)[number]): string {
  const types = check.params.split(',').map((param) => param.trim().split(/\s+/)[1]);
  return `${check.fn}(${types.join(', ')})`;
}

function checkFunction(check: (typeof LEDGER_CHECKS)[number]): string {
  return `CREATE FUNCTION ${check.fn}(${check.params}) RETURNS boolean
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- The rule of CHECK ${check.name} (migration LedgerThroughput1764400300000).
  RETURN ${check.body};
END
$fn$`;
}

export class LedgerThroughput1764400300000 implements MigrationInterface {
  name = 'LedgerThroughput1764400300000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const check of LEDGER_CHECKS) {
      await queryRunner.query(checkFunction(check));
      await queryRunner.query(`REVOKE ALL ON FUNCTION ${checkSignature(check)} FROM PUBLIC`);
      // A CHECK runs with the privileges of the role writing the row.
      await queryRunner.query(`GRANT EXECUTE ON FUNCTION ${checkSignature(check)} TO ${APP}`);
    }
    // One ALTER TABLE: the table is scanned once to validate the four rewritten CHECKs.
    await queryRunner.query(
      `ALTER TABLE billing.credit_transactions
         ${LEDGER_CHECKS.map((check) => `DROP CONSTRAINT ${check.name}`).join(',\n         ')},
         ${LEDGER_CHECKS.map((check) => `ADD CONSTRAINT ${check.name} CHECK (${check.fn}(${check.args}))`).join(',\n         ')}`,
    );
    await queryRunner.query(`DROP INDEX billing.credit_transactions_holds_created_idx`);
    await queryRunner.query(IS_PRIVILEGED_PLPGSQL);
    await queryRunner.query(APPLY_FUNCTION);
    await queryRunner.query(FINISH_FUNCTION);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(PREVIOUS_FINISH_FUNCTION);
    await queryRunner.query(PREVIOUS_APPLY_FUNCTION);
    await queryRunner.query(IS_PRIVILEGED_SQL);
    await queryRunner.query(
      `CREATE INDEX credit_transactions_holds_created_idx ON billing.credit_transactions (created_at) WHERE type = 'HOLD'`,
    );
    await queryRunner.query(
      `ALTER TABLE billing.credit_transactions
         ${LEDGER_CHECKS.map((check) => `DROP CONSTRAINT ${check.name}`).join(',\n         ')},
         ${LEDGER_CHECKS.map((check) => `ADD CONSTRAINT ${check.name} CHECK (${check.inline})`).join(',\n         ')}`,
    );
    for (const check of LEDGER_CHECKS) await queryRunner.query(`DROP FUNCTION ${checkSignature(check)}`);
  }
}
