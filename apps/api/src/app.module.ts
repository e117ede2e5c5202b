import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { AuthenticationGuard } from './common/auth/authentication.guard.js';
import { RateLimitGuard } from './common/rate-limit/rate-limit.guard.js';
import { RateLimitModule } from './common/rate-limit/rate-limit.module.js';
import { ProblemDetailsFilter } from './common/errors/problem-details.filter.js';
import { ApiValidationPipe } from './common/http/validation.pipe.js';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/env.schema.js';
import { DatabaseModule } from './database/database.module.js';
import { RequestTransactionInterceptor } from './database/request-transaction.interceptor.js';
import { HealthModule } from './health/health.module.js';
import { AdminModule } from './modules/admin/admin.module.js';
import { ApiKeysModule } from './modules/api-keys/api-keys.module.js';
import { AccountModule } from './modules/account/account.module.js';
import { AuditModule } from './modules/audit/audit.module.js';
import { AuthCoreModule } from './modules/auth/auth-core.module.js';
import { AuthModule } from './modules/auth/auth.module.js';
import { CorrectionsModule } from './modules/corrections/corrections.module.js';
import { DevModule } from './modules/dev/dev.module.js';
import { InventoryModule } from './modules/inventory/inventory.module.js';
import { ProductsModule } from './modules/products/products.module.js';
import { AnalysisModule } from './modules/analysis/analysis.module.js';
import { SettingsModule } from './modules/settings/settings.module.js';
import { VideosModule } from './modules/videos/videos.module.js';
import { QueueModule } from './modules/queue/queue.module.js';
import { devOutboxEnabled, NotificationsModule } from './modules/notifications/notifications.module.js';
import { StorageModule } from './modules/storage/storage.module.js';
import { StoresModule } from './modules/stores/stores.module.js';
import { UsersModule } from './modules/users/users.module.js';
import type { Clock } from './common/time/clock.js';
import { MetricsModule } from './metrics/metrics.module.js';

/** Root module: wires configuration, database, observability and the global guard, pipe, filter, interceptor. */
@Module({})
export class AppModule {
  static forRoot(options: {
    config: AppConfig;
    appUrl: string;
    connectDatabase?: boolean;
    /** Extra modules mounted beside the product's (tests only). */
    extraModules?: Type[];
    /** Time source (tests pass a controllable clock). */
    clock?: Clock;
  }): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(options.config, options.clock),
        DatabaseModule.forRoot({
          appUrl: options.appUrl,
          poolSize: options.config.DATABASE_POOL_SIZE,
          connect: options.connectDatabase,
        }),
        MetricsModule,
        HealthModule,
        AuditModule,
        NotificationsModule.forRoot(options.config),
        AuthCoreModule,
        AuthModule,
        UsersModule,
        AccountModule,
        StorageModule,
        QueueModule,
        StoresModule,
        InventoryModule,
        ProductsModule,
        SettingsModule,
        VideosModule,
        AnalysisModule,
        CorrectionsModule,
        ApiKeysModule,
        AdminModule,
        RateLimitModule,
        ...(devOutboxEnabled(options.config) ? [DevModule] : []),
        ...(options.extraModules ?? []),
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        { provide: APP_GUARD, useClass: AuthenticationGuard },
        // After authentication, so the general limit counts per user / API key (per IP when anonymous).
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_PIPE, useClass: ApiValidationPipe },
        { provide: APP_INTERCEPTOR, useClass: RequestTransactionInterceptor },
      ],
    };
  }
}
