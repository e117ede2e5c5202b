import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { TransactionService } from '../../database/transaction.service.js';
import { CreditsService } from '../credits/credits.service.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import { ProductsService } from '../products/products.service.js';
import { SettingsService } from '../settings/settings.service.js';
import { OBJECT_STORAGE, type ObjectStorage } from '../storage/object-storage.port.js';
import {
  PipelineFailure,
  VideoPipelineService,
  type AnalysisTimings,
  type ExtractedSession,
  type SessionAnalysis,
  type SessionAnalyzer,
} from '../videos/video-pipeline.service.js';
import { fuseDetections, type FusedLine } from '../vision/fusion.js';
import {
  VISION_PROVIDER_FACTORY,
  VisionProviderError,
  type FrameInput,
  type VisionProvider,
  type VisionProviderFactory,
} from '../vision/vision-provider.port.js';
import { AnalysisRepository, type NewItem } from './analysis.repository.js';

/** Spanish texts of the analysis (what a shop owner reads). */
const TEXT = {
  noProducts:
    'No encontramos productos con código de barras legible en el video. Graba de nuevo más cerca y con buena luz.',
  readyTitle: 'Tu inventario está listo',
  readyBody: (lines: number, units: number) =>
    `Encontramos ${units} ${units === 1 ? 'pieza' : 'piezas'} en ${lines} ${lines === 1 ? 'producto' : 'productos'}.`,
};

/**
 * The analysis step of the `process-session` job (issue 6; DESIGN.md "Video pipeline" and
 * "Vision providers"): the active vision provider (admin setting) looks at the frames, fusion
 * counts each physical item once, lines are matched to the catalogue, and — in ONE transaction —
 * the report lines are written, the COGS recorded, the session moved to READY (which commits the
 * credit hold exactly once) and an in-app notification written. Any failure leaves nothing
 * half-written; the job's failure handling FAILS the session and voids the hold.
 *
 * Frames sent: the offline `barcode` provider reads every sampled frame that is not blurred
 * (denser coverage counts better and costs nothing), and starts on each one, from its greyscale
 * pixels, while ffmpeg is still extracting (its `prefetch`, through `start`'s `onFrame`; the reads
 * of frames later found blurred are dropped); a cloud provider gets only the kept frames (sharp,
 * distinct, at most FRAME_MAX_PER_MINUTE per minute of video), after selection.
 *
 * Timing (issue 6 benchmark): `analyze` returns the wall-clock milliseconds of its steps (detect,
 * fuse, write) and stores the whole job's time, from PROCESSING to the report transaction, as the
 * session's `processing_ms` (bench/pipeline.md).
 *
 * A video with no readable product ends READY with zero lines and a Spanish message
 * (`resultMessage`), and the credit is spent: the video was processed (documented choice:
 * it was a valid video; the message tells the owner how to record a better one).
 */
@Injectable()
export class SessionAnalysisService implements SessionAnalyzer, OnModuleInit {
  private readonly logger = new Logger('SessionAnalysis');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactions: TransactionService,
    private readonly pipeline: VideoPipelineService,
    private readonly sessions: InventorySessionService,
    private readonly settings: SettingsService,
    private readonly products: ProductsService,
    private readonly credits: CreditsService,
    private readonly repository: AnalysisRepository,
    @Inject(VISION_PROVIDER_FACTORY) private readonly providers: VisionProviderFactory,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  onModuleInit(): void {
    this.pipeline.setAnalyzer(this);
  }

  /**
   * Picks the active provider (admin setting) for one job, before extraction. The offline
   * barcode provider reads every sampled frame that is not blurred, so it can start on each frame
   * as ffmpeg produces it (`onFrame`, its `prefetch`); the blurred ones are dropped after
   * selection. A cloud provider only gets the kept frames, after selection (`onFrame` null).
   */
  async start(sessionId: string): Promise<SessionAnalysis> {
    const choice = await this.settings.visionChoice();
    const provider = this.providers.create(choice.provider, choice.model);
    const cloud = choice.provider !== 'barcode';
    const prefetch = !cloud && provider.prefetch ? provider.prefetch.bind(provider) : null;
    this.logger.debug({ sessionId, provider: choice.provider, early: prefetch !== null }, 'analysis started');
    return {
      onFrame: prefetch,
      analyze: (session, progress) => this.analyze(session, progress, provider, cloud),
    };
  }

  /**
   * Provider on the frames, fusion, matching and the report transaction (see the class notes).
   * Returns the wall-clock milliseconds of its steps; `processing_ms` is the whole job's time.
   *
   * @throws PipelineFailure NO_USABLE_FRAMES when no frame is left for the provider.
   * @throws VisionProviderError from the provider (its attempts are recorded as COGS first).
   */
  private async analyze(
    session: ExtractedSession,
    progress: (percent: number) => Promise<void>,
    provider: VisionProvider,
    cloud: boolean,
  ): Promise<AnalysisTimings> {
    let mark = performance.now();
    const lap = (): number => {
      const now = performance.now();
      const elapsed = now - mark;
      mark = now;
      return elapsed;
    };
    const frames = session.frames.filter((frame) => (cloud ? frame.row.kept : frame.row.rejected_reason !== 'BLUR'));
    if (frames.length === 0) throw new PipelineFailure('NO_USABLE_FRAMES', 'no frame to send to the provider');
    const inputs: FrameInput[] = frames.map((frame) => ({
      frameId: frame.row.id,
      index: frame.row.frame_index,
      timestampMs: frame.row.timestamp_ms,
      path: frame.path,
      width: frame.row.width ?? 0,
      height: frame.row.height ?? 0,
    }));
    let results;
    try {
      results = await provider.detectProducts(inputs);
    } catch (error) {
      // Every attempt that reached the provider is a COGS row, even at zero cost (issue 6: "COGS of
      // the attempts recorded"): admins see what failed calls cost and how often they happen.
      if (error instanceof VisionProviderError && error.cost && error.cost.attempts > 0) {
        await this.credits.recordCogs({
          sessionId: session.sessionId,
          storeId: session.storeId,
          provider: String(error.cost.provider),
          model: error.cost.model,
          units: error.cost.units,
          costUsdMicros: error.cost.costUsdMicros,
          inputTokens: error.cost.inputTokens,
          outputTokens: error.cost.outputTokens,
          attempt: error.cost.attempts,
          success: false,
          errorCode: error.code,
          metadata: { message: error.message.slice(0, 500) },
        });
      }
      throw error;
    }
    const detectMs = lap();
    await progress(80);
    const cost = provider.getCost();
    const lines = fuseDetections(results, {
      mode: cloud ? 'vision' : 'barcode',
      reviewThreshold: this.config.REVIEW_CONFIDENCE_THRESHOLD,
    });
    const fuseMs = lap();
    const evidenceKeys = await this.storeEvidence(session, lines);
    const matches = await this.products.matchDetections(
      session.storeId,
      lines.map((line) => ({ gtin14: line.gtin, name: line.name, brand: line.brand })),
    );
    const items: NewItem[] = [];
    for (const [index, line] of lines.entries()) {
      let product = matches[index] ?? null;
      if (!product && cloud && line.name) {
        product = (
          await this.products.createDetectedProduct(session.storeId, {
            gtin14: line.gtin,
            name: line.name,
            brand: line.brand,
            category: line.category,
          })
        ).product;
      }
      items.push({
        productId: product?.id ?? null,
        gtin: line.gtin,
        detectedName: line.name ?? product?.name ?? null,
        detectedBrand: line.brand ?? product?.brand ?? null,
        category: line.category,
        quantity: line.quantity,
        confidence: Math.min(1, Math.max(0, line.confidence)),
        needsReview: line.needsReview,
        evidenceFrameId: line.evidence.frameId,
        evidenceBox: line.evidence.box,
        framesSeen: line.framesSeen,
        detection: { key: line.key, matchedBy: product ? ((matches[index]?.matchedBy ?? 'created') as string) : null },
        sortIndex: index,
      });
    }
    const units = items.reduce((sum, item) => sum + item.quantity, 0);
    const review = items.filter((item) => item.needsReview).length;
    await this.transactions.runAsSystem(async () => {
      for (const [frameId, key] of evidenceKeys) await this.repository.setFrameStorageKey(frameId, key);
      await this.repository.replaceItems({ id: session.sessionId, storeId: session.storeId }, items);
      const cogs = await this.credits.recordCogs({
        sessionId: session.sessionId,
        storeId: session.storeId,
        provider: String(cost.provider),
        model: cost.model,
        units: cost.units,
        costUsdMicros: cost.costUsdMicros,
        inputTokens: cost.inputTokens,
        outputTokens: cost.outputTokens,
        attempt: cost.attempts,
        success: true,
        idempotencyKey: `session:${session.sessionId}:vision`,
        metadata: { frames: inputs.length },
      });
      await this.repository.recordResults(session.sessionId, {
        provider: String(provider.getProvider()),
        model: provider.getModel(),
        framesUsed: inputs.length,
        lines: items.length,
        units,
        review,
        processingMs: Math.round(performance.now() - session.startedAt),
        costUsdMicros: cost.costUsdMicros,
        costMxnCentavos: cogs.costMxnCentavos,
        resultMessage: items.length === 0 ? TEXT.noProducts : null,
      });
      await this.sessions.transition(session.sessionId, 'READY');
      const creator = await this.repository.sessionCreator(session.sessionId);
      if (creator) {
        await this.repository.notify({
          userId: creator,
          storeId: session.storeId,
          type: 'INVENTORY_READY',
          title: TEXT.readyTitle,
          body: items.length === 0 ? TEXT.noProducts : TEXT.readyBody(items.length, units),
          data: { sessionId: session.sessionId, lines: items.length, units },
          dedupeKey: `inventory-ready:${session.sessionId}`,
        });
      }
    });
    return { detect: detectMs, fuse: fuseMs, write: lap() };
  }

  /**
   * Uploads the evidence frames that selection had not kept (the barcode provider reads every
   * sharp frame), so every line's evidence has an image. Returns frame id → storage key.
   */
  private async storeEvidence(session: ExtractedSession, lines: readonly FusedLine[]): Promise<Map<string, string>> {
    const keys = new Map<string, string>();
    const byId = new Map(session.frames.map((frame) => [frame.row.id, frame]));
    for (const line of lines) {
      const frame = line.evidence.frameId ? byId.get(line.evidence.frameId) : undefined;
      if (!frame || frame.row.storage_key || keys.has(frame.row.id)) continue;
      const key = `stores/${session.storeId}/sessions/${session.sessionId}/frames/${String(frame.row.frame_index).padStart(5, '0')}.jpg`;
      await this.storage.putFile(key, frame.path, 'image/jpeg');
      keys.set(frame.row.id, key);
    }
    return keys;
  }
}
