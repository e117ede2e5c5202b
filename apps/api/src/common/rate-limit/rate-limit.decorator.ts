import { SetMetadata } from '@nestjs/common';

export const RATE_LIMIT_POLICY_KEY = 'miinventario:rateLimitPolicy';

/** Which limits a route gets: `otp` = per IP and per identifier (sign-in codes); default = per caller. */
export type RateLimitPolicy = 'otp';

/**
 * Puts a route under the one-time-code limits instead of the general per-caller one:
 * RATE_LIMIT_OTP_IP_MAX requests per IP and RATE_LIMIT_OTP_IDENTIFIER_MAX per
 * normalised identifier (body field `identifier`) in RATE_LIMIT_OTP_WINDOW_SECONDS.
 * Over either limit: 429 RATE_LIMITED with `Retry-After` (OWASP ASVS 5.0 V6.3).
 */
export const OtpRateLimit = (): MethodDecorator & ClassDecorator => SetMetadata(RATE_LIMIT_POLICY_KEY, 'otp');
