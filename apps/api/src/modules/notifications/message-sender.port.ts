/**
 * Port for messages sent to a person outside the app: one-time codes and store
 * invitations, by SMS or e-mail (DESIGN.md "API modules": notifications owns OTP
 * delivery channels). Adapters: console (embedded default), SMTP (nodemailer),
 * SMS (Twilio). The text is Spanish (es-MX), rendered from i18n keys by the adapter
 * layer; callers pass only the template name and its parameters.
 */
export type MessageChannel = 'SMS' | 'EMAIL';

/** Templates and the parameters each one needs. */
export interface MessageTemplates {
  /** Sign-in / sign-up code. `code`: 6 digits; `minutes`: validity. */
  'otp.login': { code: string; minutes: string };
  /** Code to confirm a new phone or e-mail on an existing account. */
  'otp.change-contact': { code: string; minutes: string };
  /** Invitation to a store. `storeName`, `role` (OWNER|OPERATOR), `inviterName`, `acceptUrl`. */
  'store.invitation': { storeName: string; role: string; inviterName: string; acceptUrl: string };
}

export type MessageTemplate = keyof MessageTemplates;

/** One outbound message. `to`: E.164 phone for SMS, lower-case address for EMAIL. */
export interface OutboundMessage<T extends MessageTemplate = MessageTemplate> {
  channel: MessageChannel;
  to: string;
  template: T;
  params: MessageTemplates[T];
  /** Request id, for logs and provider metadata. */
  requestId?: string;
}

/** A message as it was delivered (kept by the console adapter's dev outbox). */
export interface DeliveredMessage {
  channel: MessageChannel;
  to: string;
  template: MessageTemplate;
  /** Rendered subject (e-mail only). */
  subject?: string;
  /** Rendered Spanish text. */
  text: string;
  params: Record<string, string>;
  sentAt: string;
}

/**
 * Delivers a message. Resolves when the channel accepted it.
 *
 * @throws DomainException MESSAGE_DELIVERY_FAILED when the provider refuses or is unreachable.
 */
export interface MessageSender {
  send(message: OutboundMessage): Promise<void>;
}

/** Injection token of the {@link MessageSender} chosen by configuration. */
export const MESSAGE_SENDER = Symbol('MESSAGE_SENDER');

/** Injection token of the console adapter's outbox (present only with the console channel in non-production). */
export const DEV_OUTBOX = Symbol('DEV_OUTBOX');

/** Read side of the development outbox: the last messages sent to one recipient, newest first. */
export interface DevOutbox {
  list(to: string): DeliveredMessage[];
}
