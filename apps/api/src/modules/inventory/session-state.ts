import { DomainException } from '../../common/errors/domain.exception.js';

/**
 * The inventory session state machine (DESIGN.md "Video pipeline", issue 5 "Inventory
 * sessions"). Pure: no I/O; unit-tested pair by pair.
 *
 * ```
 * CREATED → UPLOADING → UPLOADED → QUEUED → PROCESSING → READY
 *    └──────────┴───────────┴─────────┴──────────┴──────→ FAILED (with a reason code)
 *                                      QUEUED ← PROCESSING   (retry / re-enqueue by the sweeper)
 * ```
 *
 * READY and FAILED are final. Same list as the `inventory_sessions_state_check` constraint
 * of the initial migration.
 */
export const SESSION_STATES = ['CREATED', 'UPLOADING', 'UPLOADED', 'QUEUED', 'PROCESSING', 'READY', 'FAILED'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** States a session never leaves. */
export const FINAL_STATES: readonly SessionState[] = ['READY', 'FAILED'];

/** States of a session still in progress (its credit is held). */
export const ACTIVE_STATES: readonly SessionState[] = ['CREATED', 'UPLOADING', 'UPLOADED', 'QUEUED', 'PROCESSING'];

/** For each state, the states it may move to. Anything else is INVALID_STATE_TRANSITION. */
export const TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  CREATED: ['UPLOADING', 'FAILED'],
  UPLOADING: ['UPLOADED', 'FAILED'],
  UPLOADED: ['QUEUED', 'FAILED'],
  QUEUED: ['PROCESSING', 'FAILED'],
  // → QUEUED: a retry, or the sweeper re-enqueuing a session whose worker died.
  PROCESSING: ['READY', 'FAILED', 'QUEUED'],
  READY: [],
  FAILED: [],
};

/**
 * Why a session FAILED (`inventory.inventory_sessions.failure_code`). Stable codes: clients
 * show a Spanish text for each (issue 5 "Validation", "Sweeper").
 */
export const FAILURE_CODES = [
  /** The upload finished with zero bytes. */
  'VIDEO_EMPTY',
  /** ffprobe could not read the file (corrupt, random bytes). */
  'VIDEO_UNREADABLE',
  /** Not one of the allowed containers (mp4, mov, webm, 3gp). */
  'UNSUPPORTED_FORMAT',
  /** The file has no video stream (e.g. audio only). */
  'NO_VIDEO_STREAM',
  /** Shorter than the minimum duration (5 s). */
  'VIDEO_TOO_SHORT',
  /** Longer than the maximum duration (180 s). */
  'VIDEO_TOO_LONG',
  /** Larger than the configured upload size limit. */
  'VIDEO_TOO_LARGE',
  /** The upload was not completed within its expiry (24 h). */
  'UPLOAD_EXPIRED',
  /** No frame sharp and distinct enough to count from. */
  'NO_USABLE_FRAMES',
  /** The vision provider failed after its retries. */
  'PROVIDER_ERROR',
  /** Stuck in QUEUED/PROCESSING after the sweeper's last try. */
  'PROCESSING_TIMEOUT',
  /** Any other processing failure. */
  'PROCESSING_ERROR',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/**
 * Column of `inventory.inventory_sessions` holding the time a session (last) entered each
 * state; CREATED is the row's `created_at`.
 */
export const STATE_TIMESTAMP_COLUMNS: Readonly<Record<Exclude<SessionState, 'CREATED'>, string>> = {
  UPLOADING: 'uploading_at',
  UPLOADED: 'uploaded_at',
  QUEUED: 'queued_at',
  PROCESSING: 'processing_at',
  READY: 'ready_at',
  FAILED: 'failed_at',
};

/** Whether `value` is one of {@link SESSION_STATES}. */
export function isSessionState(value: unknown): value is SessionState {
  return typeof value === 'string' && (SESSION_STATES as readonly string[]).includes(value);
}

/** Whether `value` is one of {@link FAILURE_CODES}. */
export function isFailureCode(value: unknown): value is FailureCode {
  return typeof value === 'string' && (FAILURE_CODES as readonly string[]).includes(value);
}

/** Whether a session in state `from` may move to `to` (a state never "moves" to itself). */
export function canTransition(from: SessionState, to: SessionState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Checks one move of the state machine.
 *
 * @throws DomainException INVALID_STATE_TRANSITION (409) when `from → to` is not in {@link TRANSITIONS}
 *   (including `from === to`, and any move out of READY or FAILED).
 */
export function assertTransition(from: SessionState, to: SessionState): void {
  if (!canTransition(from, to)) {
    throw new DomainException(
      'INVALID_STATE_TRANSITION',
      `An inventory session cannot go from ${from} to ${to}` +
        (TRANSITIONS[from].length === 0 ? ` (${from} is final).` : ` (allowed: ${TRANSITIONS[from].join(', ')}).`),
    );
  }
}
