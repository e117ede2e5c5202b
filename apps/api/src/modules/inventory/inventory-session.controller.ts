import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import {
  LIST_SESSIONS_QUERY_DOCS,
  ListSessionsQuerySchema,
  SessionPageSchema,
  SessionViewSchema,
  StartSessionBodySchema,
  UuidParamSchema,
  type ListSessionsQueryDto,
  type StartSessionDto,
} from './inventory-session.dto.js';
import { InventorySessionService } from './inventory-session.service.js';

/**
 * Inventory sessions (DESIGN.md "API surface"): start one in a store, the store's history,
 * one session. State changes come from the upload and the workers, not from this controller.
 */
@ApiTags('inventory')
@ApiBearerAuth()
@Controller()
export class InventorySessionController {
  constructor(private readonly sessions: InventorySessionService) {}

  @Post('stores/:storeId/inventory-sessions')
  @HttpCode(201)
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: "Start an inventory in a store (OWNER or OPERATOR): holds one of the store owner's credits",
    description:
      'The session starts in CREATED; upload its video next. An OPERATOR spends the store owner’s credits. ' +
      'With an idempotencyKey, sending the request again returns the same session and holds no second credit. ' +
      '402 INSUFFICIENT_CREDITS when the owner has no available credit (nothing is created); 404 NOT_FOUND when ' +
      'I am not a member of the store.',
    operationId: 'startInventorySession',
  })
  @ApiBody({ required: false, schema: { $ref: '#/components/schemas/StartInventorySession' } })
  @ApiResponse({ status: 201, standardSchema: SessionViewSchema })
  startInventorySession(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Body({ schema: StartSessionBodySchema }) body: StartSessionDto,
  ) {
    return this.sessions.start(user.userId, storeId, body);
  }

  @Get('stores/:storeId/inventory-sessions')
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: "A store's inventory sessions, newest first (cursor pagination, filter by state)",
    description: '404 NOT_FOUND when I am not a member of the store.',
    operationId: 'listInventorySessions',
  })
  @ApiQuery(LIST_SESSIONS_QUERY_DOCS.limit)
  @ApiQuery(LIST_SESSIONS_QUERY_DOCS.cursor)
  @ApiQuery(LIST_SESSIONS_QUERY_DOCS.state)
  @ApiResponse({ status: 200, standardSchema: SessionPageSchema })
  listInventorySessions(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Query({ schema: ListSessionsQuerySchema }) query: ListSessionsQueryDto,
  ) {
    return this.sessions.list(user.userId, storeId, query);
  }

  @Get('inventory-sessions/:id')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'One inventory session: state, failure reason, timestamps',
    description: '404 NOT_FOUND when it does not exist or belongs to a store I am not a member of.',
    operationId: 'getInventorySession',
  })
  @ApiResponse({ status: 200, standardSchema: SessionViewSchema })
  getInventorySession(@CurrentUser() user: AuthenticatedUser, @Param('id', { schema: UuidParamSchema }) id: string) {
    return this.sessions.get(user.userId, id);
  }
}
