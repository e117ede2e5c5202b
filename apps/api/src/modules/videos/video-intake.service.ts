import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { TransactionService } from '../../database/transaction.service.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import { MediaProcessingService } from '../media/media-processing.service.js';
import { JOB_QUEUE, type JobQueue } from '../queue/job-queue.port.js';
import { JobName } from '../queue/job-names.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../storage/object-storage.port.js';
import { UploadStoreService } from './upload-store.service.js';
import { VideosRepository, type VideoRow } from './videos.repository.js';

/** Delay before the bytes of an invalid upload are deleted, milliseconds. */
const INVALID_UPLOAD_REMOVAL_DELAY_MS = 5000;

/**
 * From a finished upload to a queued job (issue 5 "Validation"): UPLOADING → UPLOADED →
 * (ffprobe) → QUEUED and enqueued, or FAILED with its reason code and the credit hold voided.
 *
 * Postgres is the truth (DESIGN.md "Jobs"): the session is QUEUED in a committed transaction
 * before the job is enqueued, and a session left UPLOADED or QUEUED by a crash between the two
 * is picked up by the sweeper, which calls {@link validateAndQueue} / {@link enqueue} again
 * (both idempotent).
 */
@Injectable()
export class VideoIntakeService {
  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly transactions: TransactionService,
    private readonly sessions: InventorySessionService,
    private readonly videos: VideosRepository,
    private readonly media: MediaProcessingService,
    private readonly uploads: UploadStoreService,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
  ) {}

  /**
   * tus `onUploadFinish`: the last byte of upload `uploadId` (`sizeBytes` in all) is stored.
   * Marks the video UPLOADED and its session UPLOADED, then validates and queues it.
   * Idempotent (a second call finds the video no longer UPLOADING and only re-validates).
   */
  async finishUpload(uploadId: string, sizeBytes: number): Promise<void> {
    const sessionId = await this.transactions.runAsSystem(async () => {
      const video = await this.videos.findByUploadId(uploadId);
      if (!video) return null;
      if (await this.videos.markUploaded(video.id, sizeBytes, this.clock.now())) {
        await this.sessions.transition(video.session_id, 'UPLOADED');
      }
      return video.session_id;
    });
    if (sessionId) await this.validateAndQueue(sessionId);
  }

  /**
   * Validates the video of an UPLOADED session with ffprobe (empty, unreadable, no video
   * stream, wrong container, shorter than VIDEO_MIN_SECONDS, longer than VIDEO_MAX_SECONDS →
   * FAILED with that code, hold voided, upload bytes deleted); a valid one → QUEUED, then
   * enqueued. Does nothing for a session in another state.
   */
  async validateAndQueue(sessionId: string): Promise<void> {
    const video = await this.transactions.runAsSystem(async () => {
      const session = await this.sessions.getForWorker(sessionId);
      if (session?.state !== 'UPLOADED') return null;
      return this.videos.findBySession(sessionId);
    });
    if (!video) return;
    const verdict = await this.withLocalVideo(video, (path) => this.media.validate(path));
    await this.transactions.runAsSystem(async () => {
      const probe = verdict.ok ? verdict.probe : (verdict.probe ?? null);
      await this.videos.recordValidation(video.id, {
        valid: verdict.ok,
        container: probe?.container ?? null,
        videoCodec: probe?.videoCodec ?? null,
        durationMs: probe ? Math.round(probe.durationMs) : null,
        width: probe?.width ?? null,
        height: probe?.height ?? null,
        rotation: probe?.rotation ?? null,
        fps: probe?.fps ?? null,
        probe: probe ? { ...probe, raw: undefined } : null,
        at: this.clock.now(),
      });
      if (verdict.ok) await this.sessions.transition(sessionId, 'QUEUED');
      else {
        await this.sessions.transition(sessionId, 'FAILED', {
          failureCode: verdict.failureCode,
          failureDetail: verdict.detail,
        });
      }
    });
    if (verdict.ok) await this.enqueue(sessionId);
    else if (video.upload_id) {
      // An invalid upload's bytes go, but after tus has answered the request that finished it
      // (tus still reads the upload's bookkeeping while it responds).
      const uploadId = video.upload_id;
      setTimeout(() => void this.uploads.remove(uploadId), INVALID_UPLOAD_REMOVAL_DELAY_MS).unref();
    }
  }

  /**
   * Enqueues the processing job of a session (job id = session id: a second enqueue is a no-op).
   *
   * @returns created false when the session's job was already waiting or running.
   */
  async enqueue(sessionId: string): Promise<{ created: boolean }> {
    const { created } = await this.queue.enqueue(JobName.PROCESS_SESSION, { sessionId }, { jobId: sessionId });
    return { created };
  }

  /**
   * Runs `work` with a local path of the uploaded video: the file store's own file, or (S3) a
   * temporary download removed afterwards.
   */
  async withLocalVideo<T>(video: VideoRow, work: (path: string) => Promise<T>): Promise<T> {
    if (!video.upload_id) throw new Error(`video ${video.id} has no upload`);
    if (video.storage_backend !== 's3') return work(this.uploads.localPath(video.upload_id));
    const directory = await mkdtemp(join(tmpdir(), 'miinventario-video-'));
    try {
      const path = join(directory, 'video');
      await this.storage.downloadToFile(video.storage_key!, path);
      return await work(path);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
}
