import { Injectable } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { DomainException } from '../common/errors/domain.exception.js';
import { TransactionService } from '../database/transaction.service.js';

/** Liveness and readiness of this process (DESIGN.md "Observability"). */
@Injectable()
export class HealthService {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly transactions: TransactionService,
  ) {}

  /** The process is up and its event loop answers. */
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Ready to serve: the database answers `SELECT 1` within 3 s (Redis and storage
   * join this check when their modules arrive).
   *
   * @throws DomainException NOT_READY (503) naming the failing dependencies.
   */
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.database()]);
    } catch (error) {
      const details = (error as { response?: { error?: Record<string, { message?: string }> } }).response?.error ?? {};
      const failing = Object.entries(details)
        .map(([name, value]) => `${name}: ${value.message ?? 'down'}`)
        .join('; ');
      throw new DomainException('NOT_READY', `Not ready: ${failing || 'a dependency is down'}.`, undefined, {
        'retry-after': '5',
      });
    }
  }

  private async database() {
    const indicator = this.indicators.check('database');
    try {
      await Promise.race([
        this.transactions.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout after 3000 ms')), 3000).unref()),
      ]);
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
