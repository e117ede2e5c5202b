import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { isFailureCode, type FailureCode } from '../inventory/session-state.js';
import { JobHandlerRegistry } from '../queue/job-handler.registry.js';
import { JobName } from '../queue/job-names.js';
import { UnrecoverableJobError } from '../queue/job-queue.port.js';
import { VisionProviderError } from '../vision/vision-provider.port.js';
import { PipelineFailure, SessionLostError, VideoPipelineService } from './video-pipeline.service.js';

/** `[CODE] message`: how a failure code survives the queue (BullMQ keeps only the message). */
const CODED = /^\[([A-Z_]+)\] /;

/**
 * The handler of the `process-session` job (CONVENTIONS #7: thin, idempotent, keyed by the
 * session id). Maps pipeline outcomes to the queue's retry rules:
 *
 * - bad input (PipelineFailure: e.g. NO_USABLE_FRAMES) and a provider error no retry can fix →
 *   `UnrecoverableJobError`, no retry;
 * - any other error → the session goes back to QUEUED and the queue retries with backoff;
 * - once the job fails for good, the session FAILS with the failure's code (PROVIDER_ERROR for
 *   a provider, PROCESSING_ERROR otherwise) and its credit hold is voided, exactly once;
 * - a worker that lost its session (the sweeper re-queued it) stops quietly.
 */
@Injectable()
export class ProcessSessionJob implements OnModuleInit {
  private readonly logger = new Logger('ProcessSessionJob');

  constructor(
    private readonly registry: JobHandlerRegistry,
    private readonly pipeline: VideoPipelineService,
  ) {}

  onModuleInit(): void {
    this.registry.register(JobName.PROCESS_SESSION, async (job) => {
      const { sessionId } = job.data;
      try {
        await this.pipeline.process(sessionId);
      } catch (error) {
        if (error instanceof SessionLostError) {
          this.logger.warn({ sessionId }, error.message);
          return;
        }
        if (error instanceof PipelineFailure) {
          throw new UnrecoverableJobError(`[${error.failureCode}] ${error.message}`, { cause: error });
        }
        if (error instanceof VisionProviderError && !error.retryable) {
          throw new UnrecoverableJobError(`[PROVIDER_ERROR] ${error.code}: ${error.message}`, { cause: error });
        }
        const code: FailureCode = error instanceof VisionProviderError ? 'PROVIDER_ERROR' : 'PROCESSING_ERROR';
        if (job.attempt < job.maxAttempts) await this.pipeline.requeueAfterError(sessionId);
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`[${code}] ${message}`, { cause: error });
      }
    });
    this.registry.onFailed(JobName.PROCESS_SESSION, async (failed) => {
      const sessionId = (failed.data as { sessionId?: unknown } | null)?.sessionId;
      if (typeof sessionId !== 'string') return;
      const match = CODED.exec(failed.error.message);
      const code = match && isFailureCode(match[1]) ? match[1] : 'PROCESSING_ERROR';
      await this.pipeline.fail(sessionId, code, failed.error.message.replace(CODED, '').slice(0, 1000));
    });
  }
}
