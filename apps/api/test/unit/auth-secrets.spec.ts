import { createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.schema.js';
import { resolveAuthSecrets, unescapePem } from '../../src/modules/auth/auth-secrets.js';
import { ephemeralAuthEnv } from '../../src/modules/auth/local-secrets.js';

describe('auth secrets', () => {
  it('accepts one-line PEM keys with \\n escapes, as `npm run secrets` prints them', () => {
    const env = ephemeralAuthEnv();
    const oneLine = env.JWT_PRIVATE_KEY.trim().replaceAll('\n', '\\n');
    expect(oneLine).not.toContain('\n');
    const secrets = resolveAuthSecrets(loadConfig({ ...env, JWT_PRIVATE_KEY: oneLine }));
    expect(createPrivateKey(secrets.jwtPrivateKeyPem).asymmetricKeyType).toBe('ed25519');
    expect(unescapePem('a\\nb')).toBe('a\nb');
  });

  it('generates secrets once under DATA_DIR (mode 0600) and reuses them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mi-secrets-'));
    try {
      const first = resolveAuthSecrets(loadConfig({ DATA_DIR: dir }));
      const second = resolveAuthSecrets(loadConfig({ DATA_DIR: dir }));
      expect(second).toEqual(first);
      expect((await stat(join(dir, 'secrets.json'))).mode & 0o777).toBe(0o600);
      expect(first.otpPepper.length).toBeGreaterThanOrEqual(32);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
