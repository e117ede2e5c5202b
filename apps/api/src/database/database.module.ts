import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { APP_DATA_SOURCE, APP_DATABASE_URL } from './database.constants.js';
import { createAppDataSource } from './data-sources.js';
import { TransactionService } from './transaction.service.js';

/**
 * Provides the application-role DataSource ({@link APP_DATA_SOURCE}) and the
 * {@link TransactionService}. The schema must already be migrated (see
 * `prepareDatabase`); the pool is closed on shutdown.
 */
@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(APP_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /**
   * @param options.connect false builds the DataSource without opening the pool
   *   (OpenAPI generation needs the app's routes, not a database).
   */
  static forRoot(options: { appUrl: string; poolSize: number; connect?: boolean }): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: APP_DATA_SOURCE,
          useFactory: async () => {
            const dataSource = createAppDataSource(options.appUrl, options.poolSize);
            return options.connect === false ? dataSource : dataSource.initialize();
          },
        },
        { provide: APP_DATABASE_URL, useValue: options.appUrl },
        TransactionService,
      ],
      exports: [APP_DATA_SOURCE, APP_DATABASE_URL, TransactionService],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
