import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Roles } from '../../common/auth/roles.decorator.js';
import {
  ApiKeyIdParamSchema,
  ApiKeyListSchema,
  CreateApiKeySchema,
  CreatedApiKeySchema,
  type CreateApiKeyDto,
} from './api-keys.dto.js';
import { ApiKeysService } from './api-keys.service.js';

/** `/admin/api-keys`: API keys of internal services and webhook relays (ADMIN only). */
@ApiTags('admin')
@ApiBearerAuth()
@Roles('ADMIN')
@Controller('admin/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create an API key; the answer shows its secret once',
    description: 'Store the `key` now: only its SHA-256 is kept. Audited as api_key.created.',
    operationId: 'createApiKey',
  })
  @ApiResponse({ status: 201, standardSchema: CreatedApiKeySchema })
  create(@Body({ schema: CreateApiKeySchema }) body: CreateApiKeyDto) {
    return this.apiKeys.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List API keys (never their secrets), newest first', operationId: 'listApiKeys' })
  @ApiResponse({ status: 200, standardSchema: ApiKeyListSchema })
  async list() {
    return { items: await this.apiKeys.list() };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'Revoke an API key; it stops working at once (401 API_KEY_INVALID)',
    description: 'Idempotent. Audited as api_key.revoked.',
    operationId: 'revokeApiKey',
  })
  async revoke(@Param('id', { schema: ApiKeyIdParamSchema }) id: string) {
    await this.apiKeys.revoke(id);
  }
}
