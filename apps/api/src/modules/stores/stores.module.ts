import { Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module.js';
import { InvitationsController } from './invitations.controller.js';
import { InvitationsRepository } from './invitations.repository.js';
import { InvitationsService } from './invitations.service.js';
import { StoreAccessService } from './store-access.service.js';
import { StoreMembersController } from './store-members.controller.js';
import { StoreMembersService } from './store-members.service.js';
import { StoresController } from './stores.controller.js';
import { StoresRepository } from './stores.repository.js';
import { StoresService } from './stores.service.js';

/**
 * Stores, their members and invitations (DESIGN.md "API modules": stores). Exports
 * `StoresService` and `StoreAccessService` (the one membership and role check other
 * modules call); never its repositories (CONVENTIONS #2).
 */
@Module({
  imports: [UsersModule],
  controllers: [StoresController, StoreMembersController, InvitationsController],
  providers: [
    StoresRepository,
    InvitationsRepository,
    StoreAccessService,
    StoresService,
    StoreMembersService,
    InvitationsService,
  ],
  exports: [StoresService, StoreAccessService],
})
export class StoresModule {}
