import type { AddressInfo } from 'node:net';
import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import { loadConfig } from '../../src/config/env.schema.js';
import { MessageRenderer } from '../../src/modules/notifications/message-renderer.js';
import { DEV_OUTBOX, MESSAGE_SENDER, type MessageSender } from '../../src/modules/notifications/message-sender.port.js';
import { NotificationsModule } from '../../src/modules/notifications/notifications.module.js';
import { SmtpMessageSender, smtpOptionsFromConfig } from '../../src/modules/notifications/smtp-message.sender.js';

/** One message as the SMTP server received it. */
interface Received {
  user: string | undefined;
  mailFrom: string | undefined;
  rcptTo: string[];
  mail: ParsedMail;
}

const silent: LoggerService = { log() {}, warn() {}, error() {} };
const USER = 'mailer';
const PASSWORD = 's3cret-pass';
const REFUSED = 'nadie@example.mx';

describe('SMTP e-mail channel against a real SMTP server on loopback', () => {
  let server: SMTPServer;
  let port: number;
  let received: Received[];

  beforeAll(async () => {
    server = new SMTPServer({
      logger: false,
      // Plain TCP on loopback: no STARTTLS (its built-in certificate is self-signed), AUTH required.
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, callback) {
        if (auth.username === USER && auth.password === PASSWORD) callback(null, { user: auth.username });
        else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onRcptTo(address, _session, callback) {
        if (address.address === REFUSED) {
          callback(Object.assign(new Error('5.1.1 No such mailbox'), { responseCode: 550 }));
        } else callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          simpleParser(Buffer.concat(chunks))
            .then((mail) => {
              received.push({
                user: session.user as string | undefined,
                mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
                rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
                mail,
              });
              callback();
            })
            .catch((error: Error) => callback(error));
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    received = [];
  });

  it('delivers the sign-in code through MESSAGE_SENDER when MESSAGE_EMAIL_CHANNEL=smtp', async () => {
    const config = loadConfig({
      MESSAGE_EMAIL_CHANNEL: 'smtp',
      SMTP_URL: `smtp://${USER}:${PASSWORD}@127.0.0.1:${port}`,
    });
    const moduleRef = await Test.createTestingModule({ imports: [NotificationsModule.forRoot(config)] })
      .setLogger(silent)
      .compile();
    const sender = moduleRef.get<MessageSender>(MESSAGE_SENDER);
    await sender.send({
      channel: 'EMAIL',
      to: 'dueno@example.mx',
      template: 'otp.login',
      params: { code: '482913', minutes: '10' },
    });

    expect(received).toHaveLength(1);
    const [{ user, mailFrom, rcptTo, mail }] = received as [Received];
    expect(user).toBe(USER);
    expect(mailFrom).toBe('no-reply@miinventario.mx');
    expect(rcptTo).toEqual(['dueno@example.mx']);
    expect(mail.from?.value).toEqual([{ address: 'no-reply@miinventario.mx', name: 'MiInventario' }]);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value : []).toEqual([
      { address: 'dueno@example.mx', name: '' },
    ]);
    expect(mail.subject).toBe('Tu código para entrar a MiInventario');
    expect(mail.subject).not.toContain('482913');
    expect(mail.text).toContain('Tu código para entrar a MiInventario es:\n\n482913');
    expect(mail.text).toContain('Vence en 10 minutos');
    expect(mail.html).toContain('482913');
    expect(mail.html).toContain('lang="es-MX"');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    // A real e-mail channel means no dev outbox (DESIGN.md: absent with any real channel).
    expect(() => moduleRef.get(DEV_OUTBOX)).toThrow();
    await moduleRef.close();
  });

  it('sends an invitation with host, port, credentials and a custom From', async () => {
    const config = loadConfig({
      MESSAGE_EMAIL_CHANNEL: 'smtp',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(port),
      SMTP_SECURE: 'false',
      SMTP_USER: USER,
      SMTP_PASSWORD: PASSWORD,
      EMAIL_FROM: 'Tiendas MiInventario <avisos@miinventario.mx>',
    });
    const sender = new SmtpMessageSender(smtpOptionsFromConfig(config), new MessageRenderer(), silent);
    await sender.send({
      channel: 'EMAIL',
      to: 'operador@example.mx',
      template: 'store.invitation',
      params: {
        storeName: 'Papelería Hermanos & Hijos',
        role: 'OPERATOR',
        inviterName: 'Ana López',
        acceptUrl: 'https://app.miinventario.mx/invitaciones/42?t=a&u=b',
      },
    });
    expect(received).toHaveLength(1);
    const { mail, rcptTo } = received[0]!;
    expect(rcptTo).toEqual(['operador@example.mx']);
    expect(mail.from?.value).toEqual([{ address: 'avisos@miinventario.mx', name: 'Tiendas MiInventario' }]);
    expect(mail.subject).toBe('Ana López te invitó a Papelería Hermanos & Hijos en MiInventario');
    expect(mail.text).toContain(
      'te invitó a unirte a la tienda «Papelería Hermanos & Hijos» en MiInventario como Operador.',
    );
    expect(mail.text).toContain('https://app.miinventario.mx/invitaciones/42?t=a&u=b');
    expect(mail.html).toContain('Papelería Hermanos &amp; Hijos');
    expect(mail.html).toContain('Aceptar la invitación');
  });

  it('fails with MESSAGE_DELIVERY_FAILED when the server refuses the recipient', async () => {
    const config = loadConfig({
      MESSAGE_EMAIL_CHANNEL: 'smtp',
      SMTP_URL: `smtp://${USER}:${PASSWORD}@127.0.0.1:${port}`,
    });
    const sender = new SmtpMessageSender(smtpOptionsFromConfig(config), new MessageRenderer(), silent);
    const error = await sender
      .send({ channel: 'EMAIL', to: REFUSED, template: 'otp.login', params: { code: '482913', minutes: '10' } })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DomainException);
    expect(error).toMatchObject({ code: 'MESSAGE_DELIVERY_FAILED', status: 502 });
    expect((error as DomainException).detail).not.toContain('482913');
    expect(received).toHaveLength(0);
  });

  it('fails with MESSAGE_DELIVERY_FAILED on a refused login or a closed port', async () => {
    const wrongPassword = new SmtpMessageSender(
      { url: `smtp://${USER}:wrong@127.0.0.1:${port}`, from: 'MiInventario <no-reply@miinventario.mx>' },
      new MessageRenderer(),
      silent,
    );
    await expect(
      wrongPassword.send({
        channel: 'EMAIL',
        to: 'a@example.mx',
        template: 'otp.login',
        params: { code: '111111', minutes: '10' },
      }),
    ).rejects.toMatchObject({ code: 'MESSAGE_DELIVERY_FAILED' });

    const closed = new SMTPServer({ logger: false, disabledCommands: ['STARTTLS'] });
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = new SmtpMessageSender(
      { host: '127.0.0.1', port: closedPort, from: 'MiInventario <no-reply@miinventario.mx>' },
      new MessageRenderer(),
      silent,
    );
    await expect(
      unreachable.send({
        channel: 'EMAIL',
        to: 'a@example.mx',
        template: 'otp.login',
        params: { code: '111111', minutes: '10' },
      }),
    ).rejects.toMatchObject({ code: 'MESSAGE_DELIVERY_FAILED' });
    expect(received).toHaveLength(0);
  });
});
