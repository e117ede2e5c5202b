import { Module } from '@nestjs/common';
import { StoresModule } from '../stores/stores.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccountDeletionService } from './account-deletion.service.js';
import { AccountController } from './account.controller.js';
import { AccountService } from './account.service.js';

/** `/me`: the signed-in person's profile, contact changes and account deletion. */
@Module({
  imports: [UsersModule, StoresModule],
  controllers: [AccountController],
  providers: [AccountService, AccountDeletionService],
})
export class AccountModule {}
