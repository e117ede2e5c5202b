import { Logger, type LoggerService } from '@nestjs/common';
import type { InMemoryDevOutbox } from './dev-outbox.js';
import type { MessageRenderer } from './message-renderer.js';
import type { MessageSender, OutboundMessage } from './message-sender.port.js';

/**
 * The `console` channel, the embedded default (issue 3): renders the Spanish message and
 * writes it to the server log (pino through the Nest logger, context `Messages`), so a
 * person running the API locally reads the code there. The log line's message is the
 * rendered text, code included, on purpose; the structured fields carry no `code` key
 * (pino's redaction would hide it). When an outbox is given (non-production only, see
 * `NotificationsModule`), the message is also kept there for automated tests.
 *
 * Never fails: {@link send} resolves once the line is written.
 */
export class ConsoleMessageSender implements MessageSender {
  constructor(
    private readonly renderer: MessageRenderer,
    private readonly outbox?: InMemoryDevOutbox,
    private readonly logger: LoggerService = new Logger('Messages'),
  ) {}

  /**
   * Renders and logs `message`, then records it in the outbox.
   *
   * @throws Error only for a programming error in the message (see `MessageRenderer.render`).
   */
  async send(message: OutboundMessage): Promise<void> {
    const rendered = this.renderer.render(message);
    const line = rendered.subject ? `${rendered.subject}\n${rendered.text}` : rendered.text;
    this.logger.log(
      {
        channel: rendered.channel,
        to: rendered.to,
        template: rendered.template,
        ...(message.requestId ? { requestId: message.requestId } : {}),
        delivery: 'console',
      },
      `[console ${rendered.channel} to ${rendered.to}] ${line}`,
    );
    this.outbox?.record({
      channel: rendered.channel,
      to: rendered.to,
      template: rendered.template,
      ...(rendered.subject !== undefined ? { subject: rendered.subject } : {}),
      text: rendered.text,
      params: rendered.params,
      sentAt: new Date().toISOString(),
    });
  }
}
