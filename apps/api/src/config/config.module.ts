import { Global, Module, type DynamicModule } from '@nestjs/common';
import { CLOCK, SystemClock, type Clock } from '../common/time/clock.js';
import type { AppConfig } from './env.schema.js';

/** Injection token for the parsed {@link AppConfig}. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/**
 * Provides the configuration parsed once at boot (see `loadConfig`) to every module
 * under the {@link APP_CONFIG} token, and the {@link CLOCK}.
 */
@Global()
@Module({})
export class ConfigModule {
  /** @param clock the time source (tests pass a controllable one). */
  static forRoot(config: AppConfig, clock: Clock = new SystemClock()): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
      ],
      exports: [APP_CONFIG, CLOCK],
    };
  }
}
