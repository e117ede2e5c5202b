import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { ValidationException } from '../../common/errors/domain.exception.js';
import type { MessageChannel } from '../notifications/message-sender.port.js';

/** A sign-in identifier in canonical form. */
export interface Identifier {
  kind: 'phone' | 'email';
  /** E.164 phone (`+525512345678`) or lower-case e-mail address. */
  value: string;
  channel: MessageChannel;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,63}$/;

/**
 * Normalises what a person typed: an e-mail (trimmed, lower-cased) or a phone
 * number parsed with libphonenumber-js, default region MX, into E.164
 * (`55 1234 5678` → `+525512345678`). Mobile and fixed-line numbers are accepted
 * (Mexico dials both the same way since 2019); the retired mobile prefixes
 * `+52 1` and `044`/`045` are dropped.
 *
 * @throws ValidationException (field `field`) when it is neither a valid phone nor an e-mail.
 */
export function normalizeIdentifier(raw: string, field = 'identifier'): Identifier {
  const input = raw.trim();
  if (input.includes('@')) {
    const email = input.toLowerCase();
    if (email.length <= 254 && EMAIL.test(email)) return { kind: 'email', value: email, channel: 'EMAIL' };
    throw new ValidationException([{ field, message: 'Not a valid e-mail address.', code: 'INVALID_EMAIL' }]);
  }
  const phone = parsePhoneNumberFromString(input, 'MX');
  if (phone && phone.isValid()) return { kind: 'phone', value: phone.number, channel: 'SMS' };
  // Mexico's retired mobile prefixes, still typed by many people: +52 1 …, 044 / 045 … (IFT, 2019).
  const legacy = phone?.number.match(/^\+52(?:1|04[45])(\d{10})$/);
  if (legacy) {
    const retry = parsePhoneNumberFromString(`+52${legacy[1]}`);
    if (retry && retry.isValid()) return { kind: 'phone', value: retry.number, channel: 'SMS' };
  }
  throw new ValidationException([
    { field, message: 'Not a valid phone number or e-mail address.', code: 'INVALID_IDENTIFIER' },
  ]);
}
