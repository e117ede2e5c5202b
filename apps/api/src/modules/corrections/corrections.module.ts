import { Module } from '@nestjs/common';
import { AnalysisModule } from '../analysis/analysis.module.js';
import { InventoryModule } from '../inventory/inventory.module.js';
import { ProductsModule } from '../products/products.module.js';
import { CorrectionsController } from './corrections.controller.js';
import { CorrectionsRepository } from './corrections.repository.js';
import { CorrectionsService } from './corrections.service.js';
import { DiffService } from './diff.service.js';
import { GroundTruthController } from './ground-truth.controller.js';
import { GroundTruthService } from './ground-truth.service.js';

/**
 * Feedback (DESIGN.md "API modules": feedback; issue 6 "Corrections", "Count-to-count diff"):
 * corrections of report lines with their ground truth, the diff between two counts of a store,
 * and the admins' ground-truth export. Reads reports through {@link ReportService}
 * (AnalysisModule), sessions through InventorySessionService, products through ProductsService;
 * audit and object storage are global. Exports its services only (CONVENTIONS #2).
 */
@Module({
  imports: [InventoryModule, AnalysisModule, ProductsModule],
  controllers: [CorrectionsController, GroundTruthController],
  providers: [CorrectionsRepository, CorrectionsService, DiffService, GroundTruthService],
  exports: [CorrectionsService, DiffService],
})
export class CorrectionsModule {}
