/**
 * Stable machine codes of every problem the API returns, with their HTTP status.
 *
 * Clients translate these codes to Spanish (es-MX); never rename one (add a new
 * code instead). The filter maps them once (CONVENTIONS #8).
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: 400,
  MALFORMED_BODY: 400,
  INVALID_TEXT: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHENTICATED: 401,
  ACCESS_TOKEN_EXPIRED: 401,
  SESSION_REVOKED: 401,
  REFRESH_TOKEN_INVALID: 401,
  REFRESH_TOKEN_REUSED: 401,
  /** The `x-api-key` is unknown, malformed, revoked or expired. */
  API_KEY_INVALID: 401,
  OTP_INVALID: 401,
  OTP_RESEND_TOO_SOON: 429,
  OTP_LOCKED: 429,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  /** Storage: a signed object URL whose key, expiry or signature is missing, malformed or forged. */
  OBJECT_URL_INVALID: 403,
  /** Storage: a signed object URL past its `expires`; ask the API for a fresh one. */
  OBJECT_URL_EXPIRED: 403,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  /** Uploads: the inventory session already has its video (one upload per session), or is past CREATED. */
  UPLOAD_EXISTS: 409,
  /** Uploads: the upload expired (UPLOAD_EXPIRY_HOURS) and was removed; start a new session (tus 1.0 "Expiration"). */
  UPLOAD_GONE: 410,
  /** Uploads: a PATCH's Upload-Offset is not the stored offset (tus 1.0); nothing was written — HEAD and resume. */
  UPLOAD_OFFSET_CONFLICT: 409,
  /** Uploads: the Upload-Checksum did not match the bytes (tus checksum extension); nothing was written. */
  UPLOAD_CHECKSUM_MISMATCH: 460,
  /** Reports: the session is not READY (still processing, or FAILED). */
  REPORT_NOT_READY: 409,
  /** Uploads: the tus request is malformed (missing Upload-Length, bad Upload-Metadata, no sessionId). */
  UPLOAD_INVALID: 400,
  /** Uploads: the declared file is not an accepted video container (mp4, mov, webm, 3gp); the session FAILED. */
  UNSUPPORTED_VIDEO_FORMAT: 415,
  /** Stores: the person invited (or given a role) is already a member of the store. */
  ALREADY_MEMBER: 409,
  /** Stores: the change would leave the store without an OWNER. */
  LAST_OWNER: 409,
  /** Stores: the invitation is past its 7 days. */
  INVITATION_EXPIRED: 410,
  CONTACT_IN_USE: 409,
  SOLE_OWNER: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INSUFFICIENT_CREDITS: 402,
  /** Credits: the idempotency key (or the session's hold) was already used for a different operation. */
  IDEMPOTENCY_KEY_REUSED: 409,
  /** Credits: the session's hold was voided (inventory FAILED); it can never be committed. */
  HOLD_ALREADY_VOIDED: 409,
  /** Credits: the session's hold was committed (inventory READY); it can never be voided. */
  HOLD_ALREADY_COMMITTED: 409,
  /** Inventory: the session's state machine does not allow this move (e.g. out of READY or FAILED). */
  INVALID_STATE_TRANSITION: 409,
  /** Products: the store already has a product with this barcode. */
  PRODUCT_GTIN_IN_USE: 409,
  /** Products: global catalogue products cannot be changed by a store. */
  CATALOG_PRODUCT_READ_ONLY: 403,
  NO_REQUEST_IDENTITY: 500,
  TENANT_ACCESS_DENIED: 404,
  DATABASE_UNAVAILABLE: 503,
  NOT_READY: 503,
  MESSAGE_DELIVERY_FAILED: 502,
  INTERNAL_ERROR: 500,
} as const;

/** One of the stable problem codes. */
export type ErrorCode = keyof typeof ERROR_CODES;
