import { Global, Module } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { AUTH_SECRETS, resolveAuthSecrets } from './auth-secrets.js';
import { OtpRepository } from './otp.repository.js';
import { OtpService } from './otp.service.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';
import { TokenService } from './token.service.js';

/**
 * The parts of authentication other modules and the global guard use: access
 * tokens, sessions and one-time codes. Global so the guard and the users module
 * reach them without importing the auth controller's module.
 */
@Global()
@Module({
  providers: [
    { provide: AUTH_SECRETS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => resolveAuthSecrets(config) },
    TokenService,
    SessionsRepository,
    SessionsService,
    OtpRepository,
    OtpService,
  ],
  exports: [TokenService, SessionsService, OtpService],
})
export class AuthCoreModule {}
