import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole initial schema of MiInventario (issue 2, "Foundation"): nine schemas, every table
 * the first five issues need, row-level security on every table, grants to the app role, and
 * seed rows (credit packages, admin settings).
 *
 * Runs as `miinventario_owner` (the migration DataSource connects with `-c role=…`), so that
 * role owns every object. Cluster-wide roles are created by the provisioner, never here.
 *
 * Request identity (DESIGN.md "Data"): the API sets `app.user_id` / `app.role` with
 * `set_config(…, true)` in each transaction. Every policy starts with `auth.has_identity()`, so a
 * query without identity raises SQLSTATE 28000, even on an empty table, instead of returning
 * zero rows. PostgreSQL never turns a row-security qual into a One-Time Filter (security quals are
 * always evaluated per row at the scan, verified on 15 and 18), so `has_identity()` is declared
 * IMMUTABLE on purpose: the planner then constant-folds it while planning each statement, which
 * runs the check once, before any row is read. See the function's comment for the trade-off.
 * Each command has exactly one permissive policy per table (no FOR ALL policy overlapping a FOR
 * SELECT one), which keeps every policy readable on its own.
 *
 * `down` drops the nine schemas (and with them every table, function, policy and grant made
 * here); the three roles are left alone.
 */

const OWNER = 'miinventario_owner';
const APP = 'miinventario_app';
const RLS = 'miinventario_rls';

const SCHEMAS = ['auth', 'tenancy', 'inventory', 'media', 'billing', 'payments', 'referrals', 'feedback', 'admin'];

/** Store giros (issue 3), stored as ASCII codes; clients translate them to Spanish labels. */
const GIROS = [
  'abarrotes',
  'miscelanea',
  'tienda_conveniencia',
  'farmacia',
  'papeleria',
  'ferreteria',
  'verduleria',
  'carniceria',
  'panaderia',
  'otro',
];

const sqlList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

// ---------------------------------------------------------------------------------------------
// Policy building blocks. Scalar sub-selects run once per statement (InitPlan), not per row.
// Note the `::uuid[]` cast: PostgreSQL parses `x = ANY ((SELECT f()))` as `ANY (subquery)` and
// fails with "operator does not exist: uuid = uuid[]"; the cast makes it an array expression.
// ---------------------------------------------------------------------------------------------
const ME = '(SELECT auth.request_user_id())';
const PRIVILEGED = '(SELECT auth.is_privileged())';
const MEMBER_STORE = 'store_id = ANY ((SELECT auth.member_store_ids())::uuid[])';
const OWNED_STORE = 'store_id = ANY ((SELECT auth.owned_store_ids())::uuid[])';
const MY_ROW = `user_id = ${ME}`;
/** Marker: only ADMIN/SYSTEM may run this command. */
const ONLY_PRIVILEGED = null;

type Rule = string | typeof ONLY_PRIVILEGED;

/** `auth.has_identity() AND (privileged OR <tenant rule>)`: the shape of every policy. */
function guarded(rule: Rule): string {
  return rule === ONLY_PRIVILEGED
    ? `auth.has_identity() AND ${PRIVILEGED}`
    : `auth.has_identity() AND (${PRIVILEGED} OR (${rule}))`;
}

interface TableAccess {
  /** Rule per command; omit a command to allow it to nobody (no policy = no row). */
  select?: Rule;
  insert?: Rule;
  update?: Rule;
  delete?: Rule;
  /** Table privileges of the app role. */
  grants: 'SELECT, INSERT, UPDATE, DELETE' | 'SELECT, INSERT';
}

const rw = 'SELECT, INSERT, UPDATE, DELETE' as const;
const appendOnly = 'SELECT, INSERT' as const;

/** Same rule for all four commands. */
const all = (rule: Rule): TableAccess => ({ select: rule, insert: rule, update: rule, delete: rule, grants: rw });
/** Readable by `read`, writable by ADMIN/SYSTEM only. */
const readOnly = (read: Rule): TableAccess => ({
  select: read,
  insert: ONLY_PRIVILEGED,
  update: ONLY_PRIVILEGED,
  delete: ONLY_PRIVILEGED,
  grants: rw,
});

/** Rows of auth.users that I may see: my own, and members of the stores I belong to. */
const USERS_SELECT = `id = ${ME} OR id IN (SELECT su.user_id FROM tenancy.store_users su WHERE ${MEMBER_STORE.replace('store_id', 'su.store_id')})`;
/** My phone / e-mail, read through auth.users' own-row policy (for invitations addressed to me). */
const MY_IDENTIFIERS = `SELECT v.identifier FROM auth.users u CROSS JOIN LATERAL (VALUES (u.phone), (u.email)) AS v(identifier) WHERE u.id = ${ME} AND v.identifier IS NOT NULL`;

/**
 * Access rules of every table. Tenant tables use the store rule, personal tables the user
 * rule; system tables (no store_id / user_id) are ADMIN/SYSTEM only. Unauthenticated flows
 * (OTP request/verify, refresh, sign-up), webhooks, workers and cross-user steps (an OPERATOR
 * spending the store owner's credits, accepting an invitation) run as SYSTEM after the service
 * has checked the caller.
 */
const ACCESS: Record<string, TableAccess> = {
  // auth.users: my row, and co-members of my stores (the members list shows names). A
  // non-privileged writer can never produce a row with role ADMIN (no self-promotion); sign-up
  // and admin changes run as SYSTEM/ADMIN; hard deletes are privileged (users are anonymised).
  'auth.users': {
    select: USERS_SELECT,
    insert: `id = ${ME} AND role <> 'ADMIN'`,
    update: `id = ${ME} AND role <> 'ADMIN'`,
    delete: ONLY_PRIVILEGED,
    grants: rw,
  },
  'auth.sessions': all(MY_ROW),
  // OTP codes and lockouts are looked up by identifier before anyone is signed in: SYSTEM only.
  'auth.otp_codes': all(ONLY_PRIVILEGED),
  'auth.otp_lockouts': all(ONLY_PRIVILEGED),
  // API keys are created and checked by admins / the system.
  'auth.api_keys': all(ONLY_PRIVILEGED),
  // In-app notifications are personal even when they name a store.
  'auth.notifications': all(MY_ROW),
  'auth.push_devices': all(MY_ROW),

  // A store is visible to its members and to its creator (who inserts it before the first
  // membership row exists); only its OWNERs update or delete it.
  'tenancy.stores': {
    select: `id = ANY ((SELECT auth.member_store_ids())::uuid[]) OR created_by = ${ME}`,
    insert: `created_by = ${ME}`,
    update: 'id = ANY ((SELECT auth.owned_store_ids())::uuid[])',
    delete: 'id = ANY ((SELECT auth.owned_store_ids())::uuid[])',
    grants: rw,
  },
  // Memberships of my stores plus my own rows. OWNERs manage members; the creator of a store
  // that has no member yet may claim it as OWNER (auth.can_claim_store); anyone may leave.
  'tenancy.store_users': {
    select: `${MEMBER_STORE} OR ${MY_ROW}`,
    insert: `${OWNED_STORE} OR (${MY_ROW} AND role = 'OWNER' AND auth.can_claim_store(store_id))`,
    update: OWNED_STORE,
    delete: `${OWNED_STORE} OR ${MY_ROW}`,
    grants: rw,
  },
  // Invitations: managed by the store's OWNERs; the invitee can read the ones addressed to
  // their phone or e-mail. Acceptance (membership insert) runs as SYSTEM after the check.
  'tenancy.invitations': {
    select: `${OWNED_STORE} OR identifier IN (${MY_IDENTIFIERS})`,
    insert: OWNED_STORE,
    update: OWNED_STORE,
    delete: OWNED_STORE,
    grants: rw,
  },

  // Global catalogue rows (store_id IS NULL) are readable by any identity and written by
  // ADMIN/SYSTEM only (seeding); store-specific products belong to the store's members.
  'inventory.products': {
    select: `store_id IS NULL OR ${MEMBER_STORE}`,
    insert: MEMBER_STORE,
    update: MEMBER_STORE,
    delete: MEMBER_STORE,
    grants: rw,
  },
  'inventory.inventory_sessions': all(MEMBER_STORE),
  'inventory.inventory_items': all(MEMBER_STORE),

  'media.videos': all(MEMBER_STORE),
  'media.video_artifacts': all(MEMBER_STORE),
  'media.frames': all(MEMBER_STORE),

  // Wallets are personal; an OPERATOR spending the store owner's credits goes through SYSTEM.
  'billing.credit_wallets': all(MY_ROW),
  // The ledger is append-only: no UPDATE/DELETE privilege and no UPDATE/DELETE policy.
  'billing.credit_transactions': { select: MY_ROW, insert: MY_ROW, grants: appendOnly },
  // Packages are a price list: any identity reads, admins edit.
  'billing.credit_packages': readOnly('true'),
  // COGS: members read their store's costs (rows without a store: admins only); written by
  // the worker (SYSTEM).
  'billing.cogs_records': readOnly(MEMBER_STORE),

  'payments.payment_orders': all(MY_ROW),
  'payments.payment_methods': all(MY_ROW),
  // Webhook deliveries are system-level (no store, no user): SYSTEM/ADMIN only.
  'payments.webhook_events': all(ONLY_PRIVILEGED),

  // Referral data is personal to read; created and rewarded by the system.
  'referrals.referral_codes': readOnly(MY_ROW),
  'referrals.referral_tree': readOnly(`referrer_user_id = ${ME} OR referred_user_id = ${ME}`),
  'referrals.referral_rewards': readOnly(MY_ROW),

  'feedback.corrections': all(MEMBER_STORE),
  'feedback.ground_truth': all(MEMBER_STORE),

  // Settings may one day hold operational values: ADMIN/SYSTEM only.
  'admin.settings': all(ONLY_PRIVILEGED),
  // Audit log: anyone with an identity writes entries as themselves; only admins read.
  'admin.audit_logs': { select: ONLY_PRIVILEGED, insert: `actor_user_id = ${ME}`, grants: appendOnly },
};

// ---------------------------------------------------------------------------------------------
// DDL
// ---------------------------------------------------------------------------------------------

const ts = `created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()`;

const IDENTITY_FUNCTIONS = [
  // The request's user id. Raises 28000 when the API set no identity in this transaction.
  `CREATE FUNCTION auth.request_user_id() RETURNS uuid
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v text := current_setting('app.user_id', true);
BEGIN
  IF v IS NULL OR v = '' THEN
    RAISE EXCEPTION USING ERRCODE = '28000', MESSAGE = 'no request identity set (app.user_id)';
  END IF;
  IF v !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
    RAISE EXCEPTION USING ERRCODE = '28000', MESSAGE = 'invalid request identity (app.user_id)';
  END IF;
  RETURN v::uuid;
END
$fn$`,
  // The request's platform role: USER, OWNER, OPERATOR, ADMIN or SYSTEM. Raises 28000 otherwise.
  `CREATE FUNCTION auth.request_role() RETURNS text
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  v text := current_setting('app.role', true);
BEGIN
  IF v IS NULL OR v = '' THEN
    RAISE EXCEPTION USING ERRCODE = '28000', MESSAGE = 'no request identity set (app.role)';
  END IF;
  IF v NOT IN ('USER', 'OWNER', 'OPERATOR', 'ADMIN', 'SYSTEM') THEN
    RAISE EXCEPTION USING ERRCODE = '28000', MESSAGE = 'invalid request identity (app.role)';
  END IF;
  RETURN v;
END
$fn$`,
  // True, or raises 28000 (no/invalid app.user_id or app.role).
  //
  // IMMUTABLE is deliberate, not an oversight. RLS quals are never planned as a One-Time Filter:
  // a STABLE check would run once per row and so never on an empty table (zero rows, no
  // error). The planner constant-folds an IMMUTABLE call with no arguments while planning,
  // so the check runs once per statement before execution, on empty tables too, and then costs
  // nothing per row. Folding to `true` is sound because the function returns nothing else.
  // Limit: a plan cached across transactions (a named prepared statement, PL/pgSQL) is not
  // re-planned, so it does not re-check; the per-row rules (request_user_id, is_privileged)
  // still raise as soon as a row is examined. The API uses unnamed statements: re-planned
  // each time.
  `CREATE FUNCTION auth.has_identity() RETURNS boolean
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  PERFORM auth.request_user_id();
  PERFORM auth.request_role();
  RETURN true;
END
$fn$`,
  // ADMIN and SYSTEM (workers, pre-authentication flows) see and write every row.
  `CREATE FUNCTION auth.is_privileged() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT auth.request_role() IN ('ADMIN', 'SYSTEM')
$fn$`,
];

// SECURITY DEFINER helpers reading memberships. Owned by miinventario_rls (BYPASSRLS), so
// calling them from a tenancy policy does not recurse into that policy.
const MEMBERSHIP_FUNCTIONS = [
  // Ids of the non-archived stores where the request user is a member (OWNER or OPERATOR).
  `CREATE FUNCTION auth.member_store_ids() RETURNS uuid[]
  LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT coalesce(array_agg(su.store_id), '{}'::uuid[])
  FROM tenancy.store_users su
  JOIN tenancy.stores s ON s.id = su.store_id
  WHERE su.user_id = auth.request_user_id() AND s.archived_at IS NULL
$fn$`,
  // Ids of the non-archived stores where the request user is an OWNER.
  `CREATE FUNCTION auth.owned_store_ids() RETURNS uuid[]
  LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT coalesce(array_agg(su.store_id), '{}'::uuid[])
  FROM tenancy.store_users su
  JOIN tenancy.stores s ON s.id = su.store_id
  WHERE su.user_id = auth.request_user_id() AND su.role = 'OWNER' AND s.archived_at IS NULL
$fn$`,
  // True when the request user created this (non-archived) store and it has no member yet:
  // the creator's first OWNER row. Once any member exists, only OWNERs add members (so a
  // creator who was removed cannot re-add themselves).
  `CREATE FUNCTION auth.can_claim_store(p_store_id uuid) RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT EXISTS (
           SELECT 1 FROM tenancy.stores s
           WHERE s.id = p_store_id AND s.created_by = auth.request_user_id() AND s.archived_at IS NULL)
     AND NOT EXISTS (SELECT 1 FROM tenancy.store_users su WHERE su.store_id = p_store_id)
$fn$`,
];

const MEMBERSHIP_FUNCTION_SIGNATURES = [
  'auth.member_store_ids()',
  'auth.owned_store_ids()',
  'auth.can_claim_store(uuid)',
];
const IDENTITY_FUNCTION_SIGNATURES = [
  'auth.request_user_id()',
  'auth.request_role()',
  'auth.has_identity()',
  'auth.is_privileged()',
];

const TOUCH_FUNCTION = `CREATE FUNCTION admin.touch_updated_at() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- Keeps updated_at current on raw-SQL updates; an explicit new value is kept.
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$fn$`;

/**
 * Tables in creation order (FK targets first). Conventions: uuid keys from gen_random_uuid();
 * money in integer centavos, credits as integers, times as timestamptz; every tenant-owned row
 * carries store_id NOT NULL (denormalised from its parent and pinned to it by a composite FK
 * (parent_id, store_id), so the RLS column check can never disagree with the parent).
 * Actor columns that may hold the SYSTEM id (00000000-…) have no FK to auth.users.
 */
const TABLES: string[] = [
  // ----------------------------------------------------------------------------- auth.users
  `CREATE TABLE auth.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  phone text UNIQUE,
  email text UNIQUE,
  role text NOT NULL DEFAULT 'USER',
  display_name text,
  locale text NOT NULL DEFAULT 'es-MX',
  phone_verified_at timestamptz,
  email_verified_at timestamptz,
  signup_referral_code text,
  last_login_at timestamptz,
  deleted_at timestamptz,
  ${ts},
  CONSTRAINT users_role_check CHECK (role IN ('USER', 'OWNER', 'OPERATOR', 'ADMIN')),
  CONSTRAINT users_phone_e164_check CHECK (phone ~ '^[+][1-9][0-9]{6,14}$'),
  CONSTRAINT users_email_check CHECK (email = lower(email) AND position('@' IN email) > 1),
  CONSTRAINT users_identifier_check CHECK (deleted_at IS NOT NULL OR phone IS NOT NULL OR email IS NOT NULL)
)`,
  `COMMENT ON TABLE auth.users IS 'People. phone is E.164, email lower-case; deleted_at marks an anonymised account (rows are never hard-deleted: the ledger keeps its history).'`,

  // ----------------------------------------------------------------------------- tenancy
  `CREATE TABLE tenancy.stores (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  giro text NOT NULL,
  address text,
  time_zone text NOT NULL DEFAULT 'America/Mexico_City',
  created_by uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
  archived_at timestamptz,
  ${ts},
  CONSTRAINT stores_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 120),
  CONSTRAINT stores_giro_check CHECK (giro IN (${sqlList(GIROS)}))
)`,
  `CREATE INDEX stores_created_by_idx ON tenancy.stores (created_by)`,

  `CREATE TABLE tenancy.invitations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL REFERENCES tenancy.stores (id) ON DELETE CASCADE,
  identifier text NOT NULL,
  channel text NOT NULL,
  role text NOT NULL,
  invited_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  revoked_at timestamptz,
  ${ts},
  CONSTRAINT invitations_channel_check CHECK (channel IN ('SMS', 'EMAIL')),
  CONSTRAINT invitations_role_check CHECK (role IN ('OWNER', 'OPERATOR'))
)`,
  `CREATE UNIQUE INDEX invitations_pending_key ON tenancy.invitations (store_id, identifier)
  WHERE accepted_at IS NULL AND revoked_at IS NULL`,
  `CREATE INDEX invitations_identifier_idx ON tenancy.invitations (identifier)`,
  `CREATE INDEX invitations_store_created_idx ON tenancy.invitations (store_id, created_at DESC)`,

  `CREATE TABLE tenancy.store_users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL REFERENCES tenancy.stores (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  role text NOT NULL,
  invitation_id uuid REFERENCES tenancy.invitations (id) ON DELETE SET NULL,
  added_by uuid,
  ${ts},
  CONSTRAINT store_users_role_check CHECK (role IN ('OWNER', 'OPERATOR')),
  CONSTRAINT store_users_store_user_key UNIQUE (store_id, user_id)
)`,
  `CREATE INDEX store_users_user_idx ON tenancy.store_users (user_id, store_id, role)`,
  `CREATE INDEX store_users_invitation_idx ON tenancy.store_users (invitation_id) WHERE invitation_id IS NOT NULL`,

  // ----------------------------------------------------------------------------- auth (rest)
  `CREATE TABLE auth.sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  family_id uuid NOT NULL,
  parent_id uuid UNIQUE REFERENCES auth.sessions (id) ON DELETE SET NULL,
  token_hash text NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz,
  revoked_at timestamptz,
  revoke_reason text,
  reuse_detected_at timestamptz,
  last_used_at timestamptz,
  user_agent text,
  ip inet,
  ${ts}
)`,
  `COMMENT ON TABLE auth.sessions IS 'One row per refresh token. family_id groups a sign-in''s rotations (the JWT sid); parent_id is UNIQUE so a token rotates at most once; presenting a rotated token revokes the family (RFC 9700 4.14.2).'`,
  `CREATE INDEX sessions_user_created_idx ON auth.sessions (user_id, created_at DESC)`,
  `CREATE INDEX sessions_family_idx ON auth.sessions (family_id)`,
  `CREATE INDEX sessions_expires_idx ON auth.sessions (expires_at)`,

  `CREATE TABLE auth.otp_codes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  identifier text NOT NULL,
  channel text NOT NULL,
  purpose text NOT NULL DEFAULT 'LOGIN',
  requested_by_user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  request_id text,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  invalidated_at timestamptz,
  ip inet,
  user_agent text,
  ${ts},
  CONSTRAINT otp_codes_channel_check CHECK (channel IN ('SMS', 'EMAIL')),
  CONSTRAINT otp_codes_purpose_check CHECK (purpose IN ('LOGIN', 'CHANGE_PHONE', 'CHANGE_EMAIL')),
  CONSTRAINT otp_codes_attempts_check CHECK (attempts >= 0 AND max_attempts > 0)
)`,
  `CREATE INDEX otp_codes_identifier_created_idx ON auth.otp_codes (identifier, created_at DESC)`,
  `CREATE INDEX otp_codes_expires_idx ON auth.otp_codes (expires_at)`,
  `CREATE INDEX otp_codes_requested_by_idx ON auth.otp_codes (requested_by_user_id) WHERE requested_by_user_id IS NOT NULL`,

  `CREATE TABLE auth.otp_lockouts (
  identifier text PRIMARY KEY,
  failed_attempts integer NOT NULL DEFAULT 0,
  lock_count integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  last_failed_at timestamptz,
  ${ts},
  CONSTRAINT otp_lockouts_counts_check CHECK (failed_attempts >= 0 AND lock_count >= 0)
)`,
  `COMMENT ON TABLE auth.otp_lockouts IS 'Per-identifier failure counter and growing lock (30 s up to 1 h), OWASP ASVS 5.0 V6.'`,

  `CREATE TABLE auth.api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  key_prefix text NOT NULL UNIQUE,
  key_hash text NOT NULL UNIQUE,
  scopes text[] NOT NULL DEFAULT '{}',
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz,
  ${ts}
)`,
  `CREATE INDEX api_keys_created_by_idx ON auth.api_keys (created_by)`,

  `CREATE TABLE auth.notifications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  store_id uuid REFERENCES tenancy.stores (id) ON DELETE CASCADE,
  type text NOT NULL,
  title text NOT NULL,
  body text,
  data jsonb NOT NULL DEFAULT '{}',
  dedupe_key text,
  read_at timestamptz,
  push_sent_at timestamptz,
  ${ts},
  CONSTRAINT notifications_dedupe_key UNIQUE (user_id, dedupe_key)
)`,
  `COMMENT ON TABLE auth.notifications IS 'In-app notifications (personal: RLS by user_id even when store_id is set). dedupe_key makes idempotent job writes one row.'`,
  `CREATE INDEX notifications_user_created_idx ON auth.notifications (user_id, created_at DESC)`,
  `CREATE INDEX notifications_user_unread_idx ON auth.notifications (user_id) WHERE read_at IS NULL`,
  `CREATE INDEX notifications_store_idx ON auth.notifications (store_id) WHERE store_id IS NOT NULL`,

  `CREATE TABLE auth.push_devices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  token text NOT NULL UNIQUE,
  platform text NOT NULL,
  app_version text,
  last_seen_at timestamptz,
  revoked_at timestamptz,
  ${ts},
  CONSTRAINT push_devices_platform_check CHECK (platform IN ('ios', 'android', 'web'))
)`,
  `CREATE INDEX push_devices_user_idx ON auth.push_devices (user_id)`,

  // ----------------------------------------------------------------------------- billing
  `CREATE TABLE billing.credit_wallets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL UNIQUE REFERENCES auth.users (id) ON DELETE RESTRICT,
  balance integer NOT NULL DEFAULT 0,
  held integer NOT NULL DEFAULT 0,
  ${ts},
  CONSTRAINT credit_wallets_id_user_key UNIQUE (id, user_id),
  CONSTRAINT credit_wallets_balance_check CHECK (balance >= 0),
  CONSTRAINT credit_wallets_held_check CHECK (held >= 0),
  CONSTRAINT credit_wallets_available_check CHECK (balance - held >= 0)
)`,
  `COMMENT ON TABLE billing.credit_wallets IS 'One wallet per user, in credits. balance = sum of the wallet''s transactions; held = open holds; available = balance - held, never negative (CHECK).'`,

  `CREATE TABLE billing.credit_transactions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  wallet_id uuid NOT NULL,
  user_id uuid NOT NULL,
  type text NOT NULL,
  amount integer NOT NULL,
  balance_after integer NOT NULL,
  held_after integer NOT NULL,
  reference_type text,
  reference_id text,
  idempotency_key text NOT NULL UNIQUE,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT credit_transactions_wallet_fkey FOREIGN KEY (wallet_id, user_id)
    REFERENCES billing.credit_wallets (id, user_id) ON DELETE RESTRICT,
  CONSTRAINT credit_transactions_type_check CHECK (type IN
    ('WELCOME', 'PURCHASE', 'HOLD', 'HOLD_COMMIT', 'HOLD_VOID', 'REFERRAL_REWARD', 'ADMIN_ADJUSTMENT')),
  CONSTRAINT credit_transactions_after_check CHECK (balance_after >= 0 AND held_after >= 0 AND balance_after - held_after >= 0),
  CONSTRAINT credit_transactions_hold_reference_check CHECK
    (type NOT IN ('HOLD', 'HOLD_COMMIT', 'HOLD_VOID') OR (reference_type IS NOT NULL AND reference_id IS NOT NULL))
)`,
  `COMMENT ON TABLE billing.credit_transactions IS 'Append-only credit ledger (the app role has SELECT, INSERT only). seq orders a wallet''s rows in the order they were applied; user_id is the wallet''s owner (RLS); created_by is the actor (may be the SYSTEM id). At most one HOLD and one final HOLD_COMMIT/HOLD_VOID per reference.'`,
  `CREATE INDEX credit_transactions_wallet_seq_idx ON billing.credit_transactions (wallet_id, seq DESC)`,
  `CREATE UNIQUE INDEX credit_transactions_one_hold_key ON billing.credit_transactions (reference_type, reference_id)
  WHERE type = 'HOLD'`,
  `CREATE UNIQUE INDEX credit_transactions_one_hold_final_key ON billing.credit_transactions (reference_type, reference_id)
  WHERE type IN ('HOLD_COMMIT', 'HOLD_VOID')`,
  `CREATE INDEX credit_transactions_holds_created_idx ON billing.credit_transactions (created_at) WHERE type = 'HOLD'`,

  `CREATE TABLE billing.credit_packages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code text NOT NULL UNIQUE,
  name text NOT NULL,
  credits integer NOT NULL,
  price_centavos integer NOT NULL,
  currency text NOT NULL DEFAULT 'MXN',
  active boolean NOT NULL DEFAULT true,
  sort_order integer NOT NULL DEFAULT 0,
  ${ts},
  CONSTRAINT credit_packages_credits_check CHECK (credits > 0),
  CONSTRAINT credit_packages_price_check CHECK (price_centavos > 0),
  CONSTRAINT credit_packages_currency_check CHECK (currency ~ '^[A-Z]{3}$')
)`,

  // ----------------------------------------------------------------------------- inventory
  `CREATE TABLE inventory.products (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid REFERENCES tenancy.stores (id) ON DELETE CASCADE,
  gtin text,
  name text NOT NULL,
  normalized_name text NOT NULL,
  brand text,
  category text,
  quantity_label text,
  image_url text,
  source text NOT NULL,
  external_ref text,
  active boolean NOT NULL DEFAULT true,
  created_by uuid,
  ${ts},
  CONSTRAINT products_gtin_check CHECK (gtin ~ '^[0-9]{14}$'),
  CONSTRAINT products_source_check CHECK (source IN ('CATALOG', 'ADMIN', 'STORE', 'DETECTION'))
)`,
  `COMMENT ON TABLE inventory.products IS 'Product catalogue. store_id NULL = global row (seeded catalogue, readable by all, written by ADMIN/SYSTEM); otherwise a store-specific product. gtin is zero-padded GTIN-14, so UPC-A and its EAN-13 form compare equal.'`,
  `CREATE UNIQUE INDEX products_global_gtin_key ON inventory.products (gtin) WHERE store_id IS NULL AND gtin IS NOT NULL`,
  `CREATE UNIQUE INDEX products_store_gtin_key ON inventory.products (store_id, gtin)
  WHERE store_id IS NOT NULL AND gtin IS NOT NULL`,
  `CREATE INDEX products_store_name_idx ON inventory.products (store_id, normalized_name)`,
  `CREATE INDEX products_name_idx ON inventory.products (normalized_name)`,

  `CREATE TABLE inventory.inventory_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL REFERENCES tenancy.stores (id) ON DELETE CASCADE,
  created_by uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
  state text NOT NULL DEFAULT 'CREATED',
  failure_code text,
  failure_detail text,
  idempotency_key text,
  wallet_id uuid REFERENCES billing.credit_wallets (id) ON DELETE RESTRICT,
  provider text,
  model text,
  progress smallint NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  frames_sampled integer,
  frames_kept integer,
  frames_used integer,
  lines_count integer,
  units_count integer,
  review_count integer,
  processing_ms integer,
  cost_usd_micros bigint,
  cost_mxn_centavos integer,
  result_message text,
  uploading_at timestamptz,
  uploaded_at timestamptz,
  queued_at timestamptz,
  processing_at timestamptz,
  ready_at timestamptz,
  failed_at timestamptz,
  last_enqueued_at timestamptz,
  heartbeat_at timestamptz,
  ${ts},
  CONSTRAINT inventory_sessions_id_store_key UNIQUE (id, store_id),
  CONSTRAINT inventory_sessions_idempotency_key UNIQUE (store_id, idempotency_key),
  CONSTRAINT inventory_sessions_state_check CHECK (state IN
    ('CREATED', 'UPLOADING', 'UPLOADED', 'QUEUED', 'PROCESSING', 'READY', 'FAILED')),
  CONSTRAINT inventory_sessions_failed_check CHECK (state <> 'FAILED' OR (failure_code IS NOT NULL AND failed_at IS NOT NULL)),
  CONSTRAINT inventory_sessions_ready_check CHECK (state <> 'READY' OR ready_at IS NOT NULL),
  CONSTRAINT inventory_sessions_progress_check CHECK (progress BETWEEN 0 AND 100),
  CONSTRAINT inventory_sessions_counts_check CHECK (attempts >= 0 AND coalesce(lines_count, 0) >= 0
    AND coalesce(units_count, 0) >= 0 AND coalesce(review_count, 0) >= 0)
)`,
  `COMMENT ON TABLE inventory.inventory_sessions IS 'One stock count. State machine CREATED > UPLOADING > UPLOADED > QUEUED > PROCESSING > READY | FAILED with a timestamp per state; the credit hold is the ledger row (reference_type INVENTORY_SESSION, reference_id = id) on wallet_id. Report totals, provider, model, frames and cost are filled when READY.'`,
  `CREATE INDEX inventory_sessions_store_created_idx ON inventory.inventory_sessions (store_id, created_at DESC)`,
  `CREATE INDEX inventory_sessions_store_ready_idx ON inventory.inventory_sessions (store_id, ready_at DESC) WHERE state = 'READY'`,
  `CREATE INDEX inventory_sessions_active_idx ON inventory.inventory_sessions (state, updated_at)
  WHERE state IN ('CREATED', 'UPLOADING', 'UPLOADED', 'QUEUED', 'PROCESSING')`,
  `CREATE INDEX inventory_sessions_created_by_idx ON inventory.inventory_sessions (created_by)`,
  `CREATE INDEX inventory_sessions_wallet_idx ON inventory.inventory_sessions (wallet_id) WHERE wallet_id IS NOT NULL`,

  // ----------------------------------------------------------------------------- media
  `CREATE TABLE media.videos (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL,
  session_id uuid NOT NULL UNIQUE,
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  upload_id text UNIQUE,
  status text NOT NULL DEFAULT 'PENDING',
  storage_backend text,
  storage_key text,
  original_filename text,
  content_type text,
  size_bytes bigint,
  uploaded_bytes bigint NOT NULL DEFAULT 0,
  sha256 text,
  container text,
  video_codec text,
  duration_ms integer,
  width integer,
  height integer,
  rotation smallint,
  fps real,
  probe jsonb,
  upload_expires_at timestamptz,
  upload_completed_at timestamptz,
  validated_at timestamptz,
  ${ts},
  CONSTRAINT videos_id_store_key UNIQUE (id, store_id),
  CONSTRAINT videos_session_fkey FOREIGN KEY (session_id, store_id)
    REFERENCES inventory.inventory_sessions (id, store_id) ON DELETE CASCADE,
  CONSTRAINT videos_status_check CHECK (status IN
    ('PENDING', 'UPLOADING', 'UPLOADED', 'VALID', 'INVALID', 'EXPIRED', 'DELETED')),
  CONSTRAINT videos_storage_backend_check CHECK (storage_backend IN ('local', 's3')),
  CONSTRAINT videos_sizes_check CHECK (coalesce(size_bytes, 0) >= 0 AND uploaded_bytes >= 0)
)`,
  `COMMENT ON TABLE media.videos IS 'The one upload of an inventory session (tus upload_id), its stored object and what ffprobe read. Sizes in bytes, duration in ms.'`,
  `CREATE INDEX videos_store_created_idx ON media.videos (store_id, created_at DESC)`,
  `CREATE INDEX videos_upload_expiry_idx ON media.videos (upload_expires_at) WHERE status IN ('PENDING', 'UPLOADING')`,
  `CREATE INDEX videos_created_by_idx ON media.videos (created_by)`,

  `CREATE TABLE media.frames (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL,
  video_id uuid NOT NULL,
  frame_index integer NOT NULL,
  timestamp_ms integer NOT NULL,
  storage_key text,
  width integer,
  height integer,
  sharpness double precision,
  phash text,
  kept boolean NOT NULL DEFAULT true,
  rejected_reason text,
  ${ts},
  CONSTRAINT frames_id_store_key UNIQUE (id, store_id),
  CONSTRAINT frames_video_index_key UNIQUE (video_id, frame_index),
  CONSTRAINT frames_video_fkey FOREIGN KEY (video_id, store_id)
    REFERENCES media.videos (id, store_id) ON DELETE CASCADE,
  CONSTRAINT frames_rejected_reason_check CHECK (rejected_reason IN ('BLUR', 'DUPLICATE', 'CAP')),
  CONSTRAINT frames_timestamp_check CHECK (frame_index >= 0 AND timestamp_ms >= 0)
)`,
  `CREATE INDEX frames_store_idx ON media.frames (store_id)`,

  `CREATE TABLE media.video_artifacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL,
  video_id uuid NOT NULL,
  kind text NOT NULL,
  storage_key text NOT NULL,
  content_type text,
  size_bytes bigint,
  width integer,
  height integer,
  metadata jsonb NOT NULL DEFAULT '{}',
  ${ts},
  CONSTRAINT video_artifacts_video_fkey FOREIGN KEY (video_id, store_id)
    REFERENCES media.videos (id, store_id) ON DELETE CASCADE,
  CONSTRAINT video_artifacts_kind_check CHECK (kind IN ('THUMBNAIL', 'CONTACT_SHEET', 'FRAME', 'OTHER'))
)`,
  `CREATE INDEX video_artifacts_video_kind_idx ON media.video_artifacts (video_id, kind)`,
  `CREATE INDEX video_artifacts_store_idx ON media.video_artifacts (store_id)`,

  // ----------------------------------------------------------------------------- inventory items
  `CREATE TABLE inventory.inventory_items (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL,
  session_id uuid NOT NULL,
  product_id uuid REFERENCES inventory.products (id) ON DELETE SET NULL,
  gtin text,
  detected_name text,
  detected_brand text,
  category text,
  quantity integer NOT NULL,
  confidence real NOT NULL,
  needs_review boolean NOT NULL DEFAULT false,
  source text NOT NULL DEFAULT 'DETECTION',
  evidence_frame_id uuid,
  evidence_box jsonb,
  frames_seen integer,
  detection jsonb NOT NULL DEFAULT '{}',
  corrected_quantity integer,
  corrected_product_id uuid REFERENCES inventory.products (id) ON DELETE SET NULL,
  marked_wrong boolean NOT NULL DEFAULT false,
  corrected_at timestamptz,
  corrected_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  sort_index integer NOT NULL DEFAULT 0,
  ${ts},
  CONSTRAINT inventory_items_id_store_key UNIQUE (id, store_id),
  CONSTRAINT inventory_items_session_fkey FOREIGN KEY (session_id, store_id)
    REFERENCES inventory.inventory_sessions (id, store_id) ON DELETE CASCADE,
  CONSTRAINT inventory_items_evidence_frame_fkey FOREIGN KEY (evidence_frame_id, store_id)
    REFERENCES media.frames (id, store_id) ON DELETE SET NULL (evidence_frame_id),
  CONSTRAINT inventory_items_gtin_check CHECK (gtin ~ '^[0-9]{14}$'),
  CONSTRAINT inventory_items_quantity_check CHECK (quantity >= 0 AND coalesce(corrected_quantity, 0) >= 0),
  CONSTRAINT inventory_items_confidence_check CHECK (confidence >= 0 AND confidence <= 1),
  CONSTRAINT inventory_items_source_check CHECK (source IN ('DETECTION', 'MANUAL')),
  CONSTRAINT inventory_items_evidence_box_check CHECK (evidence_box IS NULL OR jsonb_typeof(evidence_box) = 'object')
)`,
  `COMMENT ON TABLE inventory.inventory_items IS 'Report lines. quantity/product_id are what the pipeline found (kept as the original); corrected_* and marked_wrong hold the owner''s corrections; source MANUAL = a line added by a correction. evidence_box is {x,y,w,h} in frame pixels.'`,
  `CREATE INDEX inventory_items_session_idx ON inventory.inventory_items (session_id, sort_index)`,
  `CREATE INDEX inventory_items_store_created_idx ON inventory.inventory_items (store_id, created_at DESC)`,
  `CREATE INDEX inventory_items_product_idx ON inventory.inventory_items (product_id) WHERE product_id IS NOT NULL`,
  `CREATE INDEX inventory_items_corrected_product_idx ON inventory.inventory_items (corrected_product_id)
  WHERE corrected_product_id IS NOT NULL`,
  `CREATE INDEX inventory_items_evidence_frame_idx ON inventory.inventory_items (evidence_frame_id)
  WHERE evidence_frame_id IS NOT NULL`,
  `CREATE INDEX inventory_items_corrected_by_idx ON inventory.inventory_items (corrected_by) WHERE corrected_by IS NOT NULL`,

  // ----------------------------------------------------------------------------- billing.cogs_records
  `CREATE TABLE billing.cogs_records (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid REFERENCES tenancy.stores (id) ON DELETE SET NULL,
  session_id uuid REFERENCES inventory.inventory_sessions (id) ON DELETE SET NULL,
  operation text NOT NULL DEFAULT 'VISION',
  provider text NOT NULL,
  model text,
  units integer NOT NULL DEFAULT 0,
  input_tokens integer,
  output_tokens integer,
  cost_usd_micros bigint NOT NULL DEFAULT 0,
  usd_mxn_rate numeric(12, 6),
  cost_mxn_centavos integer NOT NULL DEFAULT 0,
  attempt integer,
  success boolean NOT NULL DEFAULT true,
  error_code text,
  latency_ms integer,
  idempotency_key text UNIQUE,
  metadata jsonb NOT NULL DEFAULT '{}',
  ${ts},
  CONSTRAINT cogs_records_costs_check CHECK (cost_usd_micros >= 0 AND cost_mxn_centavos >= 0 AND units >= 0)
)`,
  `COMMENT ON TABLE billing.cogs_records IS 'Cost of goods sold: one row per provider call (or per session). cost_usd_micros = USD x 1e6; cost_mxn_centavos at usd_mxn_rate; units = images/frames sent.'`,
  `CREATE INDEX cogs_records_session_idx ON billing.cogs_records (session_id) WHERE session_id IS NOT NULL`,
  `CREATE INDEX cogs_records_store_created_idx ON billing.cogs_records (store_id, created_at DESC)`,
  `CREATE INDEX cogs_records_created_idx ON billing.cogs_records (created_at)`,

  // ----------------------------------------------------------------------------- payments
  `CREATE TABLE payments.payment_orders (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
  wallet_id uuid NOT NULL,
  package_id uuid REFERENCES billing.credit_packages (id) ON DELETE RESTRICT,
  credits integer NOT NULL,
  amount_centavos integer NOT NULL,
  currency text NOT NULL DEFAULT 'MXN',
  provider text NOT NULL,
  method text NOT NULL,
  status text NOT NULL DEFAULT 'CREATED',
  provider_payment_id text,
  provider_customer_id text,
  voucher_reference text,
  voucher_url text,
  voucher_expires_at timestamptz,
  idempotency_key text,
  credit_transaction_id uuid UNIQUE REFERENCES billing.credit_transactions (id) ON DELETE RESTRICT,
  failure_code text,
  failure_message text,
  paid_at timestamptz,
  failed_at timestamptz,
  expired_at timestamptz,
  canceled_at timestamptz,
  metadata jsonb NOT NULL DEFAULT '{}',
  ${ts},
  CONSTRAINT payment_orders_wallet_fkey FOREIGN KEY (wallet_id, user_id)
    REFERENCES billing.credit_wallets (id, user_id) ON DELETE RESTRICT,
  CONSTRAINT payment_orders_provider_payment_key UNIQUE (provider, provider_payment_id),
  CONSTRAINT payment_orders_idempotency_key UNIQUE (user_id, idempotency_key),
  CONSTRAINT payment_orders_amounts_check CHECK (credits > 0 AND amount_centavos > 0),
  CONSTRAINT payment_orders_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT payment_orders_method_check CHECK (method IN ('CARD', 'OXXO', 'SEVEN_ELEVEN')),
  CONSTRAINT payment_orders_status_check CHECK (status IN
    ('CREATED', 'PENDING', 'REQUIRES_ACTION', 'PROCESSING', 'PAID', 'FAILED', 'EXPIRED', 'CANCELED', 'REFUNDED')),
  CONSTRAINT payment_orders_paid_check CHECK (status <> 'PAID' OR paid_at IS NOT NULL)
)`,
  `COMMENT ON TABLE payments.payment_orders IS 'A purchase of a credit package. Amounts in MXN centavos. Credits are granted once, on the verified paid webhook: credit_transaction_id (UNIQUE) points at the PURCHASE ledger row.'`,
  `CREATE INDEX payment_orders_user_created_idx ON payments.payment_orders (user_id, created_at DESC)`,
  `CREATE INDEX payment_orders_wallet_idx ON payments.payment_orders (wallet_id)`,
  `CREATE INDEX payment_orders_package_idx ON payments.payment_orders (package_id)`,
  `CREATE INDEX payment_orders_open_idx ON payments.payment_orders (status, voucher_expires_at)
  WHERE status IN ('CREATED', 'PENDING', 'REQUIRES_ACTION', 'PROCESSING')`,

  `CREATE TABLE payments.payment_methods (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  provider text NOT NULL,
  type text NOT NULL,
  provider_customer_id text,
  provider_payment_method_id text,
  brand text,
  last4 text,
  exp_month smallint,
  exp_year smallint,
  is_default boolean NOT NULL DEFAULT false,
  deleted_at timestamptz,
  ${ts},
  CONSTRAINT payment_methods_provider_method_key UNIQUE (provider, provider_payment_method_id),
  CONSTRAINT payment_methods_type_check CHECK (type IN ('CARD', 'OXXO', 'SEVEN_ELEVEN')),
  CONSTRAINT payment_methods_last4_check CHECK (last4 ~ '^[0-9]{4}$'),
  CONSTRAINT payment_methods_exp_month_check CHECK (exp_month BETWEEN 1 AND 12)
)`,
  `CREATE INDEX payment_methods_user_idx ON payments.payment_methods (user_id)`,
  `CREATE UNIQUE INDEX payment_methods_one_default_key ON payments.payment_methods (user_id)
  WHERE is_default AND deleted_at IS NULL`,

  `CREATE TABLE payments.webhook_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider text NOT NULL,
  event_id text NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  signature_verified boolean NOT NULL DEFAULT false,
  payment_order_id uuid REFERENCES payments.payment_orders (id) ON DELETE SET NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  processing_error text,
  attempts integer NOT NULL DEFAULT 0,
  ${ts},
  CONSTRAINT webhook_events_provider_event_key UNIQUE (provider, event_id)
)`,
  `COMMENT ON TABLE payments.webhook_events IS 'Every webhook delivery, once per (provider, event_id): replays are no-ops. System-level: SYSTEM/ADMIN only.'`,
  `CREATE INDEX webhook_events_unprocessed_idx ON payments.webhook_events (received_at) WHERE processed_at IS NULL`,
  `CREATE INDEX webhook_events_payment_order_idx ON payments.webhook_events (payment_order_id) WHERE payment_order_id IS NOT NULL`,

  // ----------------------------------------------------------------------------- referrals
  `CREATE TABLE referrals.referral_codes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL UNIQUE REFERENCES auth.users (id) ON DELETE RESTRICT,
  code text NOT NULL UNIQUE,
  active boolean NOT NULL DEFAULT true,
  ${ts},
  CONSTRAINT referral_codes_code_check CHECK (code ~ '^[A-Z0-9]{4,16}$')
)`,

  `CREATE TABLE referrals.referral_tree (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  referrer_user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
  referred_user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
  referral_code_id uuid REFERENCES referrals.referral_codes (id) ON DELETE SET NULL,
  level smallint NOT NULL DEFAULT 1,
  ${ts},
  CONSTRAINT referral_tree_referred_level_key UNIQUE (referred_user_id, level),
  CONSTRAINT referral_tree_level_check CHECK (level BETWEEN 1 AND 10),
  CONSTRAINT referral_tree_not_self_check CHECK (referrer_user_id <> referred_user_id)
)`,
  `COMMENT ON TABLE referrals.referral_tree IS 'Who referred whom. level 1 = direct referrer; one ancestor per level per referred user.'`,
  `CREATE INDEX referral_tree_referrer_idx ON referrals.referral_tree (referrer_user_id, created_at DESC)`,
  `CREATE INDEX referral_tree_code_idx ON referrals.referral_tree (referral_code_id)`,

  `CREATE TABLE referrals.referral_rewards (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  referral_id uuid NOT NULL REFERENCES referrals.referral_tree (id) ON DELETE RESTRICT,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
  referred_user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
  status text NOT NULL DEFAULT 'PENDING',
  credits integer NOT NULL,
  first_purchase_at timestamptz,
  first_session_at timestamptz,
  unlocked_at timestamptz,
  granted_at timestamptz,
  canceled_at timestamptz,
  credit_transaction_id uuid UNIQUE REFERENCES billing.credit_transactions (id) ON DELETE RESTRICT,
  ${ts},
  CONSTRAINT referral_rewards_referral_key UNIQUE (referral_id),
  CONSTRAINT referral_rewards_status_check CHECK (status IN ('PENDING', 'UNLOCKED', 'GRANTED', 'CANCELED')),
  CONSTRAINT referral_rewards_credits_check CHECK (credits > 0),
  CONSTRAINT referral_rewards_granted_check CHECK (status <> 'GRANTED' OR credit_transaction_id IS NOT NULL)
)`,
  `COMMENT ON TABLE referrals.referral_rewards IS 'Reward for the referrer (user_id) of referred_user_id; unlocks when both conditions (first purchase, first session) are met; granted once through the ledger.'`,
  `CREATE INDEX referral_rewards_user_created_idx ON referrals.referral_rewards (user_id, created_at DESC)`,
  `CREATE INDEX referral_rewards_referred_idx ON referrals.referral_rewards (referred_user_id)`,

  // ----------------------------------------------------------------------------- feedback
  `CREATE TABLE feedback.corrections (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL,
  session_id uuid NOT NULL,
  item_id uuid,
  kind text NOT NULL,
  old_value jsonb,
  new_value jsonb,
  reason text,
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  ${ts},
  CONSTRAINT corrections_id_store_key UNIQUE (id, store_id),
  CONSTRAINT corrections_session_fkey FOREIGN KEY (session_id, store_id)
    REFERENCES inventory.inventory_sessions (id, store_id) ON DELETE CASCADE,
  CONSTRAINT corrections_item_fkey FOREIGN KEY (item_id, store_id)
    REFERENCES inventory.inventory_items (id, store_id) ON DELETE SET NULL (item_id),
  CONSTRAINT corrections_kind_check CHECK (kind IN ('QUANTITY', 'PRODUCT', 'MARK_WRONG', 'ADD_MISSING'))
)`,
  `CREATE INDEX corrections_session_created_idx ON feedback.corrections (session_id, created_at)`,
  `CREATE INDEX corrections_store_created_idx ON feedback.corrections (store_id, created_at DESC)`,
  `CREATE INDEX corrections_item_idx ON feedback.corrections (item_id) WHERE item_id IS NOT NULL`,
  `CREATE INDEX corrections_created_by_idx ON feedback.corrections (created_by)`,

  `CREATE TABLE feedback.ground_truth (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id uuid NOT NULL,
  session_id uuid NOT NULL,
  correction_id uuid UNIQUE,
  item_id uuid,
  frame_id uuid,
  box jsonb,
  product_id uuid REFERENCES inventory.products (id) ON DELETE SET NULL,
  gtin text,
  product_name text,
  true_count integer NOT NULL,
  source text NOT NULL DEFAULT 'CORRECTION',
  created_by uuid,
  ${ts},
  CONSTRAINT ground_truth_session_fkey FOREIGN KEY (session_id, store_id)
    REFERENCES inventory.inventory_sessions (id, store_id) ON DELETE CASCADE,
  CONSTRAINT ground_truth_correction_fkey FOREIGN KEY (correction_id, store_id)
    REFERENCES feedback.corrections (id, store_id) ON DELETE SET NULL (correction_id),
  CONSTRAINT ground_truth_item_fkey FOREIGN KEY (item_id, store_id)
    REFERENCES inventory.inventory_items (id, store_id) ON DELETE SET NULL (item_id),
  CONSTRAINT ground_truth_frame_fkey FOREIGN KEY (frame_id, store_id)
    REFERENCES media.frames (id, store_id) ON DELETE SET NULL (frame_id),
  CONSTRAINT ground_truth_gtin_check CHECK (gtin ~ '^[0-9]{14}$'),
  CONSTRAINT ground_truth_count_check CHECK (true_count >= 0),
  CONSTRAINT ground_truth_source_check CHECK (source IN ('CORRECTION', 'CONFIRMED', 'EVALUATION')),
  CONSTRAINT ground_truth_box_check CHECK (box IS NULL OR jsonb_typeof(box) = 'object')
)`,
  `COMMENT ON TABLE feedback.ground_truth IS 'Labelled examples for the models: frame (+ box), true product and true count; one per correction at most.'`,
  `CREATE INDEX ground_truth_session_idx ON feedback.ground_truth (session_id)`,
  `CREATE INDEX ground_truth_store_created_idx ON feedback.ground_truth (store_id, created_at DESC)`,
  `CREATE INDEX ground_truth_item_idx ON feedback.ground_truth (item_id) WHERE item_id IS NOT NULL`,
  `CREATE INDEX ground_truth_frame_idx ON feedback.ground_truth (frame_id) WHERE frame_id IS NOT NULL`,
  `CREATE INDEX ground_truth_product_idx ON feedback.ground_truth (product_id) WHERE product_id IS NOT NULL`,

  // ----------------------------------------------------------------------------- admin
  `CREATE TABLE admin.settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  description text,
  updated_by uuid,
  ${ts},
  CONSTRAINT settings_key_check CHECK (key ~ '^[a-z][a-z0-9_.]*$')
)`,

  `CREATE TABLE admin.audit_logs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor_user_id uuid,
  actor_role text,
  action text NOT NULL,
  target_type text,
  target_id text,
  store_id uuid,
  ip inet,
  user_agent text,
  request_id text,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
)`,
  `COMMENT ON TABLE admin.audit_logs IS 'Append-only audit trail (the app role has SELECT, INSERT only). No FKs: entries outlive users and stores, and the actor may be the SYSTEM id.'`,
  `CREATE INDEX audit_logs_created_idx ON admin.audit_logs (created_at DESC)`,
  `CREATE INDEX audit_logs_actor_created_idx ON admin.audit_logs (actor_user_id, created_at DESC)`,
  `CREATE INDEX audit_logs_action_created_idx ON admin.audit_logs (action, created_at DESC)`,
  `CREATE INDEX audit_logs_target_idx ON admin.audit_logs (target_type, target_id)`,
  `CREATE INDEX audit_logs_store_created_idx ON admin.audit_logs (store_id, created_at DESC) WHERE store_id IS NOT NULL`,
];

/** Seed rows, inserted before RLS is enabled (no identity is needed to run this migration). */
const SEEDS = [
  `INSERT INTO billing.credit_packages (code, name, credits, price_centavos, currency, active, sort_order) VALUES
  ('CREDITS_1', '1 crédito', 1, 2900, 'MXN', true, 10),
  ('CREDITS_5', '5 créditos', 5, 12900, 'MXN', true, 20),
  ('CREDITS_20', '20 créditos', 20, 44900, 'MXN', true, 30)`,
  `INSERT INTO admin.settings (key, value, description) VALUES
  ('welcome_credits', '1'::jsonb, 'Credits granted once to every new user (integer).'),
  ('vision_provider', '"barcode"'::jsonb, 'Active vision provider: barcode, openai, anthropic or openai-compatible.')`,
];

function policyStatements(table: string, access: TableAccess): string[] {
  const out = [`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`, `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`];
  if (access.select !== undefined) {
    out.push(`CREATE POLICY rls_select ON ${table} FOR SELECT USING (${guarded(access.select)})`);
  }
  if (access.insert !== undefined) {
    out.push(`CREATE POLICY rls_insert ON ${table} FOR INSERT WITH CHECK (${guarded(access.insert)})`);
  }
  if (access.update !== undefined) {
    const rule = guarded(access.update);
    out.push(`CREATE POLICY rls_update ON ${table} FOR UPDATE USING (${rule}) WITH CHECK (${rule})`);
  }
  if (access.delete !== undefined) {
    out.push(`CREATE POLICY rls_delete ON ${table} FOR DELETE USING (${guarded(access.delete)})`);
  }
  out.push(`REVOKE ALL ON ${table} FROM PUBLIC`, `GRANT ${access.grants} ON ${table} TO ${APP}`);
  return out;
}

/** Tables with an updated_at column get the touch trigger. */
const TOUCHED_TABLES = Object.keys(ACCESS).filter(
  (table) => table !== 'billing.credit_transactions' && table !== 'admin.audit_logs',
);

function upStatements(): string[] {
  const schemaList = SCHEMAS.join(', ');
  return [
    ...SCHEMAS.map((schema) => `CREATE SCHEMA ${schema} AUTHORIZATION ${OWNER}`),
    ...IDENTITY_FUNCTIONS,
    TOUCH_FUNCTION,
    ...TABLES,
    ...MEMBERSHIP_FUNCTIONS,
    ...TOUCHED_TABLES.map(
      (table) =>
        `CREATE TRIGGER touch_updated_at BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION admin.touch_updated_at()`,
    ),
    ...SEEDS,

    // Function privileges: nothing for PUBLIC; the app role (and the owner, by ownership or
    // membership) calls the helpers; the helper role needs request_user_id inside its functions.
    ...[...IDENTITY_FUNCTION_SIGNATURES, ...MEMBERSHIP_FUNCTION_SIGNATURES].map(
      (fn) => `REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`,
    ),
    `REVOKE ALL ON FUNCTION admin.touch_updated_at() FROM PUBLIC`,
    `GRANT EXECUTE ON FUNCTION ${[...IDENTITY_FUNCTION_SIGNATURES, ...MEMBERSHIP_FUNCTION_SIGNATURES].join(', ')} TO ${APP}`,
    `GRANT EXECUTE ON FUNCTION auth.request_user_id(), auth.request_role() TO ${RLS}`,

    // The membership helpers belong to the BYPASSRLS helper role, which reads only these two
    // tables. ALTER ... OWNER needs the new owner to hold CREATE on the schema: granted for
    // the change and revoked right after.
    `GRANT USAGE ON SCHEMA auth, tenancy TO ${RLS}`,
    `GRANT SELECT ON tenancy.store_users, tenancy.stores TO ${RLS}`,
    `GRANT CREATE ON SCHEMA auth TO ${RLS}`,
    ...MEMBERSHIP_FUNCTION_SIGNATURES.map((fn) => `ALTER FUNCTION ${fn} OWNER TO ${RLS}`),
    `REVOKE CREATE ON SCHEMA auth FROM ${RLS}`,

    // The app role: USAGE on every schema, explicit table privileges (below), identity sequences.
    `REVOKE ALL ON SCHEMA ${schemaList} FROM PUBLIC`,
    `GRANT USAGE ON SCHEMA ${schemaList} TO ${APP}`,
    ...Object.entries(ACCESS).flatMap(([table, access]) => policyStatements(table, access)),
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${schemaList} TO ${APP}`,
  ];
}

export class InitialSchema1764400000000 implements MigrationInterface {
  name = 'InitialSchema1764400000000';

  /** Creates the nine schemas, all tables, RLS policies, grants and seed rows. */
  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of upStatements()) {
      await queryRunner.query(statement);
    }
  }

  /**
   * Drops the nine schemas with everything in them (tables, policies, functions, grants).
   * The cluster-wide roles stay. Destroys all data: for tests and `db:reset` only.
   */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP SCHEMA IF EXISTS ${[...SCHEMAS].reverse().join(', ')} CASCADE`);
  }
}
