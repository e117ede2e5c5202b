import { Injectable } from '@nestjs/common';
import { StoresService } from '../stores/stores.service.js';
import { AccountService } from './account.service.js';

/**
 * Deletes an account across modules in the request's one transaction: leave (or
 * archive) every store, then erase the person's data and close their sessions.
 *
 * @throws DomainException SOLE_OWNER (409) — nothing is changed then.
 */
@Injectable()
export class AccountDeletionService {
  constructor(
    private readonly account: AccountService,
    private readonly stores: StoresService,
  ) {}

  async delete(userId: string): Promise<void> {
    await this.account.delete(userId, async (id) => {
      await this.stores.leaveAllForAccountDeletion(id);
    });
  }
}
