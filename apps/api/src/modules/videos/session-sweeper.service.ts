import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { TransactionService } from '../../database/transaction.service.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import { UploadStoreService } from './upload-store.service.js';
import { VideoIntakeService } from './video-intake.service.js';
import { VideosRepository } from './videos.repository.js';

/** Sessions (and expired uploads) handled per sweep. */
const BATCH = 100;

/** What one sweep did. */
export interface SweepResult {
  /** Sessions re-validated (stuck UPLOADED) or re-enqueued (stuck QUEUED/PROCESSING). */
  requeued: number;
  /** Sessions FAILED with PROCESSING_TIMEOUT after SWEEPER_MAX_REQUEUES rescues. */
  timedOut: number;
  /**
   * Unfinished uploads past their expiry (removed), and sessions never uploaded to within the
   * expiry: their sessions FAILED with UPLOAD_EXPIRED, holds voided.
   */
  expiredUploads: number;
}

/**
 * The sweeper (issue 5 "Sweeper"; DESIGN.md "Jobs": Postgres is the truth, the queue only
 * carries work). Every SWEEPER_INTERVAL_SECONDS, in processes that run workers:
 *
 * - a session in UPLOADED, QUEUED or PROCESSING with no sign of life (heartbeat or state
 *   change) for SWEEPER_STUCK_MINUTES is rescued: UPLOADED is validated again, PROCESSING goes
 *   back to QUEUED, and QUEUED is enqueued again (job id = session id, so a job still in the
 *   queue is not duplicated; a job lost with Redis, or never enqueued because the process died
 *   after the commit, is re-created). After SWEEPER_MAX_REQUEUES rescues the session FAILS with
 *   PROCESSING_TIMEOUT and its credit hold is voided (exactly once: the state move does it);
 * - an unfinished upload past its expiry (UPLOAD_EXPIRY_HOURS) is deleted and its session
 *   FAILS with UPLOAD_EXPIRED (hold voided) — also every UPLOAD_CLEANUP_INTERVAL_SECONDS; so does a
 *   session still CREATED (no upload ever started) that long after it was created.
 *
 * Each session is rescued in its own transaction holding its row lock (SKIP LOCKED), so several
 * processes may sweep at once.
 */
@Injectable()
export class SessionSweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SessionSweeper');
  private timer: NodeJS.Timeout | null = null;
  private cleanupTimer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly transactions: TransactionService,
    private readonly sessions: InventorySessionService,
    private readonly videos: VideosRepository,
    private readonly intake: VideoIntakeService,
    private readonly uploads: UploadStoreService,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.RUN_WORKER) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .catch((error: unknown) => this.logger.error({ err: error }, 'sweep failed'))
        .finally(() => {
          this.running = null;
        });
    }, this.config.SWEEPER_INTERVAL_SECONDS * 1000);
    this.timer.unref();
    // Expired uploads on their own rhythm (UPLOAD_CLEANUP_INTERVAL_SECONDS); sweep() also does them.
    this.cleanupTimer = setInterval(() => {
      if (this.running) return;
      this.running = this.expireUploads()
        .catch((error: unknown) => this.logger.error({ err: error }, 'upload cleanup failed'))
        .finally(() => {
          this.running = null;
        });
    }, this.config.UPLOAD_CLEANUP_INTERVAL_SECONDS * 1000);
    this.cleanupTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    this.timer = null;
    this.cleanupTimer = null;
    await this.running;
  }

  /** One sweep (also called directly by tests and admins). */
  async sweep(): Promise<SweepResult> {
    const result: SweepResult = { requeued: 0, timedOut: 0, expiredUploads: 0 };
    const revalidate: string[] = [];
    const enqueue: string[] = [];
    await this.sessions.sweepStuck(this.config.SWEEPER_STUCK_MINUTES * 60_000, BATCH, async (session) => {
      if (session.sweeps > this.config.SWEEPER_MAX_REQUEUES) {
        await this.sessions.transition(session.id, 'FAILED', {
          failureCode: 'PROCESSING_TIMEOUT',
          failureDetail: `stuck in ${session.state} after ${session.sweeps - 1} re-enqueues`,
        });
        result.timedOut += 1;
        return;
      }
      if (session.state === 'QUEUED') {
        // Still QUEUED: the job was lost (Redis flushed, a crash before the enqueue) or is just
        // waiting behind others. The enqueue (job id = session id) re-creates only a lost one;
        // a job still in the queue is not a rescue and does not count towards the limit.
        const { created } = await this.intake.enqueue(session.id);
        if (created) result.requeued += 1;
        return created;
      }
      result.requeued += 1;
      if (session.state === 'UPLOADED') revalidate.push(session.id);
      else {
        await this.sessions.transition(session.id, 'QUEUED');
        enqueue.push(session.id);
      }
      return true;
    });
    // After the commits: the queue never carries work Postgres does not have.
    for (const id of enqueue) await this.intake.enqueue(id);
    for (const id of revalidate) await this.intake.validateAndQueue(id);
    result.expiredUploads = await this.expireUploads();
    if (result.requeued + result.timedOut + result.expiredUploads > 0) this.logger.warn(result, 'sweeper acted');
    return result;
  }

  /** Deletes unfinished uploads past their expiry and FAILS their sessions with UPLOAD_EXPIRED. */
  private async expireUploads(): Promise<number> {
    const expired = await this.transactions.runAsSystem(async () => {
      const videos = await this.videos.lockExpiredUploads(this.clock.now(), BATCH);
      for (const video of videos) {
        await this.videos.setStatus(video.id, 'EXPIRED');
        const session = await this.sessions.getForWorker(video.session_id);
        if (session && session.state !== 'READY' && session.state !== 'FAILED') {
          await this.sessions.transition(video.session_id, 'FAILED', {
            failureCode: 'UPLOAD_EXPIRED',
            failureDetail: `upload not finished within ${this.config.UPLOAD_EXPIRY_HOURS} h`,
          });
        }
      }
      return videos;
    });
    for (const video of expired) if (video.upload_id) await this.uploads.remove(video.upload_id);
    const abandoned = await this.sessions.expireAbandoned(this.config.UPLOAD_EXPIRY_HOURS * 3600 * 1000, BATCH);
    return expired.length + abandoned;
  }
}
