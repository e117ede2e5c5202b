import { Module } from '@nestjs/common';
import { StoresModule } from '../stores/stores.module.js';
import { CatalogSeederService } from './catalog-seeder.service.js';
import { ProductsController } from './products.controller.js';
import { ProductsRepository } from './products.repository.js';
import { ProductsService } from './products.service.js';

/**
 * The products catalogue (issue 6): global catalogue seeded at start
 * ({@link CatalogSeederService}, an `onApplicationBootstrap` hook), store products and
 * detection matching. Exports its service only (CONVENTIONS #2): the vision pipeline calls
 * {@link ProductsService.matchDetections} and {@link ProductsService.createDetectedProduct}.
 */
@Module({
  imports: [StoresModule],
  controllers: [ProductsController],
  providers: [ProductsRepository, ProductsService, CatalogSeederService],
  exports: [ProductsService],
})
export class ProductsModule {}
