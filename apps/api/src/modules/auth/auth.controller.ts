import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '../../common/auth/current-user.decorator.js';
import { Public } from '../../common/auth/public.decorator.js';
import { OtpRateLimit } from '../../common/rate-limit/rate-limit.decorator.js';
import {
  LogoutSchema,
  OtpChallengeSchema,
  OtpRequestSchema,
  OtpVerifySchema,
  RefreshSchema,
  SessionIdParamSchema,
  SessionListSchema,
  SignInResultSchema,
  TokenPairSchema,
  type LogoutDto,
  type OtpRequestDto,
  type OtpVerifyDto,
  type RefreshDto,
} from './auth.dto.js';
import { AuthService } from './auth.service.js';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @OtpRateLimit()
  @Post('otp/request')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send a one-time code to a phone (SMS) or e-mail',
    description:
      'Same answer for known and unknown identifiers. 429 OTP_RESEND_TOO_SOON / OTP_LOCKED, or RATE_LIMITED (per IP and per identifier), with Retry-After.',
    operationId: 'requestOtp',
  })
  @ApiResponse({ status: 202, standardSchema: OtpChallengeSchema })
  requestOtp(@Body({ schema: OtpRequestSchema }) body: OtpRequestDto) {
    return this.auth.requestCode(body);
  }

  @Public()
  @OtpRateLimit()
  @Post('otp/verify')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Verify the code: sign in, or sign up on first use',
    description:
      '401 OTP_INVALID for any wrong, expired or used code; 429 OTP_LOCKED after repeated failures, RATE_LIMITED per IP and per identifier.',
    operationId: 'verifyOtp',
  })
  @ApiResponse({ status: 200, standardSchema: SignInResultSchema })
  verifyOtp(@Body({ schema: OtpVerifySchema }) body: OtpVerifyDto) {
    return this.auth.verifyCode(body);
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate tokens: the refresh token is spent and a new pair returned',
    description: 'Reusing a spent refresh token closes the whole session (401 REFRESH_TOKEN_REUSED).',
    operationId: 'refreshTokens',
  })
  @ApiResponse({ status: 200, standardSchema: TokenPairSchema })
  refresh(@Body({ schema: RefreshSchema }) body: RefreshDto) {
    return this.auth.refresh(body.refreshToken);
  }

  @ApiBearerAuth()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out this session, or every session with allSessions', operationId: 'logout' })
  async logout(@CurrentUser() user: AuthenticatedUser, @Body({ schema: LogoutSchema }) body: LogoutDto) {
    await this.auth.logout(user.userId, user.sessionId, body?.allSessions ?? false);
  }

  @ApiBearerAuth()
  @Get('sessions')
  @ApiOperation({ summary: 'List my open sessions (devices)', operationId: 'listSessions' })
  @ApiResponse({ status: 200, standardSchema: SessionListSchema })
  async sessions(@CurrentUser() user: AuthenticatedUser) {
    return { items: await this.auth.listSessions(user.userId, user.sessionId) };
  }

  @ApiBearerAuth()
  @Delete('sessions/:id')
  @HttpCode(204)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'Close one of my sessions; its tokens stop working at once', operationId: 'revokeSession' })
  async revokeSession(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', { schema: SessionIdParamSchema }) id: string,
  ) {
    await this.auth.revokeSession(user.userId, id);
  }
}
