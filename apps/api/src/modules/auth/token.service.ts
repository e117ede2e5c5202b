import { createHash, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { DomainException } from '../../common/errors/domain.exception.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { AUTH_SECRETS, type AuthSecrets } from './auth-secrets.js';

/** The one signing algorithm: EdDSA over Ed25519 (RFC 8037). The verifier accepts nothing else. */
export const ACCESS_TOKEN_ALGORITHM = 'EdDSA';

/** Platform roles (DESIGN.md "API modules": users). */
export type PlatformRole = 'USER' | 'OWNER' | 'OPERATOR' | 'ADMIN';

/** Claims of a verified access token. `sid` is the session (refresh-token family) id. */
export interface AccessTokenClaims {
  userId: string;
  sessionId: string;
  role: PlatformRole;
  /** Expiry, seconds since the epoch. */
  expiresAt: number;
}

/**
 * Signs and verifies access tokens: JWT (RFC 7519), EdDSA only, 15 minutes, with
 * `iss`, `aud`, `sub` (user id), `sid` (session id), `role`, `iat`, `exp`, `jti`.
 * Verification pins the algorithm (no `alg: none`, no HS256 with the public key:
 * RFC 8725 §3.1), the issuer and the audience, and uses the injected clock.
 */
@Injectable()
export class TokenService {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly keyId: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(AUTH_SECRETS) secrets: AuthSecrets,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.privateKey = createPrivateKey(secrets.jwtPrivateKeyPem);
    this.publicKey = createPublicKey(secrets.jwtPublicKeyPem);
    if (this.privateKey.asymmetricKeyType !== 'ed25519' || this.publicKey.asymmetricKeyType !== 'ed25519') {
      throw new Error('JWT keys must be Ed25519 (EdDSA)');
    }
    this.keyId = createHash('sha256')
      .update(this.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64url')
      .slice(0, 16);
  }

  /** Access-token lifetime in seconds. */
  get accessTokenTtlSeconds(): number {
    return this.config.ACCESS_TOKEN_TTL_SECONDS;
  }

  /** Signs an access token for `userId` in session `sessionId`; returns the JWT and its lifetime in seconds. */
  async signAccessToken(input: {
    userId: string;
    sessionId: string;
    role: PlatformRole;
  }): Promise<{ token: string; expiresIn: number }> {
    const issuedAt = Math.floor(this.clock.now().getTime() / 1000);
    const token = await new SignJWT({ sid: input.sessionId, role: input.role })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: 'JWT', kid: this.keyId })
      .setIssuer(this.config.JWT_ISSUER)
      .setAudience(this.config.JWT_AUDIENCE)
      .setSubject(input.userId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + this.config.ACCESS_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, expiresIn: this.config.ACCESS_TOKEN_TTL_SECONDS };
  }

  /**
   * Verifies a bearer token.
   *
   * @throws DomainException ACCESS_TOKEN_EXPIRED (401) when `exp` has passed (the client refreshes);
   *   UNAUTHENTICATED (401) for any other defect: signature, algorithm, issuer, audience, claims.
   */
  async verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: this.config.JWT_ISSUER,
        audience: this.config.JWT_AUDIENCE,
        currentDate: this.clock.now(),
        requiredClaims: ['sub', 'sid', 'exp', 'iat', 'role'],
      });
      const role = payload.role;
      if (typeof payload.sid !== 'string' || typeof payload.sub !== 'string' || typeof role !== 'string') {
        throw new Error('malformed claims');
      }
      if (!['USER', 'OWNER', 'OPERATOR', 'ADMIN'].includes(role)) throw new Error('unknown role');
      return { userId: payload.sub, sessionId: payload.sid, role: role as PlatformRole, expiresAt: payload.exp! };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        throw new DomainException('ACCESS_TOKEN_EXPIRED', 'The access token has expired; refresh it.', undefined, {
          'www-authenticate': 'Bearer error="invalid_token", error_description="expired"',
        });
      }
      throw new DomainException('UNAUTHENTICATED', 'The access token is not valid.', undefined, {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
  }
}
