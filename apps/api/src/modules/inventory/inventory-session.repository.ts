import { Injectable } from '@nestjs/common';
import { TransactionService } from '../../database/transaction.service.js';
import { SESSION_EVENTS_CHANNEL, type SessionEvent } from './session-events.service.js';
import { STATE_TIMESTAMP_COLUMNS, type FailureCode, type SessionState } from './session-state.js';

/** A row of `inventory.inventory_sessions` (the columns this module reads). */
export interface SessionRow {
  id: string;
  store_id: string;
  created_by: string;
  state: SessionState;
  failure_code: FailureCode | null;
  failure_detail: string | null;
  idempotency_key: string | null;
  wallet_id: string | null;
  progress: number;
  attempts: number;
  uploading_at: Date | null;
  uploaded_at: Date | null;
  queued_at: Date | null;
  processing_at: Date | null;
  ready_at: Date | null;
  failed_at: Date | null;
  last_enqueued_at: Date | null;
  heartbeat_at: Date | null;
  sweeps: number;
  frames_sampled: number | null;
  frames_kept: number | null;
  frames_used: number | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, store_id, created_by, state, failure_code, failure_detail, idempotency_key, wallet_id,
  progress, attempts, uploading_at, uploaded_at, queued_at, processing_at, ready_at, failed_at,
  last_enqueued_at, heartbeat_at, sweeps, frames_sampled, frames_kept, frames_used, created_at, updated_at`;

/**
 * SQL of `inventory.inventory_sessions`. Runs in the caller's transaction: row-level security
 * shows a person the sessions of the stores they belong to (and lets them insert there);
 * workers run as SYSTEM and see every session.
 */
@Injectable()
export class InventorySessionRepository {
  constructor(private readonly transactions: TransactionService) {}

  /**
   * Serialises the starts of one store that carry the same client idempotency key, until the
   * transaction ends (`pg_advisory_xact_lock` on a hash of store and key; a hash collision only
   * makes two unrelated starts wait for each other). Taken before the wallet lock, always.
   */
  async lockIdempotencyKey(storeId: string, idempotencyKey: string): Promise<void> {
    await this.transactions.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `inventory-session:${storeId}:${idempotencyKey}`,
    ]);
  }

  /** The session of a store started with a client idempotency key, if any. */
  async findByIdempotencyKey(storeId: string, idempotencyKey: string): Promise<SessionRow | null> {
    const rows = (await this.transactions.query(
      `SELECT ${COLUMNS} FROM inventory.inventory_sessions WHERE store_id = $1 AND idempotency_key = $2`,
      [storeId, idempotencyKey],
    )) as SessionRow[];
    return rows[0] ?? null;
  }

  /**
   * Inserts a CREATED session with a known id (its credit hold, which references the id, is
   * written first so the wallet is locked before anything else). Returns null when a session
   * with the same idempotency key exists in the store (callers hold {@link lockIdempotencyKey},
   * so this is a safety net, not the normal path).
   */
  async insert(input: {
    id: string;
    storeId: string;
    createdBy: string;
    walletId: string;
    idempotencyKey: string | null;
    /** CREATED time, from the service's clock (the sweeper compares it with the same clock). */
    createdAt: Date;
  }): Promise<SessionRow | null> {
    const rows = (await this.transactions.query(
      `INSERT INTO inventory.inventory_sessions (id, store_id, created_by, wallet_id, idempotency_key, state, created_at)
       VALUES ($1, $2, $3, $4, $5, 'CREATED', $6)
       ON CONFLICT (store_id, idempotency_key) DO NOTHING
       RETURNING ${COLUMNS}`,
      [input.id, input.storeId, input.createdBy, input.walletId, input.idempotencyKey, input.createdAt],
    )) as SessionRow[];
    return rows[0] ?? null;
  }

  /** One session, if the caller may see it (row-level security). */
  async findById(id: string): Promise<SessionRow | null> {
    const rows = (await this.transactions.query(`SELECT ${COLUMNS} FROM inventory.inventory_sessions WHERE id = $1`, [
      id,
    ])) as SessionRow[];
    return rows[0] ?? null;
  }

  /**
   * Sessions of a store, newest first (`created_at DESC, id DESC`, the order of the
   * `(store_id, created_at DESC)` index), optionally in one state, strictly after the session
   * `afterId` of that order (keyset pagination: exact however many share a timestamp). An
   * `afterId` that is not a session of the store yields no rows.
   */
  async listForStore(query: {
    storeId: string;
    state?: SessionState;
    afterId?: string;
    limit: number;
  }): Promise<SessionRow[]> {
    return (await this.transactions.query(
      `SELECT ${COLUMNS}
         FROM inventory.inventory_sessions s
        WHERE s.store_id = $1
          AND ($2::text IS NULL OR s.state = $2)
          AND ($3::uuid IS NULL OR (s.created_at, s.id) < (
                SELECT c.created_at, c.id FROM inventory.inventory_sessions c WHERE c.id = $3 AND c.store_id = $1))
        ORDER BY s.created_at DESC, s.id DESC
        LIMIT $4`,
      [query.storeId, query.state ?? null, query.afterId ?? null, query.limit],
    )) as SessionRow[];
  }

  /**
   * Moves a session from `from` to `to` — only if it is still in `from` (`WHERE state = $from`):
   * of two transactions racing on one session, the second waits for the first's row lock, then
   * finds the state changed and updates nothing. Sets the timestamp column of `to` to `at`;
   * QUEUED also sets `last_enqueued_at`, PROCESSING counts an attempt, READY sets progress to
   * 100, FAILED records the reason. Returns the updated row, or null when the session was not
   * in `from` (or not visible).
   */
  async transition(input: {
    id: string;
    from: SessionState;
    to: Exclude<SessionState, 'CREATED'>;
    at: Date;
    failureCode: FailureCode | null;
    failureDetail: string | null;
  }): Promise<SessionRow | null> {
    const column = STATE_TIMESTAMP_COLUMNS[input.to];
    const extra =
      input.to === 'QUEUED'
        ? ', last_enqueued_at = $3, progress = 0'
        : input.to === 'PROCESSING'
          ? ', attempts = attempts + 1, heartbeat_at = $3'
          : input.to === 'READY'
            ? ', progress = 100'
            : input.to === 'FAILED'
              ? ', failure_code = $5, failure_detail = $6'
              : '';
    const params: unknown[] = [input.id, input.from, input.at, input.to];
    if (input.to === 'FAILED') params.push(input.failureCode, input.failureDetail);
    const rows = (await this.transactions.query(
      `UPDATE inventory.inventory_sessions
          SET state = $4, ${column} = $3${extra}
        WHERE id = $1 AND state = $2
        RETURNING ${COLUMNS}`,
      params,
    )) as SessionRow[];
    return rows[0] ?? null;
  }

  /**
   * Announces a change of `row` on {@link SESSION_EVENTS_CHANNEL} (`pg_notify`, delivered to the
   * listeners of every process when — and only if — the current transaction commits).
   */
  async notifyChange(row: SessionRow, at: Date): Promise<void> {
    const event: SessionEvent = {
      id: row.id,
      storeId: row.store_id,
      state: row.state,
      progress: row.progress,
      failureCode: row.failure_code,
      at: at.toISOString(),
    };
    await this.transactions.query('SELECT pg_notify($1, $2)', [SESSION_EVENTS_CHANNEL, JSON.stringify(event)]);
  }

  /**
   * Sets the processing progress (0–100, percent) and the heartbeat of a PROCESSING session
   * (SYSTEM). Returns the row, or null when the session is no longer PROCESSING (then nothing
   * is written: a worker that lost its session must stop).
   */
  async setProgress(id: string, progress: number, at: Date): Promise<SessionRow | null> {
    const rows = (await this.transactions.query(
      `UPDATE inventory.inventory_sessions
          SET progress = GREATEST(0, LEAST(100, $2::int)), heartbeat_at = $3
        WHERE id = $1 AND state = 'PROCESSING'
        RETURNING ${COLUMNS}`,
      [id, Math.round(progress), at],
    )) as SessionRow[];
    return rows[0] ?? null;
  }

  /**
   * Ids of sessions (SYSTEM) stuck in UPLOADED, QUEUED or PROCESSING: no sign of life
   * (heartbeat, or entering the state) since `before`; oldest first, at most `limit`.
   */
  async findStuck(before: Date, limit: number): Promise<string[]> {
    const rows = (await this.transactions.query(
      `SELECT id FROM inventory.inventory_sessions
        WHERE state IN ('UPLOADED', 'QUEUED', 'PROCESSING')
          AND GREATEST(heartbeat_at, processing_at, queued_at, uploaded_at) < $1
        ORDER BY GREATEST(heartbeat_at, processing_at, queued_at, uploaded_at)
        LIMIT $2`,
      [before, limit],
    )) as { id: string }[];
    return rows.map((row) => row.id);
  }

  /**
   * Locks session `id` if it still is stuck (see {@link findStuck}); `FOR UPDATE SKIP LOCKED`,
   * so a session another sweeper (or a worker's transaction) holds is skipped, not waited for.
   */
  async lockIfStuck(id: string, before: Date): Promise<SessionRow | null> {
    const rows = (await this.transactions.query(
      `SELECT ${COLUMNS} FROM inventory.inventory_sessions
        WHERE id = $1 AND state IN ('UPLOADED', 'QUEUED', 'PROCESSING')
          AND GREATEST(heartbeat_at, processing_at, queued_at, uploaded_at) < $2
        FOR UPDATE SKIP LOCKED`,
      [id, before],
    )) as SessionRow[];
    return rows[0] ?? null;
  }

  /** Restarts a session's stuck clock (`heartbeat_at = at`), counting one sweeper rescue when `counted`. */
  async recordSweep(id: string, at: Date, counted: boolean): Promise<void> {
    await this.transactions.query(
      `UPDATE inventory.inventory_sessions SET sweeps = sweeps + $3::int, heartbeat_at = $2 WHERE id = $1`,
      [id, at, counted ? 1 : 0],
    );
  }

  /** Frame counts of a session's extraction (sampled, kept, sent to the provider). */
  async setFrameCounts(id: string, counts: { sampled: number; kept: number; used: number }): Promise<void> {
    await this.transactions.query(
      `UPDATE inventory.inventory_sessions SET frames_sampled = $2, frames_kept = $3, frames_used = $4 WHERE id = $1`,
      [id, counts.sampled, counts.kept, counts.used],
    );
  }

  /**
   * Ids of sessions (SYSTEM) still CREATED — no upload ever started — since before `before`;
   * oldest first, at most `limit`, locked `FOR UPDATE SKIP LOCKED`.
   */
  async lockAbandoned(before: Date, limit: number): Promise<string[]> {
    const rows = (await this.transactions.query(
      `SELECT id FROM inventory.inventory_sessions
        WHERE state = 'CREATED' AND created_at < $1
        ORDER BY created_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      [before, limit],
    )) as { id: string }[];
    return rows.map((row) => row.id);
  }
}
