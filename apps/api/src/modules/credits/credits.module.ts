import { Module } from '@nestjs/common';
import { CreditsAdminController } from './credits-admin.controller.js';
import { CreditsController } from './credits.controller.js';
import { CreditsRepository } from './credits.repository.js';
import { CreditsService } from './credits.service.js';

/**
 * Credits: wallets, the append-only ledger, holds, packages, welcome credits and COGS
 * (issue 4). Exports its service only (CONVENTIONS #2): payments, referrals and inventory
 * call {@link CreditsService}.
 */
@Module({
  controllers: [CreditsController, CreditsAdminController],
  providers: [CreditsRepository, CreditsService],
  exports: [CreditsService],
})
export class CreditsModule {}
