import type { OnModuleDestroy } from '@nestjs/common';
import type { MessageChannel, MessageSender, OutboundMessage } from './message-sender.port.js';

/**
 * The {@link MessageSender} bound to `MESSAGE_SENDER`: hands each message to the adapter
 * configured for its channel (`MESSAGE_SMS_CHANNEL`, `MESSAGE_EMAIL_CHANNEL`; see
 * `NotificationsModule`). Adds no retry: a caller that must retry does so itself.
 */
export class RoutingMessageSender implements MessageSender, OnModuleDestroy {
  constructor(private readonly senders: Readonly<Record<MessageChannel, MessageSender>>) {}

  /**
   * Sends `message` through its channel's adapter.
   *
   * @throws DomainException MESSAGE_DELIVERY_FAILED (502) from the adapter; Error for an unknown channel.
   */
  send(message: OutboundMessage): Promise<void> {
    const sender = this.senders[message.channel];
    if (!sender) return Promise.reject(new Error(`no sender for channel ${String(message.channel)}`));
    return sender.send(message);
  }

  /** Releases the adapters' connections (SMTP transport) when the app stops. */
  onModuleDestroy(): void {
    for (const sender of new Set(Object.values(this.senders))) {
      (sender as Partial<{ close(): void }>).close?.();
    }
  }
}
