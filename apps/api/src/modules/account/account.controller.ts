import { Body, Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { OtpChallengeSchema } from '../auth/auth.dto.js';
import { UserViewSchema } from '../users/user.dto.js';
import {
  ContactChangeRequestSchema,
  ContactChangeVerifySchema,
  UpdateMeSchema,
  type ContactChangeRequestDto,
  type ContactChangeVerifyDto,
  type UpdateMeDto,
} from './account.dto.js';
import { AccountDeletionService } from './account-deletion.service.js';
import { AccountService } from './account.service.js';

@ApiTags('me')
@ApiBearerAuth()
@Controller('me')
export class AccountController {
  constructor(
    private readonly account: AccountService,
    private readonly deletion: AccountDeletionService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'My account', operationId: 'getMe' })
  @ApiResponse({ status: 200, standardSchema: UserViewSchema })
  me(@CurrentUser() user: AuthenticatedUser) {
    return this.account.me(user.userId);
  }

  @Patch()
  @ApiOperation({ summary: 'Change my name or language', operationId: 'updateMe' })
  @ApiResponse({ status: 200, standardSchema: UserViewSchema })
  update(@CurrentUser() user: AuthenticatedUser, @Body({ schema: UpdateMeSchema }) body: UpdateMeDto) {
    return this.account.update(user.userId, body);
  }

  @Delete()
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete my account (personal data erased; ledger history kept anonymously)',
    description: '409 SOLE_OWNER while I am the only owner of a store that has other members.',
    operationId: 'deleteMe',
  })
  async remove(@CurrentUser() user: AuthenticatedUser) {
    await this.deletion.delete(user.userId);
  }

  @Post('contact')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a code to a new phone or e-mail for my account', operationId: 'requestContactChange' })
  @ApiResponse({ status: 202, standardSchema: OtpChallengeSchema })
  requestContact(
    @CurrentUser() user: AuthenticatedUser,
    @Body({ schema: ContactChangeRequestSchema }) body: ContactChangeRequestDto,
  ) {
    return this.account.requestContactChange(user.userId, body);
  }

  @Post('contact/verify')
  @HttpCode(200)
  @ApiOperation({ summary: 'Confirm the new phone or e-mail with its code', operationId: 'verifyContactChange' })
  @ApiResponse({ status: 200, standardSchema: UserViewSchema })
  verifyContact(
    @CurrentUser() user: AuthenticatedUser,
    @Body({ schema: ContactChangeVerifySchema }) body: ContactChangeVerifyDto,
  ) {
    return this.account.verifyContactChange(user.userId, body);
  }
}
