import { Logger, type LoggerService } from '@nestjs/common';
import nodemailer, { type SMTPSentMessageInfo, type SMTPTransportOptions, type Transporter } from 'nodemailer';
import { DomainException } from '../../common/errors/domain.exception.js';
import type { AppConfig } from '../../config/env.schema.js';
import type { MessageRenderer } from './message-renderer.js';
import type { MessageSender, OutboundMessage } from './message-sender.port.js';

/** Connection settings of the SMTP channel (from `SMTP_*` and `EMAIL_FROM`). */
export interface SmtpSenderOptions {
  /** `smtp://user:pass@host:587` or `smtps://…:465`; when set, wins over host/port/user/password/secure. */
  url?: string;
  host?: string;
  /** TCP port; default 465 when `secure`, 587 otherwise. */
  port?: number;
  /** Implicit TLS from the first byte (port 465). `false`: STARTTLS when the server offers it. */
  secure?: boolean;
  user?: string;
  password?: string;
  /** RFC 5322 From, e.g. `MiInventario <no-reply@miinventario.mx>`. */
  from: string;
  /** Connection, greeting and socket timeouts in milliseconds (default 10 000, 10 000, 20 000). */
  timeoutsMs?: { connection?: number; greeting?: number; socket?: number };
}

/** Reads the SMTP settings of the parsed configuration. */
export function smtpOptionsFromConfig(config: AppConfig): SmtpSenderOptions {
  return {
    url: config.SMTP_URL,
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    secure: config.SMTP_SECURE,
    user: config.SMTP_USER,
    password: config.SMTP_PASSWORD,
    from: config.EMAIL_FROM,
  };
}

/**
 * The `smtp` e-mail channel: sends the rendered Spanish e-mail (subject, text and HTML
 * parts) through any SMTP server with nodemailer. One connection per message (no
 * pool); short timeouts so an OTP request does not hang on a dead server.
 *
 * Rejects EMAIL messages only; SMS goes to another channel (see `RoutingMessageSender`).
 */
export class SmtpMessageSender implements MessageSender {
  private readonly transporter: Transporter<SMTPSentMessageInfo, SMTPTransportOptions>;

  constructor(
    private readonly options: SmtpSenderOptions,
    private readonly renderer: MessageRenderer,
    private readonly logger: LoggerService = new Logger('Messages'),
  ) {
    const timeouts = {
      connectionTimeout: options.timeoutsMs?.connection ?? 10_000,
      greetingTimeout: options.timeoutsMs?.greeting ?? 10_000,
      socketTimeout: options.timeoutsMs?.socket ?? 20_000,
      // The messages carry no attachments: never let a field read a file or a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    const transport: SMTPTransportOptions = options.url
      ? { url: options.url, ...timeouts }
      : {
          host: options.host,
          port: options.port ?? (options.secure ? 465 : 587),
          secure: options.secure ?? options.port === 465,
          ...(options.user ? { auth: { user: options.user, pass: options.password ?? '' } } : {}),
          ...timeouts,
        };
    this.transporter = nodemailer.createTransport(transport);
  }

  /**
   * Renders `message` and hands it to the SMTP server; resolves when the server accepted
   * it for delivery (250 after DATA).
   *
   * @throws DomainException MESSAGE_DELIVERY_FAILED (502) when the server is unreachable,
   *   refuses the login, the sender or the recipient, or times out.
   * @throws Error for a non-EMAIL message or a programming error in the message.
   */
  async send(message: OutboundMessage): Promise<void> {
    if (message.channel !== 'EMAIL') throw new Error(`the SMTP channel cannot send ${message.channel}`);
    const rendered = this.renderer.render(message);
    try {
      const info = await this.transporter.sendMail({
        from: this.options.from,
        to: rendered.to,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
      this.logger.log(
        { channel: 'EMAIL', to: rendered.to, template: rendered.template, messageId: info.messageId, delivery: 'smtp' },
        'e-mail accepted by the SMTP server',
      );
    } catch (error) {
      const smtp = error as { code?: string; responseCode?: number; command?: string; message?: string };
      this.logger.warn(
        {
          channel: 'EMAIL',
          to: rendered.to,
          template: rendered.template,
          ...(message.requestId ? { requestId: message.requestId } : {}),
          smtpError: smtp.code,
          smtpResponseCode: smtp.responseCode,
          smtpCommand: smtp.command,
          delivery: 'smtp',
        },
        `e-mail delivery failed: ${smtp.message ?? String(error)}`,
      );
      throw new DomainException('MESSAGE_DELIVERY_FAILED', 'The e-mail could not be delivered; try again later.');
    }
  }

  /** Releases the transport's sockets (module shutdown). */
  close(): void {
    this.transporter.close();
  }
}
