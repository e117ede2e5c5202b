import { z } from 'zod';

/**
 * A UUID path parameter, lower-cased: PostgreSQL compares uuids case-insensitively, but
 * ids also serve as map keys in code, so `A9CC…` and `a9cc…` must become the same string.
 */
export const UuidParamSchema = z
  .uuid()
  .transform((value) => value.toLowerCase())
  .describe('UUID');
