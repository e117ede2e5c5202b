import { randomBytes } from 'node:crypto';
import { ephemeralAuthEnv } from '../modules/auth/local-secrets.js';

/**
 * `npm run secrets`: prints fresh production secrets as `.env` lines (JWT Ed25519
 * key pair with `\n` escapes, OTP pepper, app-role password, the HMAC key of local signed object URLs). Every API and worker
 * replica must get the same values.
 */
function main(): void {
  const env = ephemeralAuthEnv();
  const oneLine = (pem: string) => JSON.stringify(pem.trim()).slice(1, -1);
  const lines = [
    `JWT_PRIVATE_KEY="${oneLine(env.JWT_PRIVATE_KEY)}"`,
    `JWT_PUBLIC_KEY="${oneLine(env.JWT_PUBLIC_KEY)}"`,
    `OTP_PEPPER=${env.OTP_PEPPER}`,
    `DATABASE_APP_PASSWORD=${ephemeralAuthEnv().OTP_PEPPER}`,
    `OBJECT_URL_SECRET=${randomBytes(32).toString('base64url')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
