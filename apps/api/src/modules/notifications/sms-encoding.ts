/**
 * SMS text encoding per 3GPP TS 23.038 (the GSM 7-bit default alphabet).
 *
 * A GSM-7 message fits 160 characters in one segment (153 per segment when
 * concatenated); one character outside that alphabet switches the whole message to
 * UCS-2, 70 characters per segment (67 when concatenated), which can double the cost
 * of an OTP message. Spanish "ó", "á", "í", "ú" are not in GSM-7 ("é", "ñ", "ü", "¿",
 * "¡" are), so {@link toGsm7} folds the missing accents before sending.
 */

/** The basic GSM 7-bit alphabet (one septet each), without the escape character. */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** The extension table: two septets each (escape + character). */
const GSM7_EXTENDED = '^{}\\[~]|€\f';

const BASIC = new Set(GSM7_BASIC);
const EXTENDED = new Set(GSM7_EXTENDED);

const PUNCTUATION: Record<string, string> = {
  '\u2018': "'",
  '\u2019': "'",
  '\u201C': '"',
  '\u201D': '"',
  '\u00AB': '"',
  '\u00BB': '"',
  '\u2013': '-',
  '\u2014': '-',
  '\u2026': '...',
  '\u00A0': ' ',
  '\t': ' ',
};

function isGsm7Char(char: string): boolean {
  return BASIC.has(char) || EXTENDED.has(char);
}

/**
 * Replaces characters outside the GSM-7 alphabet by their closest GSM-7 form when
 * one exists: accents the alphabet lacks are dropped ("código" → "codigo", "Más" →
 * "Mas"), typographic quotes and dashes become ASCII. Characters with no GSM-7 form
 * (emoji, other scripts) are kept, and the message then goes out as UCS-2.
 *
 * @param text any string; returns a string of the same meaning.
 */
export function toGsm7(text: string): string {
  let out = '';
  for (const char of text) {
    if (isGsm7Char(char)) {
      out += char;
      continue;
    }
    const punctuation = PUNCTUATION[char];
    if (punctuation !== undefined) {
      out += punctuation;
      continue;
    }
    const folded = char.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
    out += folded.length > 0 && [...folded].every(isGsm7Char) ? folded : char;
  }
  return out;
}

/** How an SMS body will be encoded and billed. */
export interface SmsSegmentInfo {
  encoding: 'GSM-7' | 'UCS-2';
  /** Length in the encoding's units: septets for GSM-7, UTF-16 code units for UCS-2. */
  units: number;
  /** Number of SMS segments the carrier bills (1 for 160 septets / 70 UCS-2 units or fewer). */
  segments: number;
}

/**
 * Counts the segments of an SMS body (3GPP TS 23.038 / 23.040 concatenation with a
 * 6-byte user-data header: 153 septets or 67 UCS-2 units per segment).
 */
export function smsSegments(text: string): SmsSegmentInfo {
  const chars = [...text];
  if (chars.every(isGsm7Char)) {
    const units = chars.reduce((sum, char) => sum + (EXTENDED.has(char) ? 2 : 1), 0);
    return { encoding: 'GSM-7', units, segments: units <= 160 ? 1 : Math.ceil(units / 153) };
  }
  const units = text.length;
  return { encoding: 'UCS-2', units, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}
