import { createHash } from 'node:crypto';
import { Injectable, type ExecutionContext } from '@nestjs/common';
import {
  ThrottlerGuard,
  type ThrottlerGenerateKeyFunction,
  type ThrottlerGetTrackerFunction,
  type ThrottlerLimitDetail,
  type ThrottlerRequest,
} from '@nestjs/throttler';
import { normalizeIdentifier } from '../../modules/auth/identifier.js';
import { DomainException } from '../errors/domain.exception.js';
import { currentContext } from '../http/request-context.js';
import { RATE_LIMIT_POLICY_KEY, type RateLimitPolicy } from './rate-limit.decorator.js';

/** Names of the throttlers configured in {@link rateLimitOptions}. */
export const THROTTLERS = {
  /** Every authenticated route: per user (per API key, or per IP when anonymous). */
  general: 'default',
  /** One-time-code routes: per client IP. */
  otpIp: 'otp-ip',
  /** One-time-code routes: per normalised phone / e-mail. */
  otpIdentifier: 'otp-identifier',
} as const;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The policy of the route handling this request (see {@link OtpRateLimit}). */
export function rateLimitPolicy(context: ExecutionContext): RateLimitPolicy | undefined {
  return (Reflect.getMetadata(RATE_LIMIT_POLICY_KEY, context.getHandler()) ??
    Reflect.getMetadata(RATE_LIMIT_POLICY_KEY, context.getClass())) as RateLimitPolicy | undefined;
}

/**
 * Global rate-limit guard (`@nestjs/throttler`), run after the authentication guard
 * so the caller is known:
 * - `/api/v1` routes under the general limit, tracked per user id, per API key, or per
 *   IP for anonymous callers; one counter per caller across all routes;
 * - `@OtpRateLimit()` routes instead count per IP and per identifier (the body's
 *   `identifier`, normalised as at sign-in so `55 1234 5678` and `+525512345678` are one;
 *   an identifier that does not parse counts against the IP), per route;
 * - health, metrics and docs (outside `/api/`) are not limited.
 * Over a limit: 429 RATE_LIMITED problem+json with `Retry-After` in seconds (RFC 9110 §10.2.3).
 * Counters are keyed by SHA-256, so storage never holds a phone, e-mail or IP in clear.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<{ routeOptions?: { url?: string }; url: string }>();
    const route = request.routeOptions?.url ?? request.url;
    return !route.startsWith('/api/');
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const otp = rateLimitPolicy(props.context) === 'otp';
    const name = props.throttler.name;
    // OTP routes get the two OTP throttlers only; every other route the general one only.
    const applies = otp ? name !== THROTTLERS.general : name === THROTTLERS.general;
    if (!applies) return true;
    return super.handleRequest({
      ...props,
      getTracker: this.trackerFor(name),
      generateKey: otp ? this.perRouteKey : this.perCallerKey,
    });
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const retryAfter = Math.max(1, Math.ceil(detail.timeToBlockExpire));
    throw new DomainException('RATE_LIMITED', `Too many requests; retry in ${retryAfter} s.`, undefined, {
      'retry-after': String(retryAfter),
    });
  }

  private trackerFor(name: string | undefined): ThrottlerGetTrackerFunction {
    if (name === THROTTLERS.otpIdentifier) {
      return async (req) => {
        const raw = (req.body as { identifier?: unknown } | undefined)?.identifier;
        if (typeof raw === 'string' && raw.length <= 254) {
          try {
            return `identifier:${normalizeIdentifier(raw).value}`;
          } catch {
            // Not a phone or e-mail: the request fails validation anyway; count it against the IP.
          }
        }
        return `ip:${await this.getTracker(req)}`;
      };
    }
    if (name === THROTTLERS.otpIp) return async (req) => `ip:${await this.getTracker(req)}`;
    return async (req) => {
      const context = currentContext();
      if (context?.apiKey) return `api-key:${context.apiKey.id}`;
      if (context?.identity) return `user:${context.identity.userId}`;
      return `ip:${await this.getTracker(req)}`;
    };
  }

  private readonly perCallerKey: ThrottlerGenerateKeyFunction = (_context, tracker, name) =>
    sha256(`${name}:${tracker}`);

  private readonly perRouteKey: ThrottlerGenerateKeyFunction = (context, tracker, name) =>
    sha256(`${name}:${context.getClass().name}.${context.getHandler().name}:${tracker}`);
}
