import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { CreditsModule } from '../credits/credits.module.js';
import { InventoryModule } from '../inventory/inventory.module.js';
import { ProductsModule } from '../products/products.module.js';
import { SettingsModule } from '../settings/settings.module.js';
import { VideosModule } from '../videos/videos.module.js';
import { closeBarcodeDecoders } from '../vision/providers/barcode.provider.js';
import { ConfiguredVisionProviderFactory } from '../vision/vision-provider.factory.js';
import { VISION_PROVIDER_FACTORY } from '../vision/vision-provider.port.js';
import { AnalysisRepository } from './analysis.repository.js';
import { ReportController } from './report.controller.js';
import { ReportRepository } from './report.repository.js';
import { ReportService } from './report.service.js';
import { SessionAnalysisService } from './session-analysis.service.js';

/**
 * The analysis step of the pipeline (issue 6): vision provider → fusion → catalogue matching →
 * report lines, COGS, READY, notification. Plugs itself into the videos pipeline at init.
 */
@Module({
  imports: [VideosModule, InventoryModule, ProductsModule, SettingsModule, CreditsModule],
  controllers: [ReportController],
  providers: [
    AnalysisRepository,
    ReportRepository,
    ReportService,
    SessionAnalysisService,
    { provide: VISION_PROVIDER_FACTORY, useClass: ConfiguredVisionProviderFactory },
  ],
  exports: [AnalysisRepository, ReportService],
})
export class AnalysisModule implements OnApplicationShutdown {
  /** Stops the barcode decoder threads (idle ones never keep the process alive; this frees them early). */
  async onApplicationShutdown(): Promise<void> {
    await closeBarcodeDecoders();
  }
}
