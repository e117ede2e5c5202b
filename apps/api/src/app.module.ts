import { Module, StandardSchemaValidationPipe, type DynamicModule, type Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { AuthenticationGuard } from './common/auth/authentication.guard.js';
import { ValidationException } from './common/errors/domain.exception.js';
import { ProblemDetailsFilter } from './common/errors/problem-details.filter.js';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/env.schema.js';
import { DatabaseModule } from './database/database.module.js';
import { RequestTransactionInterceptor } from './database/request-transaction.interceptor.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';

/** Turns Standard Schema (zod) issues into field errors of a 400 VALIDATION_FAILED problem. */
export function validationExceptionFactory(issues: readonly StandardSchemaV1.Issue[]): ValidationException {
  return new ValidationException(
    issues.map((issue) => ({
      field:
        (issue.path ?? [])
          .map((segment) => (typeof segment === 'object' ? String(segment.key) : String(segment)))
          .join('.') || '(body)',
      message: issue.message,
    })),
  );
}

/** Root module: wires configuration, database, observability and the global guard, pipe, filter, interceptor. */
@Module({})
export class AppModule {
  static forRoot(options: {
    config: AppConfig;
    appUrl: string;
    connectDatabase?: boolean;
    /** Extra modules mounted beside the product's (tests only). */
    extraModules?: Type[];
  }): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(options.config),
        DatabaseModule.forRoot({
          appUrl: options.appUrl,
          poolSize: options.config.DATABASE_POOL_SIZE,
          connect: options.connectDatabase,
        }),
        MetricsModule,
        HealthModule,
        ...(options.extraModules ?? []),
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        { provide: APP_GUARD, useClass: AuthenticationGuard },
        {
          provide: APP_PIPE,
          useFactory: () => new StandardSchemaValidationPipe({ exceptionFactory: validationExceptionFactory }),
        },
        { provide: APP_INTERCEPTOR, useClass: RequestTransactionInterceptor },
      ],
    };
  }
}
