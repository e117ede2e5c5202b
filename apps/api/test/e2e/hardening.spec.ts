import { describe, expect, it } from 'vitest';
import { bearer, requestCode, signIn, uniquePhone } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { useTestApp } from '../support/test-app.js';

/** Bad input found by trying to break the API: each gets a clear problem and changes nothing. */
describe('hardening against bad input', () => {
  const clock = new FakeClock();
  const context = useTestApp({ clock });

  const json = (method: 'POST' | 'PATCH' | 'GET', url: string, headers: Record<string, string>, payload?: unknown) =>
    context.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });

  it('refuses a NUL character in text with 400 INVALID_TEXT and writes nothing', async () => {
    const owner = await signIn(context.app);
    const store = await json('POST', '/api/v1/stores', bearer(owner), { name: 'a\u0000b', giro: 'otro' });
    expect(store.statusCode).toBe(400);
    expect(store.json().code).toBe('INVALID_TEXT');
    const [count] = await context.database.adminQuery<{ n: number }>(
      'SELECT count(*)::int AS n FROM tenancy.stores WHERE created_by = $1',
      [owner.user.id],
    );
    expect(count!.n).toBe(0);
    const otp = await json('POST', '/api/v1/auth/otp/request', {}, { identifier: 'a\u0000@example.mx' });
    expect(otp.statusCode).toBe(400);
  });

  it('refuses form posts (no CORS preflight for them) with 415: JSON only', async () => {
    const response = await context.app.inject({
      method: 'POST',
      url: '/api/v1/auth/otp/request',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'identifier=5511112224',
    });
    expect(response.statusCode).toBe(415);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const outbox = await context.app.inject({ method: 'GET', url: '/api/v1/dev/outbox?to=5511112224' });
    expect(outbox.json().items).toEqual([]);
  });

  it('accepts an upper-case UUID of my own store', async () => {
    clock.advance(120);
    const owner = await signIn(context.app);
    const store = (
      await json('POST', '/api/v1/stores', bearer(owner), { name: 'Miscelánea Ñandú 🛒', giro: 'miscelanea' })
    ).json();
    const read = await json('GET', `/api/v1/stores/${store.id.toUpperCase()}`, bearer(owner));
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id: store.id, name: 'Miscelánea Ñandú 🛒' });
  });

  it('names the path parameter in validation errors', async () => {
    clock.advance(120);
    const owner = await signIn(context.app);
    const response = await json('GET', '/api/v1/stores/not-a-uuid', bearer(owner));
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([expect.objectContaining({ field: 'storeId' })]);
  });

  it('accepts the bearer scheme in any letter case (RFC 7235)', async () => {
    clock.advance(120);
    const person = await signIn(context.app);
    const response = await json('GET', '/api/v1/me', { authorization: `bearer ${person.accessToken}` });
    expect(response.statusCode).toBe(200);
  });

  it('signs out with no body at all', async () => {
    clock.advance(120);
    const person = await signIn(context.app);
    const response = await context.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(person) });
    expect(response.statusCode).toBe(204);
    expect((await json('GET', '/api/v1/me', bearer(person))).statusCode).toBe(401);
  });

  it('serves the development outbox only to this machine', async () => {
    clock.advance(120);
    const phone = uniquePhone();
    await requestCode(context.app, phone);
    const url = `/api/v1/dev/outbox?to=${encodeURIComponent(phone)}`;
    const local = await context.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1' });
    expect(local.json().items).toHaveLength(1);
    const code = local.json().items[0].params.code as string;
    expect(code).toMatch(/^\d{6}$/);
    const remote = await context.app.inject({ method: 'GET', url, remoteAddress: '192.168.1.50' });
    expect(remote.statusCode).toBe(404);
    expect(remote.json().code).toBe('ROUTE_NOT_FOUND');
    expect(remote.body).not.toContain(code);
    expect(remote.json().items).toBeUndefined();
  });
});
