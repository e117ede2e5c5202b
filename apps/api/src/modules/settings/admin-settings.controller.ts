import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { Roles } from '../../common/auth/roles.decorator.js';
import {
  PutSettingSchema,
  SETTING_KEYS,
  SettingKeyParamSchema,
  SettingListSchema,
  SettingViewSchema,
  type PutSettingDto,
  type SettingKey,
} from './settings.dto.js';
import { SettingsService } from './settings.service.js';

/** `/admin/settings`: deployment settings such as the active vision provider (ADMIN only). */
@ApiTags('admin')
@ApiBearerAuth()
@Roles('ADMIN')
@Controller('admin/settings')
export class AdminSettingsController {
  constructor(private readonly settings: SettingsService) {}

  @Get()
  @ApiOperation({ summary: 'Every admin setting with its value', operationId: 'listSettings' })
  @ApiResponse({ status: 200, standardSchema: SettingListSchema })
  async listSettings() {
    return { items: await this.settings.list() };
  }

  @Put(':key')
  @ApiParam({ name: 'key', enum: SETTING_KEYS })
  @ApiBody({ schema: { $ref: '#/components/schemas/PutSetting' } })
  @ApiOperation({
    summary: 'Change a setting (audited as setting.changed)',
    description:
      'vision_provider: barcode | openai | anthropic | openai-compatible; vision_model: a model id or null; ' +
      'welcome_credits: integer 0–100. 400 VALIDATION_FAILED for a value that does not fit.',
    operationId: 'putSetting',
  })
  @ApiResponse({ status: 200, standardSchema: SettingViewSchema })
  putSetting(
    @CurrentUser() actor: AuthenticatedUser,
    @Param('key', { schema: SettingKeyParamSchema }) key: SettingKey,
    @Body({ schema: PutSettingSchema }) body: PutSettingDto,
  ) {
    return this.settings.put(actor.userId, key, body.value);
  }
}
