import type { AppConfig } from '../../config/env.schema.js';
import { loadOrCreateLocalSecrets } from './local-secrets.js';

/** Key material of the auth module, resolved once at boot. */
export interface AuthSecrets {
  jwtPrivateKeyPem: string;
  jwtPublicKeyPem: string;
  otpPepper: string;
}

/** Injection token of {@link AuthSecrets}. */
export const AUTH_SECRETS = Symbol('AUTH_SECRETS');

/** PEM keys in one-line environment values may carry `\n` escapes instead of line breaks (`npm run secrets` prints them so). */
export function unescapePem(value: string): string {
  return value.replaceAll('\\n', '\n');
}

/** Configuration first; otherwise the secrets generated under DATA_DIR (embedded default). */
export function resolveAuthSecrets(config: AppConfig): AuthSecrets {
  const privatePem = config.JWT_PRIVATE_KEY ? unescapePem(config.JWT_PRIVATE_KEY) : undefined;
  const publicPem = config.JWT_PUBLIC_KEY ? unescapePem(config.JWT_PUBLIC_KEY) : undefined;
  if (privatePem && publicPem && config.OTP_PEPPER) {
    return { jwtPrivateKeyPem: privatePem, jwtPublicKeyPem: publicPem, otpPepper: config.OTP_PEPPER };
  }
  const local = loadOrCreateLocalSecrets(config.DATA_DIR);
  return {
    jwtPrivateKeyPem: privatePem ?? local.jwtPrivateKeyPem,
    jwtPublicKeyPem: publicPem ?? local.jwtPublicKeyPem,
    otpPepper: config.OTP_PEPPER ?? local.otpPepper,
  };
}
