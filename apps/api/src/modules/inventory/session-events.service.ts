import { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { APP_DATABASE_URL } from '../../database/database.constants.js';
import type { FailureCode, SessionState } from './session-state.js';

/** PostgreSQL NOTIFY channel carrying every session change (written by the repository). */
export const SESSION_EVENTS_CHANNEL = 'inventory_session_events';

/**
 * One change of an inventory session, as sent on {@link SESSION_EVENTS_CHANNEL} and on the SSE
 * stream: the state (and its reason when FAILED) and the processing progress (percent).
 */
export interface SessionEvent {
  id: string;
  storeId: string;
  state: SessionState;
  progress: number;
  failureCode: FailureCode | null;
  /** ISO 8601 time of the change. */
  at: string;
}

/** Seconds between two reconnection attempts of the LISTEN connection. */
const RECONNECT_DELAY_MS = 2000;

/**
 * Fans session changes out to server-sent-events streams, across processes: the transaction
 * that changes a session runs `pg_notify` (delivered only if it commits, in commit order), and
 * every API process LISTENs on one dedicated connection of the application role. So a change
 * made by a worker in another process (or on another machine) reaches the SSE clients of every
 * API replica; PostgreSQL stays the only source of truth (DESIGN.md "Jobs"). A subscriber that
 * connects late first reads the current state from the database, so a lost notification (the
 * LISTEN connection dropped) costs at most a stale progress figure until the next change.
 *
 * The LISTEN connection is opened lazily on the first subscription and reopened after errors.
 */
@Injectable()
export class SessionEventsService implements OnApplicationShutdown {
  private readonly logger = new Logger('SessionEvents');
  private readonly emitter = new EventEmitter();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(@Inject(APP_DATABASE_URL) private readonly databaseUrl: string) {
    this.emitter.setMaxListeners(0);
  }

  /**
   * Calls `listener` with each change of session `sessionId` (from any process) until the
   * returned function is called. Resolves once the LISTEN connection is up, so a caller that
   * subscribes and then reads the current state misses nothing in between.
   */
  async subscribe(sessionId: string, listener: (event: SessionEvent) => void): Promise<() => void> {
    this.emitter.on(sessionId, listener);
    try {
      await this.ensureListening();
    } catch (error) {
      this.emitter.off(sessionId, listener);
      throw error;
    }
    return () => this.emitter.off(sessionId, listener);
  }

  /** Delivers an event to this process's subscribers (tests; NOTIFY does the same across processes). */
  publishLocal(event: SessionEvent): void {
    this.emitter.emit(event.id, event);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.emitter.removeAllListeners();
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private ensureListening(): Promise<void> {
    if (this.client) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.connect().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'miinventario-listen' });
    client.on('notification', (message) => {
      if (message.channel !== SESSION_EVENTS_CHANNEL || !message.payload) return;
      try {
        const event = JSON.parse(message.payload) as SessionEvent;
        this.emitter.emit(event.id, event);
      } catch (error) {
        this.logger.warn({ err: error }, 'ignored a malformed session notification');
      }
    });
    client.on('error', (error) => {
      // 57P01: the server is shutting down (Ctrl-C stops the embedded PostgreSQL first): expected.
      if ((error as { code?: string }).code === '57P01' || this.closed) {
        this.logger.debug({ err: error }, 'session LISTEN connection closed by the server');
      } else {
        this.logger.warn({ err: error }, 'session LISTEN connection failed; reconnecting');
      }
      if (this.client === client) this.client = null;
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${SESSION_EVENTS_CHANNEL}`);
    if (this.closed) {
      await client.end();
      return;
    }
    this.client = client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.emitter.eventNames().length === 0) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.ensureListening().catch(() => this.scheduleReconnect());
    }, RECONNECT_DELAY_MS);
    this.reconnectTimer.unref();
  }
}
