import { Module } from '@nestjs/common';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { InternalController } from './internal.controller.js';

/**
 * API keys: admin management (`/admin/api-keys`), checking by the global guard, and the
 * internal routes they open (`/internal/ping`). Exports its service only (CONVENTIONS #2).
 */
@Module({
  controllers: [ApiKeysController, InternalController],
  providers: [ApiKeysRepository, ApiKeysService],
  exports: [ApiKeysService],
})
export class ApiKeysModule {}
