import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { loadConfig, type AppConfig } from '../../src/config/env.schema.js';
import { ConsoleMessageSender } from '../../src/modules/notifications/console-message.sender.js';
import { InMemoryDevOutbox } from '../../src/modules/notifications/dev-outbox.js';
import { MessageRenderer } from '../../src/modules/notifications/message-renderer.js';
import {
  DEV_OUTBOX,
  MESSAGE_SENDER,
  type DeliveredMessage,
  type DevOutbox,
  type MessageSender,
} from '../../src/modules/notifications/message-sender.port.js';
import {
  NotificationsModule,
  createMessageSender,
  devOutboxEnabled,
} from '../../src/modules/notifications/notifications.module.js';
import { RoutingMessageSender } from '../../src/modules/notifications/routing-message.sender.js';

class CapturingLogger implements LoggerService {
  readonly lines: { level: string; fields: unknown; message: unknown }[] = [];
  log(fields: unknown, message?: unknown): void {
    this.lines.push({ level: 'log', fields, message });
  }
  warn(fields: unknown, message?: unknown): void {
    this.lines.push({ level: 'warn', fields, message });
  }
  error(fields: unknown, message?: unknown): void {
    this.lines.push({ level: 'error', fields, message });
  }
}

const renderer = new MessageRenderer();

function delivered(to: string, n: number): DeliveredMessage {
  return { channel: 'SMS', to, template: 'otp.login', text: `#${n}`, params: { code: String(n) }, sentAt: '' };
}

async function compile(config: AppConfig, inject: symbol[] = []) {
  return Test.createTestingModule({
    imports: [NotificationsModule.forRoot(config)],
    // A provider of another module: resolves only what NotificationsModule exports.
    providers: [{ provide: 'CONSUMER', useFactory: (...deps: unknown[]) => deps, inject }],
  })
    .setLogger(new CapturingLogger())
    .compile();
}

describe('console channel', () => {
  it('writes the Spanish message with its code to the log, not in a redacted field', async () => {
    const logger = new CapturingLogger();
    const sender = new ConsoleMessageSender(renderer, undefined, logger);
    await sender.send({
      channel: 'EMAIL',
      to: 'dueno@example.mx',
      template: 'otp.login',
      params: { code: '482913', minutes: '10' },
      requestId: 'req-1',
    });
    expect(logger.lines).toHaveLength(1);
    const [line] = logger.lines;
    expect(line!.level).toBe('log');
    expect(line!.message).toContain('Tu código para entrar a MiInventario');
    expect(line!.message).toContain('482913');
    expect(line!.fields).toEqual({
      channel: 'EMAIL',
      to: 'dueno@example.mx',
      template: 'otp.login',
      requestId: 'req-1',
      delivery: 'console',
    });
  });

  it('keeps what it sent in the outbox, newest first, per recipient', async () => {
    const outbox = new InMemoryDevOutbox();
    const sender = new ConsoleMessageSender(renderer, outbox, new CapturingLogger());
    await sender.send({
      channel: 'SMS',
      to: '+525512345678',
      template: 'otp.login',
      params: { code: '111111', minutes: '10' },
    });
    await sender.send({
      channel: 'SMS',
      to: '+525512345678',
      template: 'otp.login',
      params: { code: '222222', minutes: '10' },
    });
    await sender.send({
      channel: 'EMAIL',
      to: 'otra@example.mx',
      template: 'otp.login',
      params: { code: '333333', minutes: '10' },
    });
    const sms = outbox.list('+525512345678');
    expect(sms.map((message) => message.params.code)).toEqual(['222222', '111111']);
    expect(sms[0]).toMatchObject({ channel: 'SMS', template: 'otp.login', text: expect.stringContaining('222222') });
    expect(new Date(sms[0]!.sentAt).getTime()).not.toBeNaN();
    // A query string may decode the "+" of an E.164 number into a space.
    expect(outbox.list(' 525512345678').map((message) => message.params.code)).toEqual(['222222', '111111']);
    expect(outbox.list('OTRA@example.mx')).toHaveLength(1);
    expect(outbox.list('OTRA@example.mx')[0]!.subject).toBe('Tu código para entrar a MiInventario');
    expect(outbox.list('nadie@example.mx')).toEqual([]);
  });
});

describe('dev outbox limits', () => {
  it('keeps the last 50 messages of a recipient and 1000 in all', () => {
    const outbox = new InMemoryDevOutbox();
    for (let n = 1; n <= 60; n++) outbox.record(delivered('+525500000001', n));
    const kept = outbox.list('+525500000001');
    expect(kept).toHaveLength(50);
    expect(kept[0]!.text).toBe('#60');
    expect(kept[49]!.text).toBe('#11');
    for (let n = 1; n <= 1000; n++) outbox.record(delivered(`user${n % 100}@example.mx`, n));
    expect(outbox.size).toBe(1000);
    expect(outbox.list('+525500000001')).toEqual([]);
    expect(outbox.list('user1@example.mx')[0]!.text).toBe('#901');
  });

  it('returns copies a reader cannot change', () => {
    const outbox = new InMemoryDevOutbox({ perRecipient: 2, total: 3 });
    outbox.record(delivered('a@example.mx', 1));
    outbox.list('a@example.mx').pop();
    expect(outbox.list('a@example.mx')).toHaveLength(1);
    expect(() => {
      (outbox.list('a@example.mx')[0] as { text: string }).text = 'changed';
    }).toThrow(TypeError);
  });
});

describe('NotificationsModule', () => {
  it('routes both channels to the console and exposes the dev outbox by default', async () => {
    const config = loadConfig({});
    expect(devOutboxEnabled(config)).toBe(true);
    const moduleRef = await compile(config, [MESSAGE_SENDER, DEV_OUTBOX]);
    const [sender, outbox] = moduleRef.get<[MessageSender, DevOutbox]>('CONSUMER');
    await sender.send({
      channel: 'SMS',
      to: '+525512345678',
      template: 'store.invitation',
      params: { storeName: 'Miscelánea Lupita', role: 'OWNER', inviterName: 'Lupita', acceptUrl: 'https://x.mx/i/1' },
    });
    await sender.send({
      channel: 'EMAIL',
      to: 'a@example.mx',
      template: 'otp.login',
      params: { code: '654321', minutes: '10' },
    });
    expect(outbox.list('+525512345678')[0]!.text).toContain('como Dueño');
    expect(outbox.list('a@example.mx')[0]!.text).toContain('654321');
    await moduleRef.close();
  });

  it.each([
    ['production (console accepted)', { NODE_ENV: 'production', MESSAGE_CONSOLE_IN_PRODUCTION: true }],
    ['a real e-mail channel', { MESSAGE_EMAIL_CHANNEL: 'smtp', SMTP_HOST: '127.0.0.1' }],
    [
      'a real SMS channel',
      {
        MESSAGE_SMS_CHANNEL: 'twilio',
        TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
        TWILIO_AUTH_TOKEN: 't',
        TWILIO_FROM: '+15005550006',
      },
    ],
  ])('has no dev outbox with %s', async (_name, overrides) => {
    const config = { ...loadConfig({}), ...overrides } as AppConfig;
    expect(devOutboxEnabled(config)).toBe(false);
    const moduleRef = await compile(config, [MESSAGE_SENDER]);
    expect(moduleRef.get<MessageSender[]>('CONSUMER')[0]).toBeInstanceOf(RoutingMessageSender);
    expect(() => moduleRef.get(DEV_OUTBOX)).toThrow();
    await moduleRef.close();
  });
});

describe('channel choice at boot', () => {
  it('warns loudly when production accepts the console channel', () => {
    const logger = new CapturingLogger();
    createMessageSender(
      { ...loadConfig({}), NODE_ENV: 'production', MESSAGE_CONSOLE_IN_PRODUCTION: true },
      renderer,
      undefined,
      logger,
    );
    expect(logger.lines.map((line) => line.level)).toEqual(['log', 'warn']);
    expect(logger.lines[1]!.message).toMatch(/^PRODUCTION IS USING THE CONSOLE MESSAGE CHANNEL/);
    const quiet = new CapturingLogger();
    createMessageSender(loadConfig({}), renderer, undefined, quiet);
    expect(quiet.lines.map((line) => line.level)).toEqual(['log']);
    expect(quiet.lines[0]!.message).toBe('outbound messages: SMS via console, e-mail via console');
  });
});
