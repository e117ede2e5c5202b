import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { UuidParamSchema } from '../../common/http/params.js';
import { SessionMediaSchema } from './session-media.dto.js';
import { SessionMediaService } from './session-media.service.js';

/** The video, kept frames and artifacts of an inventory session. */
@ApiTags('inventory')
@ApiBearerAuth()
@Controller('inventory-sessions')
export class SessionMediaController {
  constructor(private readonly media: SessionMediaService) {}

  @Get(':id/media')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'The video of an inventory session (what ffprobe read) and its kept frames, thumbnail and contact sheet',
    description:
      'URLs are signed and expire (OBJECT_URL_TTL_SECONDS, 15 min by default). 404 NOT_FOUND when the session does ' +
      'not exist or belongs to a store I am not a member of.',
    operationId: 'getInventorySessionMedia',
  })
  @ApiResponse({ status: 200, standardSchema: SessionMediaSchema })
  getInventorySessionMedia(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', { schema: UuidParamSchema }) id: string,
  ) {
    return this.media.forSession(user.userId, id);
  }
}
