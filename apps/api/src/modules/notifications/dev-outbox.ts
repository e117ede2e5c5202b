import type { DeliveredMessage, DevOutbox } from './message-sender.port.js';

/** Limits of the {@link InMemoryDevOutbox}. */
export interface DevOutboxLimits {
  /** Messages kept per recipient (oldest dropped first). Default 50. */
  perRecipient: number;
  /** Messages kept in all (oldest dropped first). Default 1000. */
  total: number;
}

/**
 * Recipient key: trimmed, lower-case, without a leading `+`, so `?to=+52…` still matches
 * when a query string decoded the `+` of an E.164 number into a space.
 */
function recipientKey(to: string): string {
  return to.trim().toLowerCase().replace(/^\+/, '');
}

/**
 * The console channel's outbox: the last messages "sent", in memory, for development and
 * automated tests (DESIGN.md "API surface": `GET /api/v1/dev/outbox?to=…`, console
 * channel only). Bounded: {@link DevOutboxLimits}. Lost on restart; per process.
 */
export class InMemoryDevOutbox implements DevOutbox {
  private readonly byRecipient = new Map<string, DeliveredMessage[]>();
  /** Every kept message, oldest first. */
  private readonly order: DeliveredMessage[] = [];
  private readonly limits: DevOutboxLimits;

  constructor(limits: Partial<DevOutboxLimits> = {}) {
    this.limits = { perRecipient: limits.perRecipient ?? 50, total: limits.total ?? 1000 };
  }

  /** Keeps a frozen copy of `message`, dropping the oldest ones beyond the limits. */
  record(message: DeliveredMessage): void {
    const entry = Object.freeze({ ...message, params: Object.freeze({ ...message.params }) }) as DeliveredMessage;
    const key = recipientKey(entry.to);
    const list = this.byRecipient.get(key) ?? [];
    list.push(entry);
    this.byRecipient.set(key, list);
    this.order.push(entry);
    if (list.length > this.limits.perRecipient) this.forget(list[0]!);
    while (this.order.length > this.limits.total) this.forget(this.order[0]!);
  }

  /**
   * The messages kept for `to` (E.164 phone or e-mail, case-insensitive), newest first;
   * an empty array for an unknown recipient.
   */
  list(to: string): DeliveredMessage[] {
    return [...(this.byRecipient.get(recipientKey(to)) ?? [])].reverse();
  }

  /** Number of messages kept in all. */
  get size(): number {
    return this.order.length;
  }

  private forget(entry: DeliveredMessage): void {
    const key = recipientKey(entry.to);
    const list = this.byRecipient.get(key);
    if (list) {
      const index = list.indexOf(entry);
      if (index >= 0) list.splice(index, 1);
      if (list.length === 0) this.byRecipient.delete(key);
    }
    const position = this.order.indexOf(entry);
    if (position >= 0) this.order.splice(position, 1);
  }
}
