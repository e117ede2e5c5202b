import { describe, expect, it } from 'vitest';
import { bearer, readCode, requestCode, signIn, uniquePhone } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { useTestApp } from '../support/test-app.js';

describe('sign-in by one-time code', () => {
  const clock = new FakeClock();
  const context = useTestApp({ clock, env: { ADMIN_IDENTIFIERS: 'admin@miinventario.mx, 55 9999 0000' } });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    context.app.inject({ method: 'POST', url, payload: payload as object, headers });

  it('signs up a Mexican number typed locally, normalised to E.164, with a wallet and role USER', async () => {
    const local = '55 1234 5678';
    await requestCode(context.app, local);
    const code = await readCode(context.app, '+525512345678');
    expect(code).toMatch(/^\d{6}$/);
    const response = await post('/api/v1/auth/otp/verify', {
      identifier: '5512345678',
      code,
      referralCode: 'amigo2026',
    });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.isNewUser).toBe(true);
    expect(body.user).toMatchObject({ phone: '+525512345678', role: 'USER', locale: 'es-MX' });
    expect(body.tokenType).toBe('Bearer');
    expect(body.expiresIn).toBe(900);
    const [user] = await context.database.adminQuery<{ signup_referral_code: string; wallets: number }>(
      `SELECT u.signup_referral_code, (SELECT count(*)::int FROM billing.credit_wallets w WHERE w.user_id = u.id) AS wallets
         FROM auth.users u WHERE u.phone = '+525512345678'`,
    );
    expect(user).toEqual({ signup_referral_code: 'AMIGO2026', wallets: 1 });
    const codes = await context.database.adminQuery<{ code_hash: string }>(
      `SELECT code_hash FROM auth.otp_codes WHERE identifier = '+525512345678'`,
    );
    expect(codes[0]!.code_hash).not.toContain(code);
    clock.advance(61);
  });

  it('signs in the same person again without creating another account', async () => {
    clock.advance(61);
    const again = await signIn(context.app, '+52 55 1234 5678');
    expect(again.isNewUser).toBe(false);
    const [count] = await context.database.adminQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM auth.users WHERE phone = '+525512345678'`,
    );
    expect(count!.n).toBe(1);
  });

  it('kills a code after 5 wrong attempts, locks the identifier, and the right code no longer works', async () => {
    const phone = uniquePhone();
    await requestCode(context.app, phone);
    const code = await readCode(context.app, phone);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const response = await post('/api/v1/auth/otp/verify', { identifier: phone, code: wrong });
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('OTP_INVALID');
    }
    const fifth = await post('/api/v1/auth/otp/verify', { identifier: phone, code: wrong });
    expect(fifth.statusCode).toBe(429);
    expect(fifth.json().code).toBe('OTP_LOCKED');
    expect(fifth.headers['retry-after']).toBe('30');
    const whileLocked = await post('/api/v1/auth/otp/verify', { identifier: phone, code });
    expect(whileLocked.statusCode).toBe(429);
    clock.advance(31);
    const dead = await post('/api/v1/auth/otp/verify', { identifier: phone, code });
    expect(dead.statusCode).toBe(401);
    expect(dead.json().code).toBe('OTP_INVALID');
    const [row] = await context.database.adminQuery<{ attempts: number; dead: boolean }>(
      `SELECT attempts, invalidated_at IS NOT NULL AS dead FROM auth.otp_codes WHERE identifier = $1`,
      [phone],
    );
    expect(row).toEqual({ attempts: 5, dead: true });
  });

  it('locks for longer after each run of failures (30 s, then 60 s)', async () => {
    const phone = uniquePhone();
    const fail = async () => post('/api/v1/auth/otp/verify', { identifier: phone, code: '123456' });
    for (let i = 0; i < 4; i += 1) expect((await fail()).statusCode).toBe(401);
    expect((await fail()).headers['retry-after']).toBe('30');
    clock.advance(31);
    for (let i = 0; i < 4; i += 1) expect((await fail()).statusCode).toBe(401);
    const second = await fail();
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('60');
    clock.advance(61);
  });

  it('refuses a code used twice', async () => {
    const phone = uniquePhone();
    await requestCode(context.app, phone);
    const code = await readCode(context.app, phone);
    expect((await post('/api/v1/auth/otp/verify', { identifier: phone, code })).statusCode).toBe(200);
    const second = await post('/api/v1/auth/otp/verify', { identifier: phone, code });
    expect(second.statusCode).toBe(401);
    expect(second.json().code).toBe('OTP_INVALID');
  });

  it('refuses a code after 10 minutes', async () => {
    const phone = uniquePhone();
    await requestCode(context.app, phone);
    const code = await readCode(context.app, phone);
    clock.advance(10 * 60 + 1);
    const late = await post('/api/v1/auth/otp/verify', { identifier: phone, code });
    expect(late.statusCode).toBe(401);
    expect(late.json().code).toBe('OTP_INVALID');
  });

  it('accepts a code just before 10 minutes', async () => {
    const phone = uniquePhone();
    await requestCode(context.app, phone);
    const code = await readCode(context.app, phone);
    clock.advance(10 * 60 - 2);
    expect((await post('/api/v1/auth/otp/verify', { identifier: phone, code })).statusCode).toBe(200);
  });

  it('kills the previous code when a new one is sent', async () => {
    const phone = uniquePhone();
    await requestCode(context.app, phone);
    const first = await readCode(context.app, phone);
    clock.advance(61);
    await requestCode(context.app, phone);
    const second = await readCode(context.app, phone);
    if (first !== second) {
      expect((await post('/api/v1/auth/otp/verify', { identifier: phone, code: first })).statusCode).toBe(401);
    }
    expect((await post('/api/v1/auth/otp/verify', { identifier: phone, code: second })).statusCode).toBe(200);
  });

  it('enforces 60 s between codes and 5 codes an hour, with Retry-After', async () => {
    const email = `resend-${Date.now()}@example.mx`;
    await requestCode(context.app, email);
    const tooSoon = await post('/api/v1/auth/otp/request', { identifier: email });
    expect(tooSoon.statusCode).toBe(429);
    expect(tooSoon.json().code).toBe('OTP_RESEND_TOO_SOON');
    expect(Number(tooSoon.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(tooSoon.headers['retry-after'])).toBeLessThanOrEqual(60);
    for (let i = 2; i <= 5; i += 1) {
      clock.advance(61);
      await requestCode(context.app, email);
    }
    clock.advance(61);
    const sixth = await post('/api/v1/auth/otp/request', { identifier: email });
    expect(sixth.statusCode).toBe(429);
    expect(sixth.json().code).toBe('OTP_RESEND_TOO_SOON');
    // The oldest of the five was 4 × 61 + 61 s ago: the next is allowed 3600 − 305 s later.
    expect(Number(sixth.headers['retry-after'])).toBe(3600 - 5 * 61);
    clock.advance(3600);
    await requestCode(context.app, email);
  });

  it('answers known and unknown identifiers identically', async () => {
    clock.advance(120);
    const known = await post('/api/v1/auth/otp/request', { identifier: '+525512345678' });
    const unknown = await post('/api/v1/auth/otp/request', { identifier: uniquePhone() });
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(known.json()).toEqual(unknown.json());
    const knownWrong = await post('/api/v1/auth/otp/verify', { identifier: '+525512345678', code: '999999' });
    const unknownWrong = await post('/api/v1/auth/otp/verify', { identifier: uniquePhone(), code: '999999' });
    expect(knownWrong.statusCode).toBe(unknownWrong.statusCode);
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined, instance: undefined });
    expect(strip(knownWrong.json())).toEqual(strip(unknownWrong.json()));
  });

  it('refuses what is neither a phone nor an e-mail with 400 and a field error', async () => {
    const response = await post('/api/v1/auth/otp/request', { identifier: '12345' });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].field).toBe('identifier');
    const extra = await post('/api/v1/auth/otp/request', { identifier: '5512345678', role: 'ADMIN' });
    expect(extra.statusCode).toBe(400);
  });

  it('makes ADMIN_IDENTIFIERS admins when they verify, in any spelling', async () => {
    clock.advance(120);
    const admin = await signIn(context.app, 'Admin@MiInventario.mx');
    expect(admin.user.role).toBe('ADMIN');
    const phoneAdmin = await signIn(context.app, '+52 55 9999 0000');
    expect(phoneAdmin.user.role).toBe('ADMIN');
    const me = await context.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(phoneAdmin) });
    expect(me.statusCode).toBe(200);
    const audit = await context.database.adminQuery<{ action: string }>(
      `SELECT action FROM admin.audit_logs WHERE actor_user_id = $1 ORDER BY id`,
      [admin.user.id],
    );
    expect(audit.map((row) => row.action)).toContain('auth.signup');
  });
});
