/** Role that owns every schema object; migrations run as it (`SET ROLE`). NOLOGIN. */
export const OWNER_ROLE = 'miinventario_owner';
/** Role the API connects as: not superuser, not owner, NOBYPASSRLS (DESIGN.md "Data"). */
export const APP_ROLE = 'miinventario_app';
/** BYPASSRLS role that owns only the SECURITY DEFINER membership helpers (avoids policy recursion). NOLOGIN. */
export const RLS_HELPER_ROLE = 'miinventario_rls';
/** The user id workers run under, with `app.role = SYSTEM`. */
export const SYSTEM_USER_ID = '00000000-0000-0000-0000-000000000000';
/** Name of the embedded default's database. */
export const EMBEDDED_DATABASE = 'miinventario';
/** Injection token of the application-role TypeORM DataSource. */
export const APP_DATA_SOURCE = Symbol('APP_DATA_SOURCE');
/** Injection token of the application role's connection URL (for a dedicated LISTEN connection). */
export const APP_DATABASE_URL = Symbol('APP_DATABASE_URL');
