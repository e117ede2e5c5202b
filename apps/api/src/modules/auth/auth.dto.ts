import { z } from 'zod';
import { UserViewSchema } from '../users/user.dto.js';

const identifier = z
  .string()
  .trim()
  .min(3)
  .max(254)
  .describe('Phone number (Mexican numbers without +52 are accepted, e.g. "55 1234 5678") or e-mail address');

/** `POST /auth/otp/request` body. */
export const OtpRequestSchema = z.strictObject({ identifier }).meta({ id: 'OtpRequest' });
export type OtpRequestDto = z.infer<typeof OtpRequestSchema>;

/** `POST /auth/otp/request` answer (202): where the code went and its timings in seconds. */
export const OtpChallengeSchema = z
  .object({
    channel: z.enum(['SMS', 'EMAIL']),
    expiresIn: z.number().int().describe('seconds the code stays valid'),
    resendAfter: z.number().int().describe('seconds before another code may be asked for'),
  })
  .meta({ id: 'OtpChallenge' });

/** `POST /auth/otp/verify` body. */
export const OtpVerifySchema = z
  .strictObject({
    identifier,
    code: z
      .string()
      .trim()
      .regex(/^\d{6}$/, 'six digits'),
    referralCode: z
      .string()
      .trim()
      .toUpperCase()
      .regex(/^[A-Z0-9]{4,16}$/, '4–16 letters or digits')
      .optional()
      .describe('Referral code of the person who invited this one; kept for the referrals programme'),
  })
  .meta({ id: 'OtpVerify' });
export type OtpVerifyDto = z.infer<typeof OtpVerifySchema>;

/** Tokens of a session. */
export const TokenPairSchema = z
  .object({
    accessToken: z.string().describe('JWT (EdDSA), send as "Authorization: Bearer …"'),
    refreshToken: z.string().describe('opaque; single use: every refresh returns a new one'),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().describe('access-token lifetime in seconds'),
    refreshExpiresIn: z.number().int().describe('refresh-token lifetime in seconds'),
    sessionId: z.uuid(),
  })
  .meta({ id: 'TokenPair' });

/** `POST /auth/otp/verify` answer: tokens, the account, and whether it was just created. */
export const SignInResultSchema = TokenPairSchema.extend({ user: UserViewSchema, isNewUser: z.boolean() }).meta({
  id: 'SignInResult',
});

/** `POST /auth/refresh` body. */
export const RefreshSchema = z
  .strictObject({ refreshToken: z.string().min(10).max(200) })
  .meta({ id: 'RefreshRequest' });
export type RefreshDto = z.infer<typeof RefreshSchema>;

/** `POST /auth/logout` body: this session only, or every session of the account. */
export const LogoutSchema = z
  .strictObject({ allSessions: z.boolean().optional().describe('true: sign out everywhere (default false)') })
  .optional()
  .meta({ id: 'LogoutRequest' });
export type LogoutDto = z.infer<typeof LogoutSchema>;

/** One signed-in device. */
export const SessionViewSchema = z
  .object({
    id: z.uuid(),
    startedAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable(),
    expiresAt: z.iso.datetime(),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    current: z.boolean().describe('the session of the token that asked'),
  })
  .meta({ id: 'Session' });

export const SessionListSchema = z.object({ items: z.array(SessionViewSchema) }).meta({ id: 'SessionList' });

/** `DELETE /auth/sessions/{id}` path. */
export { UuidParamSchema as SessionIdParamSchema } from '../../common/http/params.js';
