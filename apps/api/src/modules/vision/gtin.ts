/**
 * GTIN helpers (GS1 General Specifications §7.9, check digit; §2.1.2 GTIN formats).
 *
 * Every barcode is stored and compared as a zero-padded GTIN-14, so a UPC-A read as 12
 * digits, the same code read as a 13-digit EAN with a leading zero, and its UPC-E (8 digits,
 * zero-suppressed) form are one product.
 */

/** GS1 mod-10 check digit of `body` (digits without the check digit). */
export function gs1CheckDigit(body: string): number {
  let sum = 0;
  // Weights 3,1,3,1… from the rightmost digit of the body.
  for (let i = 0; i < body.length; i += 1) {
    const digit = body.charCodeAt(body.length - 1 - i) - 48;
    sum += digit * (i % 2 === 0 ? 3 : 1);
  }
  return (10 - (sum % 10)) % 10;
}

/** Whether `code` is 8, 12, 13 or 14 digits with a valid GS1 check digit. */
export function isValidGtin(code: string): boolean {
  if (!/^(\d{8}|\d{12}|\d{13}|\d{14})$/.test(code)) return false;
  return gs1CheckDigit(code.slice(0, -1)) === code.charCodeAt(code.length - 1) - 48;
}

/**
 * Expands an 8-digit UPC-E (number system 0 or 1) to its 12-digit UPC-A
 * (GS1 General Specifications §5.2.2.4.2, zero-suppression rules).
 * Returns null when `upce` is not a UPC-E with number system 0/1.
 */
export function expandUpcE(upce: string): string | null {
  if (!/^[01]\d{7}$/.test(upce)) return null;
  const ns = upce[0];
  const d = upce.slice(1, 7);
  const check = upce[7];
  const last = d[5];
  let body: string;
  if (last === '0' || last === '1' || last === '2') body = `${d[0]}${d[1]}${last}0000${d[2]}${d[3]}${d[4]}`;
  else if (last === '3') body = `${d[0]}${d[1]}${d[2]}00000${d[3]}${d[4]}`;
  else if (last === '4') body = `${d[0]}${d[1]}${d[2]}${d[3]}00000${d[4]}`;
  else body = `${d[0]}${d[1]}${d[2]}${d[3]}${d[4]}0000${last}`;
  return `${ns}${body}${check}`;
}

/**
 * Normalises a decoded barcode to a GTIN-14 (14 digits, left-padded with zeros).
 *
 * @param code digits as read; `format` `UPC-E` (or an 8-digit code starting 0/1 with that
 *   format) is expanded to UPC-A first. EAN-8 stays an 8-digit GTIN (padded).
 * @returns the GTIN-14, or null when the code is not a valid GTIN (bad length or check digit).
 */
export function toGtin14(code: string, format?: string | null): string | null {
  const digits = code.trim();
  let gtin = digits;
  if (format && /upc-?e/i.test(format) && digits.length === 8) {
    const expanded = expandUpcE(digits);
    if (!expanded) return null;
    gtin = expanded;
  } else if (format && /upc-?e/i.test(format) && digits.length === 7) {
    // Some decoders drop the number system digit (0).
    const expanded = expandUpcE(`0${digits}`);
    if (!expanded) return null;
    gtin = expanded;
  }
  if (!isValidGtin(gtin)) return null;
  return gtin.padStart(14, '0');
}

/** The shortest usual form of a GTIN-14 for display: EAN-8, UPC-A (12) or EAN-13. */
export function displayGtin(gtin14: string): string {
  if (/^000000\d{8}$/.test(gtin14)) return gtin14.slice(6);
  if (/^00\d{12}$/.test(gtin14)) return gtin14.slice(2);
  if (/^0\d{13}$/.test(gtin14)) return gtin14.slice(1);
  return gtin14;
}
