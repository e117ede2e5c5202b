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

/** Configuration first; otherwise the secrets generated under DATA_DIR (embedded default). */
export function resolveAuthSecrets(config: AppConfig): AuthSecrets {
  if (config.JWT_PRIVATE_KEY && config.JWT_PUBLIC_KEY && config.OTP_PEPPER) {
    return {
      jwtPrivateKeyPem: config.JWT_PRIVATE_KEY,
      jwtPublicKeyPem: config.JWT_PUBLIC_KEY,
      otpPepper: config.OTP_PEPPER,
    };
  }
  const local = loadOrCreateLocalSecrets(config.DATA_DIR);
  return {
    jwtPrivateKeyPem: config.JWT_PRIVATE_KEY ?? local.jwtPrivateKeyPem,
    jwtPublicKeyPem: config.JWT_PUBLIC_KEY ?? local.jwtPublicKeyPem,
    otpPepper: config.OTP_PEPPER ?? local.otpPepper,
  };
}
