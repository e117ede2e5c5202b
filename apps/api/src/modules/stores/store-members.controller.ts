import { Body, Controller, Delete, Get, HttpCode, Param, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { StoreMembersService } from './store-members.service.js';
import {
  ChangeMemberRoleSchema,
  MemberListSchema,
  MemberViewSchema,
  UuidParamSchema,
  type ChangeMemberRoleDto,
} from './stores.dto.js';

/** `/stores/{storeId}/members`: list (any member), change a role and remove (OWNER), leave (myself). */
@ApiTags('stores')
@ApiBearerAuth()
@ApiParam({ name: 'storeId', format: 'uuid' })
@Controller('stores/:storeId/members')
export class StoreMembersController {
  constructor(private readonly members: StoreMembersService) {}

  @Get()
  @ApiOperation({
    summary: 'Members of a store, OWNERs first',
    description: '404 NOT_FOUND when I am not a member.',
    operationId: 'listStoreMembers',
  })
  @ApiResponse({ status: 200, standardSchema: MemberListSchema })
  async listStoreMembers(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
  ) {
    return { items: await this.members.list(user.userId, storeId) };
  }

  @Patch(':userId')
  @ApiParam({ name: 'userId', format: 'uuid' })
  @ApiOperation({
    summary: 'Change the role of a member (OWNER)',
    description: '403 FORBIDDEN for an OPERATOR; 409 LAST_OWNER when it would leave the store without an OWNER.',
    operationId: 'changeStoreMemberRole',
  })
  @ApiResponse({ status: 200, standardSchema: MemberViewSchema })
  changeStoreMemberRole(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Param('userId', { schema: UuidParamSchema }) memberId: string,
    @Body({ schema: ChangeMemberRoleSchema }) body: ChangeMemberRoleDto,
  ) {
    return this.members.changeRole(user.userId, storeId, memberId, body.role);
  }

  @Delete(':userId')
  @HttpCode(204)
  @ApiParam({ name: 'userId', format: 'uuid' })
  @ApiOperation({
    summary: 'Remove a member (OWNER), or leave the store (my own user id)',
    description:
      'The member loses access on their next request. 403 FORBIDDEN for an OPERATOR removing someone else; ' +
      '409 LAST_OWNER for the only OWNER.',
    operationId: 'removeStoreMember',
  })
  async removeStoreMember(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Param('userId', { schema: UuidParamSchema }) memberId: string,
  ) {
    await this.members.remove(user.userId, storeId, memberId);
  }
}
