import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Secrets the embedded default generates once and keeps in DATA_DIR. */
export interface LocalSecrets {
  jwtPrivateKeyPem: string;
  jwtPublicKeyPem: string;
  otpPepper: string;
}

/**
 * Reads `<dataDir>/secrets.json`, creating it (mode 0600) with a fresh Ed25519 key
 * pair and a 32-byte OTP pepper on first use. Only for one-machine setups: in
 * production the configuration must provide the keys (every replica shares them).
 */
export function loadOrCreateLocalSecrets(dataDir: string): LocalSecrets {
  const root = resolve(dataDir);
  const file = join(root, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as LocalSecrets;
  mkdirSync(root, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const secrets: LocalSecrets = {
    jwtPrivateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwtPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    otpPepper: randomBytes(32).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: 'wx' });
  return secrets;
}

/**
 * A fresh key pair and pepper as environment variables, kept only in memory: for
 * processes that must not write DATA_DIR (OpenAPI generation, tests).
 */
export function ephemeralAuthEnv(): { JWT_PRIVATE_KEY: string; JWT_PUBLIC_KEY: string; OTP_PEPPER: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    OTP_PEPPER: randomBytes(32).toString('base64url'),
  };
}
