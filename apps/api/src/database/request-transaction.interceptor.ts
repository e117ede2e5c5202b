import { Injectable, SetMetadata, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { currentContext } from '../common/http/request-context.js';
import { TransactionService } from './transaction.service.js';

export const NO_REQUEST_TRANSACTION_KEY = 'miinventario:noRequestTransaction';

/**
 * Marks a route whose response lasts long (a tus upload PATCH streaming a video, a
 * server-sent-events stream): it gets no request-wide transaction, so it holds no database
 * connection while the client is slow. Such a handler opens its own short transactions
 * (`TransactionService.runAs` with the request identity).
 */
export const NoRequestTransaction = (): MethodDecorator & ClassDecorator =>
  SetMetadata(NO_REQUEST_TRANSACTION_KEY, true);

/**
 * Wraps each authenticated request in one transaction acting for its identity
 * (set on the request context by the authentication guard). Public routes, and routes marked
 * {@link NoRequestTransaction}, run without one. A thrown error rolls everything back, so bad
 * input changes nothing.
 */
@Injectable()
export class RequestTransactionInterceptor implements NestInterceptor {
  constructor(
    private readonly transactions: TransactionService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const identity = currentContext()?.identity;
    if (!identity) return next.handle();
    if (
      this.reflector.getAllAndOverride<boolean>(NO_REQUEST_TRANSACTION_KEY, [context.getHandler(), context.getClass()])
    ) {
      return next.handle();
    }
    return from(this.transactions.runAs(identity, () => lastValueFrom(next.handle(), { defaultValue: undefined })));
  }
}
