import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { bearer, signIn, type SignedIn } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { authEnv, useTestApp } from '../support/test-app.js';

describe('access and refresh tokens', () => {
  const clock = new FakeClock();
  const context = useTestApp({ clock });

  const sessions = (token: string) =>
    context.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: { authorization: `Bearer ${token}` } });
  const refresh = (refreshToken: string) =>
    context.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });

  async function freshSession(): Promise<SignedIn> {
    clock.advance(120);
    return signIn(context.app);
  }

  it('accepts a fresh access token', async () => {
    const session = await freshSession();
    const response = await sessions(session.accessToken);
    expect(response.statusCode).toBe(200);
    expect(response.json().items).toEqual([expect.objectContaining({ id: session.sessionId, current: true })]);
  });

  it('rotates the refresh token on every use; a reused one revokes the whole family', async () => {
    const session = await freshSession();
    const first = await refresh(session.refreshToken);
    expect(first.statusCode).toBe(200);
    const second = await refresh(first.json().refreshToken);
    expect(second.statusCode).toBe(200);
    const newest = second.json();
    expect(newest.sessionId).toBe(session.sessionId);
    expect((await sessions(newest.accessToken)).statusCode).toBe(200);

    const reused = await refresh(session.refreshToken);
    expect(reused.statusCode).toBe(401);
    expect(reused.json().code).toBe('REFRESH_TOKEN_REUSED');
    const newestRefresh = await refresh(newest.refreshToken);
    expect(newestRefresh.statusCode).toBe(401);
    expect(newestRefresh.json().code).toBe('REFRESH_TOKEN_INVALID');
    const newestAccess = await sessions(newest.accessToken);
    expect(newestAccess.statusCode).toBe(401);
    expect(newestAccess.json().code).toBe('SESSION_REVOKED');
  });

  it('refuses an unknown or malformed refresh token', async () => {
    expect((await refresh('mirt_not-a-real-token-at-all')).json().code).toBe('REFRESH_TOKEN_INVALID');
    expect((await refresh('something-else-entirely')).statusCode).toBe(401);
  });

  it('refuses a refresh token after 7 days', async () => {
    const session = await freshSession();
    clock.advance(7 * 86400 + 1);
    const late = await refresh(session.refreshToken);
    expect(late.statusCode).toBe(401);
    expect(late.json().code).toBe('REFRESH_TOKEN_INVALID');
  });

  it('refuses an access token 15 min + 60 s old (ACCESS_TOKEN_EXPIRED) but accepts it at 14 min', async () => {
    const session = await freshSession();
    clock.advance(14 * 60);
    expect((await sessions(session.accessToken)).statusCode).toBe(200);
    clock.advance(60 + 60);
    const expired = await sessions(session.accessToken);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().code).toBe('ACCESS_TOKEN_EXPIRED');
    expect(expired.headers['www-authenticate']).toContain('invalid_token');
  });

  describe('forged access tokens', () => {
    let session: SignedIn;
    const now = () => Math.floor(clock.now().getTime() / 1000);
    const claims = () => ({ sid: session.sessionId, role: 'ADMIN' });

    beforeAll(async () => {
      session = await freshSession();
    });

    const expectRefused = async (token: string) => {
      const response = await sessions(token);
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('UNAUTHENTICATED');
    };

    const genuine = () =>
      new SignJWT(claims())
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer('miinventario')
        .setAudience('miinventario-api')
        .setSubject(session.user.id)
        .setIssuedAt(now())
        .setExpirationTime(now() + 900);

    it('accepts a token built the same way with the real key (the forgeries below differ in one thing each)', async () => {
      const token = await genuine().sign(createPrivateKey(authEnv.JWT_PRIVATE_KEY));
      expect((await sessions(token)).statusCode).toBe(200);
    });

    it('refuses alg: none', async () => {
      const token = new UnsecuredJWT(claims())
        .setIssuer('miinventario')
        .setAudience('miinventario-api')
        .setSubject(session.user.id)
        .setIssuedAt(now())
        .setExpirationTime(now() + 900)
        .encode();
      await expectRefused(token);
    });

    it('refuses HS256 signed with the public key as the secret (algorithm confusion)', async () => {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('miinventario')
        .setAudience('miinventario-api')
        .setSubject(session.user.id)
        .setIssuedAt(now())
        .setExpirationTime(now() + 900)
        .sign(new TextEncoder().encode(authEnv.JWT_PUBLIC_KEY));
      await expectRefused(token);
    });

    it('refuses another algorithm (ES256) and another Ed25519 key', async () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const es256 = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer('miinventario')
        .setAudience('miinventario-api')
        .setSubject(session.user.id)
        .setIssuedAt(now())
        .setExpirationTime(now() + 900)
        .sign(ec.privateKey);
      await expectRefused(es256);
      const other = generateKeyPairSync('ed25519');
      await expectRefused(await genuine().sign(other.privateKey));
      expect(createPublicKey(authEnv.JWT_PUBLIC_KEY).asymmetricKeyType).toBe('ed25519');
    });

    it('refuses a wrong issuer or audience', async () => {
      const key = createPrivateKey(authEnv.JWT_PRIVATE_KEY);
      await expectRefused(await genuine().setIssuer('someone-else').sign(key));
      await expectRefused(await genuine().setAudience('another-api').sign(key));
    });

    it('refuses a tampered payload', async () => {
      const [header, , signature] = session.accessToken.split('.');
      const payload = Buffer.from(JSON.stringify({ ...claims(), sub: session.user.id, exp: now() + 900 })).toString(
        'base64url',
      );
      await expectRefused(`${header}.${payload}.${signature}`);
    });
  });

  it('logout closes this session at once; other sessions stay open', async () => {
    const person = await freshSession();
    clock.advance(61);
    const phone = person.user.phone!;
    const second = await signIn(context.app, phone);
    const logout = await context.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: bearer(person),
      payload: {},
    });
    expect(logout.statusCode).toBe(204);
    expect((await sessions(person.accessToken)).json().code).toBe('SESSION_REVOKED');
    expect((await refresh(person.refreshToken)).statusCode).toBe(401);
    const remaining = await sessions(second.accessToken);
    expect(remaining.statusCode).toBe(200);
    expect(remaining.json().items.map((item: { id: string }) => item.id)).toEqual([second.sessionId]);
  });

  it('lists sessions, revokes one by id, and signs out everywhere', async () => {
    const a = await freshSession();
    clock.advance(61);
    const b = await signIn(context.app, a.user.phone!);
    clock.advance(61);
    const c = await signIn(context.app, a.user.phone!);
    const list = await sessions(a.accessToken);
    expect(list.json().items).toHaveLength(3);
    const revoke = await context.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${b.sessionId}`,
      headers: bearer(a),
    });
    expect(revoke.statusCode).toBe(204);
    expect((await sessions(b.accessToken)).statusCode).toBe(401);
    const stranger = await freshSession();
    const foreign = await context.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${c.sessionId}`,
      headers: bearer(stranger),
    });
    expect(foreign.statusCode).toBe(404);
    expect((await sessions(c.accessToken)).statusCode).toBe(200);
    const everywhere = await context.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: bearer(c),
      payload: { allSessions: true },
    });
    expect(everywhere.statusCode).toBe(204);
    expect((await sessions(a.accessToken)).statusCode).toBe(401);
    expect((await sessions(c.accessToken)).statusCode).toBe(401);
    expect((await sessions(stranger.accessToken)).statusCode).toBe(200);
  });
});
