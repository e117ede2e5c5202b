import { Injectable } from '@nestjs/common';
import { CreditsRepository } from './credits.repository.js';

/** Credit wallets (one per user, integers in credits). The ledger, holds and packages come with issue 4. */
@Injectable()
export class CreditsService {
  constructor(private readonly credits: CreditsRepository) {}

  /** Opens the wallet of a new user (idempotent); returns the wallet id. */
  openWallet(userId: string): Promise<string> {
    return this.credits.openWallet(userId);
  }
}
