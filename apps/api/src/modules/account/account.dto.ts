import { z } from 'zod';

/** `PATCH /me` body: only what a person may change about themself. */
export const UpdateMeSchema = z
  .strictObject({
    displayName: z
      .string()
      .trim()
      .min(1)
      .max(80)
      .nullable()
      .optional()
      .describe('name shown to store members; null clears it'),
    locale: z.enum(['es-MX', 'en-US']).optional(),
  })
  .refine((value) => Object.keys(value).length > 0, { message: 'nothing to change' })
  .meta({ id: 'UpdateMe' });
export type UpdateMeDto = z.infer<typeof UpdateMeSchema>;

/** `POST /me/contact` body: the new phone or e-mail, which receives a code. */
export const ContactChangeRequestSchema = z
  .strictObject({ identifier: z.string().trim().min(3).max(254).describe('new phone number or e-mail address') })
  .meta({ id: 'ContactChangeRequest' });
export type ContactChangeRequestDto = z.infer<typeof ContactChangeRequestSchema>;

/** `POST /me/contact/verify` body. */
export const ContactChangeVerifySchema = z
  .strictObject({
    identifier: z.string().trim().min(3).max(254),
    code: z
      .string()
      .trim()
      .regex(/^\d{6}$/, 'six digits'),
  })
  .meta({ id: 'ContactChangeVerify' });
export type ContactChangeVerifyDto = z.infer<typeof ContactChangeVerifySchema>;
