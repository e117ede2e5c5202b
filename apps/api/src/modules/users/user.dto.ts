import { z } from 'zod';
import type { User } from './user.model.js';

/** A person's account as the API returns it. */
export const UserViewSchema = z
  .object({
    id: z.uuid(),
    phone: z.string().nullable().describe('E.164, e.g. +525512345678'),
    email: z.string().nullable(),
    displayName: z.string().nullable(),
    role: z.enum(['USER', 'OWNER', 'OPERATOR', 'ADMIN']),
    locale: z.string(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'User' });

export type UserView = z.infer<typeof UserViewSchema>;

export function toUserView(user: User): UserView {
  return {
    id: user.id,
    phone: user.phone,
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    locale: user.locale,
    createdAt: user.createdAt.toISOString(),
  };
}
