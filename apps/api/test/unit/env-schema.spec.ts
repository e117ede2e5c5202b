import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.schema.js';
import { ephemeralAuthEnv } from '../../src/modules/auth/local-secrets.js';

describe('environment schema', () => {
  it('gives the offline defaults of the embedded stack when nothing is set', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3142);
    expect(config.EMBEDDED_PG_PORT).toBe(5433);
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.RUN_WORKER).toBe(true);
    expect(config.CORS_ORIGINS).toEqual([]);
  });

  it('treats empty strings as unset and parses lists and booleans', () => {
    const config = loadConfig({ DATABASE_URL: '', CORS_ORIGINS: 'https://a.mx, https://b.mx', RUN_WORKER: 'false' });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.CORS_ORIGINS).toEqual(['https://a.mx', 'https://b.mx']);
    expect(config.RUN_WORKER).toBe(false);
  });

  it('lists every invalid variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'not a url', LOG_LEVEL: 'loud' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    expect(issues).toContain('PORT');
    expect(issues).toContain('DATABASE_URL');
    expect(issues).toContain('LOG_LEVEL');
  });

  it('refuses the development app-role password in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://u@db:5432/x' })).toThrow(
      /DATABASE_APP_PASSWORD/,
    );
    expect(
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://u@db:5432/x',
        DATABASE_APP_PASSWORD: 'a-real-secret-1',
        MESSAGE_CONSOLE_IN_PRODUCTION: 'true',
        OBJECT_URL_SECRET: 'x'.repeat(43),
        ...ephemeralAuthEnv(),
      }).DATABASE_APP_PASSWORD,
    ).toBe('a-real-secret-1');
  });

  it('needs shared JWT keys and OTP pepper in production (every replica must verify every token)', () => {
    const base = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://u@db:5432/x',
      DATABASE_APP_PASSWORD: 'a-real-secret-1',
      MESSAGE_CONSOLE_IN_PRODUCTION: 'true',
    };
    expect(() => loadConfig(base)).toThrow(/JWT_PRIVATE_KEY/);
    const { JWT_PRIVATE_KEY, OTP_PEPPER } = ephemeralAuthEnv();
    expect(() => loadConfig({ ...base, JWT_PRIVATE_KEY, OTP_PEPPER })).toThrow(/JWT_PUBLIC_KEY/);
    expect(() => loadConfig({ ...base, ...ephemeralAuthEnv() })).toThrow(/OBJECT_URL_SECRET/);
    const secret = 'x'.repeat(43);
    expect(loadConfig({ ...base, ...ephemeralAuthEnv(), OBJECT_URL_SECRET: secret }).NODE_ENV).toBe('production');
    // With S3 the URLs are presigned by S3: no local signing key is needed.
    expect(
      loadConfig({
        ...base,
        ...ephemeralAuthEnv(),
        S3_ENDPOINT: 'http://minio:9000',
        S3_ACCESS_KEY_ID: 'a',
        S3_SECRET_ACCESS_KEY: 'b',
      }).NODE_ENV,
    ).toBe('production');
  });

  it('trusts no proxy by default, and only listed proxy addresses when told', () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.10' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '192.168.1.10']);
    expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: '2' })).toThrow(/TRUST_PROXY/);
  });
});
