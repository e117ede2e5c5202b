import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { NoRequestTransaction } from '../../database/request-transaction.interceptor.js';
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

  @Get('inventory-sessions/:id/events')
  @NoRequestTransaction()
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiProduces('text/event-stream')
  @ApiOperation({
    summary: 'Server-sent events of one inventory session: its state, progress and failure reason as they change',
    description:
      'text/event-stream. The first `state` event is the current state; then one per change (from any API or ' +
      'worker process); the stream ends after READY or FAILED. `ping` events every 25 s keep it open. ' +
      'Event data: {id, state, progress, failureCode, at}. 404 NOT_FOUND (problem+json) when the session does not ' +
      'exist or belongs to a store I am not a member of.',
    operationId: 'streamInventorySessionEvents',
  })
  @ApiResponse({ status: 200, description: 'text/event-stream of `state` and `ping` events' })
  async streamInventorySessionEvents(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', { schema: UuidParamSchema }) id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // Access is checked before anything is sent: a foreign session is a plain 404 problem.
    const events = await this.sessions.eventStream({ userId: user.userId, role: user.role }, id);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': String(request.id),
    });
    raw.write(': stream\n\n');
    const subscription = events.subscribe({
      next: (event) => raw.write(`event: ${event.type ?? 'message'}\ndata: ${JSON.stringify(event.data)}\n\n`),
      complete: () => raw.end(),
      error: () => raw.end(),
    });
    request.raw.on('close', () => subscription.unsubscribe());
  }
}
