import { Global, Logger, Module, type DynamicModule, type LoggerService, type Provider } from '@nestjs/common';
import type { AppConfig } from '../../config/env.schema.js';
import { ConsoleMessageSender } from './console-message.sender.js';
import { InMemoryDevOutbox } from './dev-outbox.js';
import { MessageRenderer } from './message-renderer.js';
import { DEV_OUTBOX, MESSAGE_SENDER, type MessageSender } from './message-sender.port.js';
import { RoutingMessageSender } from './routing-message.sender.js';
import { SmtpMessageSender, smtpOptionsFromConfig } from './smtp-message.sender.js';
import { TwilioMessageSender, twilioOptionsFromConfig } from './twilio-message.sender.js';

/**
 * Whether the development outbox exists (and so `GET /api/v1/dev/outbox`): only outside
 * production and only when every channel is `console` (DESIGN.md "API surface": "console
 * channel only … absent with any real channel").
 */
export function devOutboxEnabled(config: AppConfig): boolean {
  return (
    config.NODE_ENV !== 'production' &&
    config.MESSAGE_SMS_CHANNEL === 'console' &&
    config.MESSAGE_EMAIL_CHANNEL === 'console'
  );
}

/**
 * Builds the sender bound to `MESSAGE_SENDER`: SMS → Twilio when
 * `MESSAGE_SMS_CHANNEL=twilio`, e-mail → SMTP when `MESSAGE_EMAIL_CHANNEL=smtp`, the
 * console adapter otherwise. The configuration was already checked by the environment
 * schema (a chosen channel has its settings; production refuses console unless
 * `MESSAGE_CONSOLE_IN_PRODUCTION=true`).
 *
 * @param outbox where the console adapter keeps what it "sent" (omit: log only).
 */
export function createMessageSender(
  config: AppConfig,
  renderer: MessageRenderer,
  outbox?: InMemoryDevOutbox,
  logger: LoggerService = new Logger('Messages'),
): RoutingMessageSender {
  let consoleSender: MessageSender | undefined;
  const console = (): MessageSender => (consoleSender ??= new ConsoleMessageSender(renderer, outbox, logger));
  const sms =
    config.MESSAGE_SMS_CHANNEL === 'twilio'
      ? new TwilioMessageSender(twilioOptionsFromConfig(config), renderer, logger)
      : console();
  const email =
    config.MESSAGE_EMAIL_CHANNEL === 'smtp'
      ? new SmtpMessageSender(smtpOptionsFromConfig(config), renderer, logger)
      : console();
  logger.log(
    { smsChannel: config.MESSAGE_SMS_CHANNEL, emailChannel: config.MESSAGE_EMAIL_CHANNEL, devOutbox: Boolean(outbox) },
    `outbound messages: SMS via ${config.MESSAGE_SMS_CHANNEL}, e-mail via ${config.MESSAGE_EMAIL_CHANNEL}`,
  );
  if (config.NODE_ENV === 'production' && (sms === consoleSender || email === consoleSender)) {
    logger.warn(
      { smsChannel: config.MESSAGE_SMS_CHANNEL, emailChannel: config.MESSAGE_EMAIL_CHANNEL },
      'PRODUCTION IS USING THE CONSOLE MESSAGE CHANNEL: one-time codes are written to this log and reach nobody ' +
        '(MESSAGE_CONSOLE_IN_PRODUCTION=true). Configure Twilio and SMTP.',
    );
  }
  return new RoutingMessageSender({ SMS: sms, EMAIL: email });
}

/**
 * Outbound messages (one-time codes and store invitations by SMS or e-mail), global.
 *
 * Import once in the root module: `NotificationsModule.forRoot(config)`. Provides and
 * exports `MESSAGE_SENDER` ({@link MessageSender}) and, only when
 * {@link devOutboxEnabled}, `DEV_OUTBOX` (`DevOutbox`); inject the latter with
 * `@Optional() @Inject(DEV_OUTBOX)`.
 *
 * @throws Error at boot when the es-MX message texts lack a key (see `MessageRenderer`).
 */
@Global()
@Module({})
export class NotificationsModule {
  static forRoot(config: AppConfig): DynamicModule {
    const withOutbox = devOutboxEnabled(config);
    const providers: Provider[] = [{ provide: MessageRenderer, useFactory: () => new MessageRenderer() }];
    if (withOutbox) providers.push({ provide: DEV_OUTBOX, useFactory: () => new InMemoryDevOutbox() });
    providers.push({
      provide: MESSAGE_SENDER,
      useFactory: (renderer: MessageRenderer, outbox?: InMemoryDevOutbox) =>
        createMessageSender(config, renderer, outbox),
      inject: [MessageRenderer, { token: DEV_OUTBOX, optional: true }],
    });
    return {
      module: NotificationsModule,
      providers,
      exports: withOutbox ? [MESSAGE_SENDER, DEV_OUTBOX] : [MESSAGE_SENDER],
    };
  }
}
