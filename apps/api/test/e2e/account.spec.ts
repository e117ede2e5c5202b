import { describe, expect, it } from 'vitest';
import { bearer, readCode, signIn, uniquePhone, type SignedIn } from '../support/auth-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { useTestApp } from '../support/test-app.js';

describe('my account (/me)', () => {
  const clock = new FakeClock();
  const context = useTestApp({ clock });

  const call = (method: 'GET' | 'PATCH' | 'POST' | 'DELETE', url: string, who: SignedIn, payload?: object) =>
    context.app.inject({ method, url, headers: bearer(who), ...(payload ? { payload } : {}) });

  it('reads and updates my profile; refuses unknown fields and role changes', async () => {
    const me = await signIn(context.app);
    const read = await call('GET', '/api/v1/me', me);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({
      id: me.user.id,
      phone: me.user.phone,
      displayName: null,
      locale: 'es-MX',
      role: 'USER',
    });
    const update = await call('PATCH', '/api/v1/me', me, { displayName: 'Doña Lupita' });
    expect(update.statusCode).toBe(200);
    expect(update.json().displayName).toBe('Doña Lupita');
    const escalate = await call('PATCH', '/api/v1/me', me, { role: 'ADMIN' });
    expect(escalate.statusCode).toBe(400);
    expect((await call('GET', '/api/v1/me', me)).json()).toMatchObject({ role: 'USER', displayName: 'Doña Lupita' });
  });

  it('adds an e-mail proven by a code sent to that e-mail', async () => {
    clock.advance(120);
    const me = await signIn(context.app);
    const email = `lupita-${Date.now()}@tiendita.mx`;
    const request = await call('POST', '/api/v1/me/contact', me, { identifier: email });
    expect(request.statusCode).toBe(202);
    expect(request.json().channel).toBe('EMAIL');
    const code = await readCode(context.app, email);
    const wrong = await call('POST', '/api/v1/me/contact/verify', me, {
      identifier: email,
      code: code === '000000' ? '111111' : '000000',
    });
    expect(wrong.statusCode).toBe(401);
    const verify = await call('POST', '/api/v1/me/contact/verify', me, { identifier: email, code });
    expect(verify.statusCode).toBe(200);
    expect(verify.json()).toMatchObject({ email, phone: me.user.phone });
    // The e-mail now signs in to the same account.
    clock.advance(120);
    const byEmail = await signIn(context.app, email);
    expect(byEmail.user.id).toBe(me.user.id);
    expect(byEmail.isNewUser).toBe(false);
  });

  it('a contact-change code cannot be used to sign in, and a sign-in code cannot change a contact', async () => {
    clock.advance(120);
    const me = await signIn(context.app);
    const newPhone = uniquePhone();
    expect((await call('POST', '/api/v1/me/contact', me, { identifier: newPhone })).statusCode).toBe(202);
    const code = await readCode(context.app, newPhone);
    const signInWithIt = await context.app.inject({
      method: 'POST',
      url: '/api/v1/auth/otp/verify',
      payload: { identifier: newPhone, code },
    });
    expect(signInWithIt.statusCode).toBe(401);
    const someoneElse = await signIn(context.app);
    const stolen = await call('POST', '/api/v1/me/contact/verify', someoneElse, { identifier: newPhone, code });
    expect(stolen.statusCode).toBe(401);
    const mine = await call('POST', '/api/v1/me/contact/verify', me, { identifier: newPhone, code });
    expect(mine.statusCode).toBe(200);
    expect(mine.json().phone).toBe(newPhone);
  });

  it('refuses a phone that belongs to another account with 409, after the code proved it', async () => {
    clock.advance(120);
    const owner = await signIn(context.app);
    clock.advance(120);
    const other = await signIn(context.app);
    expect((await call('POST', '/api/v1/me/contact', other, { identifier: owner.user.phone! })).statusCode).toBe(202);
    const code = await readCode(context.app, owner.user.phone!);
    const taken = await call('POST', '/api/v1/me/contact/verify', other, { identifier: owner.user.phone!, code });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().code).toBe('CONTACT_IN_USE');
    expect((await call('GET', '/api/v1/me', other)).json().phone).toBe(other.user.phone);
  });

  it('deletes my account: personal data erased, sessions closed, ledger kept; the phone can sign up anew', async () => {
    clock.advance(120);
    const me = await signIn(context.app);
    const phone = me.user.phone!;
    const remove = await call('DELETE', '/api/v1/me', me);
    expect(remove.statusCode).toBe(204);
    expect((await call('GET', '/api/v1/me', me)).statusCode).toBe(401);
    const [row] = await context.database.adminQuery<{ phone: string | null; deleted: boolean; wallets: number }>(
      `SELECT phone, deleted_at IS NOT NULL AS deleted,
              (SELECT count(*)::int FROM billing.credit_wallets w WHERE w.user_id = u.id) AS wallets
         FROM auth.users u WHERE id = $1`,
      [me.user.id],
    );
    expect(row).toEqual({ phone: null, deleted: true, wallets: 1 });
    clock.advance(120);
    const again = await signIn(context.app, phone);
    expect(again.isNewUser).toBe(true);
    expect(again.user.id).not.toBe(me.user.id);
  });

  it('refuses to delete the only OWNER of a store with other members (409 SOLE_OWNER, nothing changed); archives a store where I am alone', async () => {
    clock.advance(120);
    const owner = await signIn(context.app);
    const shared = (
      await call('POST', '/api/v1/stores', owner, { name: 'Abarrotes Lupita', giro: 'abarrotes' })
    ).json();
    const solo = (await call('POST', '/api/v1/stores', owner, { name: 'Papelería Sola', giro: 'papeleria' })).json();
    clock.advance(120);
    const operator = await signIn(context.app);
    const invite = await call('POST', `/api/v1/stores/${shared.id}/invitations`, owner, {
      identifier: operator.user.phone!,
      role: 'OPERATOR',
    });
    expect(invite.statusCode, invite.body).toBe(201);
    expect((await call('POST', `/api/v1/invitations/${invite.json().id}/accept`, operator)).statusCode).toBe(200);

    const refused = await call('DELETE', '/api/v1/me', owner);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('SOLE_OWNER');
    expect((await call('GET', '/api/v1/me', owner)).statusCode).toBe(200);
    expect((await call('GET', `/api/v1/stores/${solo.id}`, owner)).statusCode).toBe(200);

    const promote = await call('PATCH', `/api/v1/stores/${shared.id}/members/${operator.user.id}`, owner, {
      role: 'OWNER',
    });
    expect(promote.statusCode, promote.body).toBe(200);
    expect((await call('DELETE', '/api/v1/me', owner)).statusCode).toBe(204);
    const stores = await context.database.adminQuery<{ id: string; archived: boolean; members: number }>(
      `SELECT s.id, s.archived_at IS NOT NULL AS archived,
              (SELECT count(*)::int FROM tenancy.store_users su WHERE su.store_id = s.id) AS members
         FROM tenancy.stores s WHERE s.id = ANY($1::uuid[]) ORDER BY s.name`,
      [[shared.id, solo.id]],
    );
    expect(stores).toEqual([
      { id: shared.id, archived: false, members: 1 },
      { id: solo.id, archived: true, members: 0 },
    ]);
    expect((await call('GET', `/api/v1/stores/${shared.id}`, operator)).statusCode).toBe(200);
  });
});
