import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { currentContext } from '../common/http/request-context.js';
import { TransactionService } from './transaction.service.js';

/**
 * Wraps each authenticated request in one transaction acting for its identity
 * (set on the request context by the authentication guard). Public routes run
 * without one. A thrown error rolls everything back, so bad input changes nothing.
 */
@Injectable()
export class RequestTransactionInterceptor implements NestInterceptor {
  constructor(private readonly transactions: TransactionService) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const identity = currentContext()?.identity;
    if (!identity) return next.handle();
    return from(this.transactions.runAs(identity, () => lastValueFrom(next.handle(), { defaultValue: undefined })));
  }
}
