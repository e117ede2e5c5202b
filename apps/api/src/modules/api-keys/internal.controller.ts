import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeyAuth, CurrentApiKey, type AuthenticatedApiKey } from '../../common/auth/api-key-auth.decorator.js';
import { InternalPingSchema } from './api-keys.dto.js';
import { ApiKeysService } from './api-keys.service.js';

/** `/internal/*`: endpoints for internal services, authenticated by API key (`x-api-key`). */
@ApiTags('internal')
@Controller('internal')
export class InternalController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Get('ping')
  @ApiKeyAuth('internal:read')
  @ApiOperation({
    summary: 'Check an API key: answers with its name and scopes (scope internal:read)',
    description:
      '401 UNAUTHENTICATED without x-api-key, API_KEY_INVALID for a revoked or expired key; 403 without the scope.',
    operationId: 'internalPing',
  })
  @ApiResponse({ status: 200, standardSchema: InternalPingSchema })
  ping(@CurrentApiKey() key: AuthenticatedApiKey) {
    return this.apiKeys.ping(key);
  }
}
