import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MessageRenderer } from '../../src/modules/notifications/message-renderer.js';
import type { OutboundMessage } from '../../src/modules/notifications/message-sender.port.js';
import { smsSegments, toGsm7 } from '../../src/modules/notifications/sms-encoding.js';

const renderer = new MessageRenderer();

const otp = (
  channel: 'SMS' | 'EMAIL',
  template: 'otp.login' | 'otp.change-contact' = 'otp.login',
): OutboundMessage => ({
  channel,
  to: channel === 'SMS' ? '+525512345678' : 'dueno@example.mx',
  template,
  params: { code: '482913', minutes: '10' },
});

const invitation = (channel: 'SMS' | 'EMAIL', role = 'OPERATOR', overrides: Record<string, string> = {}) =>
  ({
    channel,
    to: channel === 'SMS' ? '+525512345678' : 'operador@example.mx',
    template: 'store.invitation',
    params: {
      storeName: 'Abarrotes Hermanos & Hijos',
      role,
      inviterName: 'Ana López',
      acceptUrl: 'https://app.miinventario.mx/invitaciones/8f0c1d2e?x=1&y=2',
      ...overrides,
    },
  }) as OutboundMessage;

describe('message texts (es-MX)', () => {
  it('sends the sign-in code by SMS in one GSM-7 segment', () => {
    const sms = renderer.render(otp('SMS'));
    expect(sms.text).toBe('MiInventario: tu codigo es 482913. Vence en 10 min. No lo compartas.');
    expect(smsSegments(sms.text)).toEqual({ encoding: 'GSM-7', units: sms.text.length, segments: 1 });
    expect(sms.subject).toBeUndefined();
    expect(sms.html).toBeUndefined();
  });

  it('keeps the contact-change SMS in one GSM-7 segment too', () => {
    const sms = renderer.render(otp('SMS', 'otp.change-contact'));
    expect(sms.text).toContain('482913');
    expect(sms.text).toContain('confirmar este numero');
    expect(smsSegments(sms.text)).toMatchObject({ encoding: 'GSM-7', segments: 1 });
  });

  it.each(['otp.login', 'otp.change-contact'] as const)(
    'e-mails the %s code in the body, never in the subject',
    (template) => {
      const email = renderer.render(otp('EMAIL', template));
      expect(email.subject).toBeTruthy();
      expect(email.subject).not.toContain('482913');
      expect(email.subject).not.toMatch(/[0-9]{4,}/);
      expect(email.text).toContain('482913');
      expect(email.text).toContain('Vence en 10 minutos');
      expect(email.text).toContain('código');
      expect(email.html).toContain('<html lang="es-MX">');
      expect(email.html).toContain('482913');
    },
  );

  it('names the sign-in e-mail in Spanish', () => {
    const email = renderer.render(otp('EMAIL'));
    expect(email.subject).toBe('Tu código para entrar a MiInventario');
    expect(email.text).toMatch(/^Hola:\n\nTu código para entrar a MiInventario es:\n\n482913\n/);
  });

  it('writes invitations with the store, the inviter, the accept URL and the role in Spanish', () => {
    const sms = renderer.render(invitation('SMS', 'OPERATOR'));
    expect(sms.text).toBe(
      'MiInventario: Ana Lopez te invito a la tienda Abarrotes Hermanos & Hijos como Operador. ' +
        'Acepta aqui: https://app.miinventario.mx/invitaciones/8f0c1d2e?x=1&y=2',
    );
    const email = renderer.render(invitation('EMAIL', 'OWNER'));
    expect(email.subject).toBe('Ana López te invitó a Abarrotes Hermanos & Hijos en MiInventario');
    expect(email.text).toContain('como Dueño.');
    expect(email.text).toContain('Como Dueño podrás administrar la tienda');
    expect(email.text).toContain('https://app.miinventario.mx/invitaciones/8f0c1d2e?x=1&y=2');
    expect(email.params.role).toBe('OWNER');
  });

  it('escapes every parameter in the HTML part and only there', () => {
    const email = renderer.render(invitation('EMAIL', 'OPERATOR', { storeName: '<script>alert(1)</script> & Co' }));
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&lt;script&gt;alert(1)&lt;&#x2F;script&gt; &amp; Co');
    expect(email.html).toContain(
      'href="https:&#x2F;&#x2F;app.miinventario.mx&#x2F;invitaciones&#x2F;8f0c1d2e?x=1&amp;y=2"',
    );
    expect(email.text).toContain('«<script>alert(1)</script> & Co»');
  });

  it('turns line breaks in a parameter into spaces so no header line can be added', () => {
    const email = renderer.render(invitation('EMAIL', 'OPERATOR', { inviterName: 'Ana\r\nBcc: victima@example.mx' }));
    expect(email.subject).toBe('Ana Bcc: victima@example.mx te invitó a Abarrotes Hermanos & Hijos en MiInventario');
    expect(email.subject).not.toMatch(/[\r\n]/);
  });

  it('refuses messages a caller got wrong', () => {
    expect(() => renderer.render(invitation('SMS', 'ADMIN'))).toThrow(/role must be one of OWNER, OPERATOR/);
    expect(() => renderer.render(invitation('EMAIL', 'OWNER', { acceptUrl: 'javascript:alert(1)' }))).toThrow(
      /acceptUrl/,
    );
    expect(() =>
      renderer.render({
        channel: 'SMS',
        to: '+525512345678',
        template: 'otp.login',
        params: { code: '12ab56', minutes: '10' },
      }),
    ).toThrow(/digits/);
    expect(() =>
      renderer.render({
        channel: 'SMS',
        to: '+525512345678',
        template: 'otp.login',
        params: { code: '', minutes: '10' },
      }),
    ).toThrow(/needs the parameter code/);
  });

  it('stops at construction when the translation file lacks a text', () => {
    const resource = JSON.parse(
      readFileSync(new URL('../../src/modules/notifications/i18n/es-MX.json', import.meta.url), 'utf8'),
    ) as { store: { invitation: { email: Record<string, string> } }; role: Record<string, string> };
    delete resource.store.invitation.email.html;
    delete resource.role.OPERATOR;
    expect(() => new MessageRenderer(resource)).toThrow(/store\.invitation\.email\.html, role\.OPERATOR/);
  });

  it('refuses a translation that would put the code in the subject', () => {
    const resource = JSON.parse(
      readFileSync(new URL('../../src/modules/notifications/i18n/es-MX.json', import.meta.url), 'utf8'),
    ) as { otp: { login: { email: Record<string, string> } } };
    resource.otp.login.email.subject = 'Tu código es {{code}}';
    expect(() => new MessageRenderer(resource).render(otp('EMAIL'))).toThrow(/subject/);
    expect(() => new MessageRenderer(resource).render(otp('SMS'))).not.toThrow();
  });

  it('refuses a text that uses a parameter its template does not have', () => {
    const resource = JSON.parse(
      readFileSync(new URL('../../src/modules/notifications/i18n/es-MX.json', import.meta.url), 'utf8'),
    ) as { otp: { login: Record<string, unknown> } };
    resource.otp.login.sms = 'MiInventario: {{codigo}}';
    expect(() => new MessageRenderer(resource).render(otp('SMS'))).toThrow(/\{\{codigo\}\}/);
  });
});

describe('SMS encoding (3GPP TS 23.038)', () => {
  it('folds only the accents GSM-7 lacks', () => {
    expect(toGsm7('código Más aquí ÚLTIMO ñandú ¿qué? ¡sí! Ü é')).toBe('codigo Mas aqui ULTIMO ñandu ¿qué? ¡si! Ü é');
    expect(toGsm7('“hola” – ‘adiós’…')).toBe('"hola" - \'adios\'...');
    expect(toGsm7('tienda 🛒')).toBe('tienda 🛒');
  });

  it('counts segments like a carrier', () => {
    expect(smsSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(smsSegments('a'.repeat(161))).toEqual({ encoding: 'GSM-7', units: 161, segments: 2 });
    expect(smsSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(smsSegments('ó'.repeat(70))).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(smsSegments('ó'.repeat(71))).toEqual({ encoding: 'UCS-2', units: 71, segments: 2 });
  });
});
