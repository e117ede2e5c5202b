import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { InvitationsService } from './invitations.service.js';
import {
  CreateInvitationSchema,
  InvitationListSchema,
  InvitationViewSchema,
  MyInvitationListSchema,
  StoreViewSchema,
  UuidParamSchema,
  type CreateInvitationDto,
} from './stores.dto.js';

/**
 * Invitations: a store's OWNERs invite, list and revoke (`/stores/{storeId}/invitations`);
 * the invitee lists theirs (`/me/invitations`) and accepts (`/invitations/{id}/accept`).
 */
@ApiTags('stores')
@ApiBearerAuth()
@Controller()
export class InvitationsController {
  constructor(private readonly invitations: InvitationsService) {}

  @Post('stores/:storeId/invitations')
  @HttpCode(201)
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: 'Invite a phone number or e-mail to a store as OWNER or OPERATOR (OWNER)',
    description:
      'Sends a Spanish SMS or e-mail with an accept link; valid 7 days. Inviting the same person again replaces ' +
      'the pending invitation. 403 FORBIDDEN for an OPERATOR; 409 ALREADY_MEMBER.',
    operationId: 'createStoreInvitation',
  })
  @ApiResponse({ status: 201, standardSchema: InvitationViewSchema })
  createStoreInvitation(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Body({ schema: CreateInvitationSchema }) body: CreateInvitationDto,
  ) {
    return this.invitations.invite(user.userId, storeId, body);
  }

  @Get('stores/:storeId/invitations')
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiOperation({
    summary: 'Invitations of a store not yet accepted or revoked (OWNER)',
    operationId: 'listStoreInvitations',
  })
  @ApiResponse({ status: 200, standardSchema: InvitationListSchema })
  async listStoreInvitations(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
  ) {
    return { items: await this.invitations.listForStore(user.userId, storeId) };
  }

  @Delete('stores/:storeId/invitations/:invitationId')
  @HttpCode(204)
  @ApiParam({ name: 'storeId', format: 'uuid' })
  @ApiParam({ name: 'invitationId', format: 'uuid' })
  @ApiOperation({ summary: 'Revoke a pending invitation (OWNER)', operationId: 'revokeStoreInvitation' })
  async revokeStoreInvitation(
    @CurrentUser() user: AuthenticatedUser,
    @Param('storeId', { schema: UuidParamSchema }) storeId: string,
    @Param('invitationId', { schema: UuidParamSchema }) invitationId: string,
  ) {
    await this.invitations.revoke(user.userId, storeId, invitationId);
  }

  @Get('me/invitations')
  @ApiOperation({
    summary: 'Invitations addressed to my verified phone or e-mail, still open',
    operationId: 'listMyInvitations',
  })
  @ApiResponse({ status: 200, standardSchema: MyInvitationListSchema })
  async listMyInvitations(@CurrentUser() user: AuthenticatedUser) {
    return { items: await this.invitations.listMine(user.userId) };
  }

  @Post('invitations/:id/accept')
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary: 'Accept an invitation addressed to me: I join the store with its role',
    description:
      'Idempotent: accepting again while still a member answers the same. 404 NOT_FOUND when the invitation is ' +
      'not addressed to my phone or e-mail (or was revoked); 410 INVITATION_EXPIRED after 7 days.',
    operationId: 'acceptInvitation',
  })
  @ApiResponse({ status: 200, standardSchema: StoreViewSchema })
  acceptInvitation(@CurrentUser() user: AuthenticatedUser, @Param('id', { schema: UuidParamSchema }) id: string) {
    return this.invitations.accept(user.userId, id);
  }
}
