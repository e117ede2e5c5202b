import { z } from 'zod';

/**
 * Characters a one-line name may not contain: C0 controls (BEL, ESC…), DEL and C1 controls.
 * They print as garbage (or as terminal escape sequences in logs and CLIs) and never belong
 * in a shop or product name. NUL is left to the global rule (400 INVALID_TEXT for every text
 * field, see ProblemDetailsFilter).
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0001-\u001f\u007f-\u009f]/;

/** A trimmed one-line text of 1–`max` characters with no control characters (names). */
export function singleLineText(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((value) => !CONTROL_CHARACTERS.test(value), { message: 'must not contain control characters' });
}
