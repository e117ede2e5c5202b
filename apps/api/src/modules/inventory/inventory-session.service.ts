import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type MessageEvent } from '@nestjs/common';
import { Observable } from 'rxjs';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { currentContext, type RequestIdentity } from '../../common/http/request-context.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { TransactionService } from '../../database/transaction.service.js';
import { CreditsService } from '../credits/credits.service.js';
import { StoreAccessService } from '../stores/store-access.service.js';
import type { ListSessionsQueryDto, SessionPage, SessionView, StartSessionDto } from './inventory-session.dto.js';
import { InventorySessionRepository, type SessionRow } from './inventory-session.repository.js';
import { SessionEventsService, type SessionEvent } from './session-events.service.js';
import { assertTransition, isFailureCode, type FailureCode, type SessionState } from './session-state.js';

/** A session row as the API returns it. */
export function toSessionView(row: SessionRow): SessionView {
  const iso = (value: Date | null) => (value ? value.toISOString() : null);
  return {
    id: row.id,
    storeId: row.store_id,
    state: row.state,
    failureCode: row.failure_code,
    failureDetail: row.failure_detail,
    progress: row.progress,
    attempts: row.attempts,
    createdBy: row.created_by,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at.toISOString(),
    uploadingAt: iso(row.uploading_at),
    uploadedAt: iso(row.uploaded_at),
    queuedAt: iso(row.queued_at),
    processingAt: iso(row.processing_at),
    readyAt: iso(row.ready_at),
    failedAt: iso(row.failed_at),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Options of {@link InventorySessionService.transition}. */
export interface TransitionOptions {
  /** Required with FAILED, refused otherwise. */
  failureCode?: FailureCode;
  /** English detail kept with a failure (for support; at most 1,000 characters are kept). */
  failureDetail?: string;
}

/** What {@link InventorySessionService.transition} did. */
export interface TransitionResult {
  session: SessionView;
  /**
   * true when this call moved the session; false when it already was in the target state
   * (a replay, or another worker won the race): nothing was written.
   */
  changed: boolean;
}

/** How many times a transition re-reads a session that moved under it before giving up. */
const MAX_TRANSITION_ATTEMPTS = 5;

/**
 * Inventory sessions (DESIGN.md "Video pipeline", issues 4 and 5): start one (holding a
 * credit), list a store's history, read one, and move one through its state machine
 * ({@link assertTransition}).
 *
 * **Credits.** Starting a session holds one credit of the wallet that pays for the store
 * (the first OWNER's: an OPERATOR spends the owner's credits) in the same transaction as the
 * session row: with no credit available the start is 402 INSUFFICIENT_CREDITS and nothing is
 * written. READY commits the hold and FAILED voids it, in the transaction that moves the
 * state; since only one transaction can move a session out of a given state (the guarded
 * UPDATE) and READY/FAILED are final, each happens exactly once.
 *
 * **Locks.** A start locks, in this order: the advisory lock of its idempotency key (if any),
 * then the wallet row (inside the hold), then inserts the session (whose foreign key to the
 * wallet takes a KEY SHARE lock the transaction already covers). Holding the wallet before
 * inserting matters: two starts that each inserted first would each hold a KEY SHARE on the
 * wallet and then wait for the other's to take FOR UPDATE — a deadlock.
 *
 * **Access.** Members of the store (OWNER or OPERATOR) start and read its sessions; anyone
 * else gets 404 NOT_FOUND, never 403 ({@link StoreAccessService}). Row-level security is the
 * second wall.
 */
@Injectable()
export class InventorySessionService {
  constructor(
    private readonly sessions: InventorySessionRepository,
    private readonly access: StoreAccessService,
    private readonly credits: CreditsService,
    private readonly transactions: TransactionService,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly events: SessionEventsService,
  ) {}

  /**
   * Starts an inventory session in `storeId` for `userId` (OWNER or OPERATOR of the store):
   * holds one credit of the store owner's wallet and inserts the session in state CREATED,
   * in the caller's transaction. With `idempotencyKey`, a retry (even a concurrent one)
   * returns the session the first call created, in its current state, and holds nothing more.
   *
   * @returns the session.
   * @throws NOT_FOUND (404) not a live store of the caller (or its owner has no wallet);
   *   INSUFFICIENT_CREDITS (402) the owner's wallet has no available credit — nothing written.
   */
  async start(userId: string, storeId: string, dto: StartSessionDto = {}): Promise<SessionView> {
    await this.access.assertStoreAccess(userId, storeId, 'OPERATOR');
    const idempotencyKey = dto.idempotencyKey ?? null;
    if (idempotencyKey) {
      await this.sessions.lockIdempotencyKey(storeId, idempotencyKey);
      const existing = await this.sessions.findByIdempotencyKey(storeId, idempotencyKey);
      if (existing) return toSessionView(existing);
    }
    const walletId = await this.credits.walletForUser(await this.access.payingOwnerOf(storeId));
    const sessionId = randomUUID();
    await this.credits.hold(walletId, sessionId);
    const row = await this.sessions.insert({
      id: sessionId,
      storeId,
      createdBy: userId,
      walletId,
      idempotencyKey,
      createdAt: this.clock.now(),
    });
    if (!row) {
      // Cannot happen under the advisory lock; refuse loudly (rolling the hold back) rather than guess.
      throw new DomainException('CONFLICT', 'A session with this idempotency key is being started; retry.');
    }
    return toSessionView(row);
  }

  /**
   * A store's sessions, newest first, optionally in one `state`; `cursor` is the previous
   * page's `nextCursor` (a session id); `limit` 1–100.
   *
   * @throws NOT_FOUND (404) not a live store of the caller.
   */
  async list(userId: string, storeId: string, query: ListSessionsQueryDto): Promise<SessionPage> {
    await this.access.assertStoreAccess(userId, storeId, 'OPERATOR');
    const limit = Math.min(Math.max(Math.trunc(query.limit), 1), 100);
    const rows = await this.sessions.listForStore({
      storeId,
      state: query.state,
      afterId: query.cursor,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      items: page.map(toSessionView),
      nextCursor: rows.length > limit ? page[page.length - 1]!.id : null,
    };
  }

  /**
   * One session of a store the caller belongs to.
   *
   * @throws NOT_FOUND (404) unknown, or a session of a store the caller is not a live member of.
   */
  async get(userId: string, sessionId: string): Promise<SessionView> {
    const row = await this.sessions.findById(sessionId);
    if (!row) throw new NotFoundDomainException('Inventory session');
    const roles = await this.access.rolesOf(userId, [row.store_id]);
    if (!roles.has(row.store_id)) throw new NotFoundDomainException('Inventory session');
    return toSessionView(row);
  }

  /**
   * Moves session `sessionId` to `to`, as SYSTEM (workers: upload, validation, queue,
   * processing, sweeper), in the current transaction when one is open (else in a new one).
   * On READY the session's credit hold is committed, on FAILED it is voided — in the same
   * transaction, so exactly once. The timestamp of `to` is set from the clock.
   *
   * Idempotent: when the session already is in `to`, nothing is written and `changed` is
   * false (a replayed job, or the loser of two workers racing on one move). The UPDATE is
   * guarded by the state read (`WHERE state = $from`); if the session moved meanwhile, the
   * move is re-checked against its new state.
   *
   * @throws NOT_FOUND (404) unknown session; INVALID_STATE_TRANSITION (409) not allowed from
   *   its current state; VALIDATION_FAILED (400) FAILED without a known failure code, or a
   *   failure code with another state.
   */
  async transition(sessionId: string, to: SessionState, options: TransitionOptions = {}): Promise<TransitionResult> {
    if (to === 'FAILED' && !isFailureCode(options.failureCode)) {
      throw new DomainException('VALIDATION_FAILED', 'FAILED needs a known failure code.', [
        { field: 'failureCode', message: 'required with FAILED' },
      ]);
    }
    if (to !== 'FAILED' && options.failureCode !== undefined) {
      throw new DomainException('VALIDATION_FAILED', 'A failure code goes only with FAILED.', [
        { field: 'failureCode', message: 'only with FAILED' },
      ]);
    }
    return this.asSystem(async () => {
      for (let attempt = 0; attempt < MAX_TRANSITION_ATTEMPTS; attempt += 1) {
        const current = await this.sessions.findById(sessionId);
        if (!current) throw new NotFoundDomainException('Inventory session');
        if (current.state === to) return { session: toSessionView(current), changed: false };
        assertTransition(current.state, to);
        const moved = await this.sessions.transition({
          id: sessionId,
          from: current.state,
          // assertTransition refused CREATED: no state moves back to it.
          to: to as Exclude<SessionState, 'CREATED'>,
          at: this.clock.now(),
          failureCode: to === 'FAILED' ? options.failureCode! : null,
          failureDetail: to === 'FAILED' ? (options.failureDetail?.slice(0, 1000) ?? null) : null,
        });
        if (!moved) continue; // another transaction moved it first: decide again from its new state
        if (moved.wallet_id) {
          if (to === 'READY') await this.credits.commit(sessionId);
          if (to === 'FAILED') await this.credits.void(sessionId, options.failureCode);
        }
        await this.sessions.notifyChange(moved, this.clock.now());
        return { session: toSessionView(moved), changed: true };
      }
      throw new DomainException(
        'CONFLICT',
        `Inventory session ${sessionId} kept changing state while moving it to ${to}; retry.`,
      );
    });
  }

  /**
   * The server-sent-events stream of one session (issue 5 "Status to the client"): first the
   * current state, then one `state` event per change (state, progress %, failure code), from
   * whichever process made it; the stream completes after READY or FAILED. A `ping` event every
   * 25 s keeps proxies from closing an idle stream. Runs outside any request transaction (the
   * route is long-lived): access is checked in a short one.
   *
   * @throws NOT_FOUND (404) unknown session, or one of a store the caller is not a member of —
   *   before any event is sent.
   */
  async eventStream(identity: RequestIdentity, sessionId: string): Promise<Observable<MessageEvent>> {
    const read = () => this.transactions.runAs(identity, () => this.get(identity.userId, sessionId));
    await read();
    return new Observable<MessageEvent>((subscriber) => {
      let unsubscribe: (() => void) | null = null;
      let lastKey = '';
      let closed = false;
      const emit = (event: Omit<SessionEvent, 'storeId'> & { storeId?: string }) => {
        if (closed) return;
        const key = `${event.state}:${event.progress}:${event.failureCode ?? ''}`;
        if (key === lastKey) return;
        lastKey = key;
        subscriber.next({
          type: 'state',
          data: {
            id: event.id,
            state: event.state,
            progress: event.progress,
            failureCode: event.failureCode,
            at: event.at,
          },
        });
        if (event.state === 'READY' || event.state === 'FAILED') {
          closed = true;
          subscriber.complete();
        }
      };
      const ping = setInterval(
        () => subscriber.next({ type: 'ping', data: { at: this.clock.now().toISOString() } }),
        25_000,
      );
      ping.unref();
      // Subscribe first, then read: a change between the two is not lost (duplicates are dropped).
      this.events
        .subscribe(sessionId, (event) => emit(event))
        .then(async (stop) => {
          unsubscribe = stop;
          if (closed) return stop();
          const current = await read();
          emit({
            id: current.id,
            state: current.state,
            progress: current.progress,
            failureCode: current.failureCode,
            at: current.updatedAt,
          });
        })
        .catch((error: unknown) => subscriber.error(error));
      return () => {
        closed = true;
        clearInterval(ping);
        unsubscribe?.();
      };
    });
  }

  /**
   * A session as the workers see it (SYSTEM, any store), or null when unknown. For the
   * pipeline, the sweeper and the upload hooks — never for a person's request.
   */
  async getForWorker(sessionId: string): Promise<SessionView | null> {
    const row = await this.asSystem(() => this.sessions.findById(sessionId));
    return row ? toSessionView(row) : null;
  }

  /**
   * Reports processing progress (0–100 %) of a PROCESSING session and refreshes its heartbeat
   * (the sweeper's sign of life), announcing the change to SSE listeners.
   *
   * @returns false when the session is no longer PROCESSING (the worker lost it: stop).
   */
  async reportProgress(sessionId: string, progress: number): Promise<boolean> {
    return this.asSystem(async () => {
      const now = this.clock.now();
      const row = await this.sessions.setProgress(sessionId, progress, now);
      if (row) await this.sessions.notifyChange(row, now);
      return row !== null;
    });
  }

  /** Records the frame counts of a session's extraction (sampled, kept, sent to the provider). */
  async recordFrameCounts(sessionId: string, counts: { sampled: number; kept: number; used: number }): Promise<void> {
    await this.asSystem(() => this.sessions.setFrameCounts(sessionId, counts));
  }

  /**
   * Sessions stuck in UPLOADED, QUEUED or PROCESSING with no sign of life for `stuckMs`,
   * each handed to `rescue` in its own SYSTEM transaction holding the session's row lock
   * (`FOR UPDATE SKIP LOCKED`: concurrent sweepers never rescue one session twice). `rescue`
   * gets the session with `sweeps` counting this rescue; afterwards the stuck clock restarts and
   * the rescue is counted unless `rescue` answered false.
   *
   * @returns how many sessions were handed to `rescue`.
   */
  async sweepStuck(
    stuckMs: number,
    limit: number,
    rescue: (session: SessionView & { sweeps: number }) => Promise<boolean | void>,
  ): Promise<number> {
    const now = this.clock.now();
    const before = new Date(now.getTime() - stuckMs);
    const candidates = await this.transactions.runAsSystem(() => this.sessions.findStuck(before, limit));
    let rescued = 0;
    for (const id of candidates) {
      const done = await this.transactions.runAsSystem(async () => {
        const row = await this.sessions.lockIfStuck(id, before);
        if (!row) return false;
        // `rescue` answers false when nothing was lost (e.g. its job is still in the queue):
        // the stuck clock restarts without counting a rescue.
        const counted = (await rescue({ ...toSessionView(row), sweeps: row.sweeps + 1 })) !== false;
        await this.sessions.recordSweep(row.id, now, counted);
        return true;
      });
      if (done) rescued += 1;
    }
    return rescued;
  }

  /**
   * FAILS with UPLOAD_EXPIRED (voiding their credit holds) the sessions still CREATED — no
   * upload ever started — `olderThanMs` after they were created (the sweeper passes the upload
   * expiry): a session the owner abandoned must not keep a credit held forever.
   *
   * @returns how many sessions were failed.
   */
  async expireAbandoned(olderThanMs: number, limit: number): Promise<number> {
    const before = new Date(this.clock.now().getTime() - olderThanMs);
    return this.transactions.runAsSystem(async () => {
      const ids = await this.sessions.lockAbandoned(before, limit);
      for (const id of ids) {
        await this.transition(id, 'FAILED', {
          failureCode: 'UPLOAD_EXPIRED',
          failureDetail: 'no upload was started before the upload expiry',
        });
      }
      return ids.length;
    });
  }

  /** Runs `work` as SYSTEM in the current SYSTEM transaction, or elevated / in a new SYSTEM one. */
  private async asSystem<T>(work: () => Promise<T>): Promise<T> {
    const context = currentContext();
    if (context?.manager && context.identity?.role === 'SYSTEM') return work();
    return this.transactions.elevate(() => work());
  }
}
