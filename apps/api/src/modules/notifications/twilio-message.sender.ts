import { Logger, type LoggerService } from '@nestjs/common';
import twilio from 'twilio';
import { DomainException } from '../../common/errors/domain.exception.js';
import type { AppConfig } from '../../config/env.schema.js';
import type { MessageRenderer } from './message-renderer.js';
import type { MessageSender, OutboundMessage } from './message-sender.port.js';

/** Settings of the Twilio SMS channel (from `TWILIO_*`). */
export interface TwilioSenderOptions {
  /** `AC` + 32 hex characters. */
  accountSid: string;
  authToken: string;
  /** Sending number in E.164; used when no messaging service is set. */
  from?: string;
  /** `MG` + 32 hex characters; when set, Twilio picks the sender from the service's pool. */
  messagingServiceSid?: string;
  /** HTTP timeout in milliseconds (default 10 000). */
  timeoutMs?: number;
  /**
   * Origin that replaces `https://api.twilio.com` (path and query are kept), e.g. a
   * loopback server speaking Twilio's wire format in tests. Not read from the environment.
   */
  apiBaseUrl?: string;
}

/** Reads the Twilio settings of the parsed configuration. */
export function twilioOptionsFromConfig(config: AppConfig): TwilioSenderOptions {
  return {
    accountSid: config.TWILIO_ACCOUNT_SID ?? '',
    authToken: config.TWILIO_AUTH_TOKEN ?? '',
    from: config.TWILIO_FROM,
    messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID,
  };
}

/**
 * The SDK's HTTP client with the scheme and host of every request replaced: the custom
 * `httpClient` hook of twilio-node (advanced-examples/custom-http-client.md).
 */
function baseUrlRequestClient(baseUrl: string, timeoutMs: number): twilio.RequestClient {
  const base = new URL(baseUrl);
  const client = new twilio.RequestClient({ timeout: timeoutMs, keepAlive: false });
  const request = client.request.bind(client);
  client.request = (opts) => {
    const uri = new URL(opts.uri);
    uri.protocol = base.protocol;
    uri.host = base.host;
    return request({ ...opts, uri: uri.href });
  };
  return client;
}

/**
 * The `twilio` SMS channel: sends the rendered Spanish SMS through Twilio's Programmable
 * Messaging API (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`) with the
 * official `twilio` SDK. One-time codes carry `ValidityPeriod` = the code's validity in
 * seconds, so Twilio drops an SMS still queued after the code expired.
 *
 * Rejects SMS messages only; e-mail goes to another channel (see `RoutingMessageSender`).
 */
export class TwilioMessageSender implements MessageSender {
  private readonly client: twilio.Twilio;

  constructor(
    private readonly options: TwilioSenderOptions,
    private readonly renderer: MessageRenderer,
    private readonly logger: LoggerService = new Logger('Messages'),
  ) {
    const timeout = options.timeoutMs ?? 10_000;
    this.client = twilio(options.accountSid, options.authToken, {
      timeout,
      // Read nothing from the environment (CONVENTIONS #9): region and edge stay Twilio's defaults.
      env: {},
      ...(options.apiBaseUrl ? { httpClient: baseUrlRequestClient(options.apiBaseUrl, timeout) } : {}),
    });
  }

  /**
   * Renders `message` and submits it to Twilio; resolves when Twilio accepted it
   * (HTTP 201, status `queued`/`accepted`). Delivery to the handset is asynchronous.
   *
   * @throws DomainException MESSAGE_DELIVERY_FAILED (502) when Twilio answers an error
   *   (e.g. 400 code 21211 invalid `To`, 401 bad credentials) or cannot be reached.
   * @throws Error for a non-SMS message or a programming error in the message.
   */
  async send(message: OutboundMessage): Promise<void> {
    if (message.channel !== 'SMS') throw new Error(`the Twilio channel cannot send ${message.channel}`);
    const rendered = this.renderer.render(message);
    const minutes = Number(rendered.params.minutes);
    const validityPeriod = Number.isInteger(minutes) && minutes > 0 ? Math.min(minutes * 60, 36_000) : undefined;
    try {
      const sent = await this.client.messages.create({
        to: rendered.to,
        body: rendered.text,
        ...(this.options.messagingServiceSid
          ? { messagingServiceSid: this.options.messagingServiceSid }
          : { from: this.options.from ?? '' }),
        ...(validityPeriod ? { validityPeriod } : {}),
      });
      this.logger.log(
        {
          channel: 'SMS',
          to: rendered.to,
          template: rendered.template,
          twilioSid: sent.sid,
          twilioStatus: sent.status,
          delivery: 'twilio',
        },
        'SMS accepted by Twilio',
      );
    } catch (error) {
      const failure = error as { status?: number; code?: number | string; message?: string };
      this.logger.warn(
        {
          channel: 'SMS',
          to: rendered.to,
          template: rendered.template,
          ...(message.requestId ? { requestId: message.requestId } : {}),
          twilioHttpStatus: failure.status,
          twilioError: failure.code,
          delivery: 'twilio',
        },
        `SMS delivery failed: ${failure.message ?? String(error)}`,
      );
      throw new DomainException('MESSAGE_DELIVERY_FAILED', 'The SMS could not be delivered; try again later.');
    }
  }
}
