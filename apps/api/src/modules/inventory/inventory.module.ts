import { Module } from '@nestjs/common';
import { CreditsModule } from '../credits/credits.module.js';
import { StoresModule } from '../stores/stores.module.js';
import { InventorySessionController } from './inventory-session.controller.js';
import { InventorySessionRepository } from './inventory-session.repository.js';
import { InventorySessionService } from './inventory-session.service.js';
import { SessionEventsService } from './session-events.service.js';

/**
 * Inventory sessions (DESIGN.md "API modules": inventory; issues 4 and 5): start, history,
 * state machine. Exports its service only (CONVENTIONS #2): the upload, queue and vision
 * workers move sessions through {@link InventorySessionService.transition}.
 */
@Module({
  imports: [StoresModule, CreditsModule],
  controllers: [InventorySessionController],
  providers: [InventorySessionRepository, InventorySessionService, SessionEventsService],
  exports: [InventorySessionService],
})
export class InventoryModule {}
