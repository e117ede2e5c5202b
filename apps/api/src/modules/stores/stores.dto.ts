import { z } from 'zod';
import { singleLineText } from '../../common/http/text.js';

/**
 * Store giros (issue 3) as stored ASCII codes; clients show the Spanish label
 * (abarrotes, miscelánea, tienda de conveniencia, farmacia, papelería, ferretería,
 * verdulería, carnicería, panadería, otro). Same list as the `stores_giro_check`
 * constraint of the initial migration.
 */
export const GIROS = [
  'abarrotes',
  'miscelanea',
  'tienda_conveniencia',
  'farmacia',
  'papeleria',
  'ferreteria',
  'verduleria',
  'carniceria',
  'panaderia',
  'otro',
] as const;
export type Giro = (typeof GIROS)[number];

/** Membership roles of a store: an OWNER manages the store, its members and billing; an OPERATOR records and sees inventories. */
export const STORE_ROLES = ['OWNER', 'OPERATOR'] as const;
export type StoreRole = (typeof STORE_ROLES)[number];

/** Default time zone of a store (DESIGN.md "Data"). */
export const DEFAULT_TIME_ZONE = 'America/Mexico_City';

/** An IANA zone name (`America/Mexico_City`, `UTC`, `Etc/GMT+6`): letters, digits, `_+-` and slashes; no offsets. */
const IANA_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

/** Whether `value` is an IANA time zone this runtime knows (ECMA-402 `Intl.DateTimeFormat`). */
export function isIanaTimeZone(value: string): boolean {
  if (value.length > 64 || !IANA_NAME.test(value)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** The canonical spelling of a known zone (`america/mexico_city` → `America/Mexico_City`); the input otherwise. */
export function canonicalTimeZone(value: string): string {
  if (!isIanaTimeZone(value)) return value;
  return new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone;
}

const name = singleLineText(120).describe('Name of the shop as its owner calls it');
const giro = z.enum(GIROS).describe('Kind of shop: a code the client shows in Spanish');
const address = z.string().trim().max(300).nullable().describe('Free-text address; empty or null for none');
const timeZone = z
  .string()
  .trim()
  .refine(isIanaTimeZone, { message: 'Not an IANA time zone (e.g. America/Mexico_City).' })
  .overwrite(canonicalTimeZone)
  .describe("IANA time zone used to show the store's dates");

/** `POST /stores` body. */
export const CreateStoreSchema = z
  .strictObject({
    name,
    giro,
    address: address.optional(),
    // Optional rather than `.default()`: generated clients would otherwise type it as required.
    timeZone: timeZone
      .optional()
      .describe(`IANA time zone used to show the store's dates; default ${DEFAULT_TIME_ZONE}`),
  })
  .meta({ id: 'CreateStore' });
export type CreateStoreDto = z.infer<typeof CreateStoreSchema>;

/** `PATCH /stores/{storeId}` body: the fields to change (at least one). */
export const UpdateStoreSchema = z
  .strictObject({
    name: name.optional(),
    giro: giro.optional(),
    address: address.optional(),
    timeZone: timeZone.optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message: 'Give at least one field to change.',
  })
  .meta({ id: 'UpdateStore' });
export type UpdateStoreDto = z.infer<typeof UpdateStoreSchema>;

/** A store as one of its members sees it, with the caller's role in it. Times are UTC. */
export const StoreViewSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    giro: z.enum(GIROS),
    address: z.string().nullable(),
    timeZone: z.string().describe('IANA time zone, e.g. America/Mexico_City'),
    role: z.enum(STORE_ROLES).describe("the caller's role in this store"),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Store' });
export type StoreView = z.infer<typeof StoreViewSchema>;

export const StoreListSchema = z.object({ items: z.array(StoreViewSchema) }).meta({ id: 'StoreList' });

/** One member of a store. Contact data is shown to co-members only (row-level security). */
export const MemberViewSchema = z
  .object({
    userId: z.uuid(),
    displayName: z.string().nullable(),
    phone: z.string().nullable().describe('E.164'),
    email: z.string().nullable(),
    role: z.enum(STORE_ROLES),
    joinedAt: z.iso.datetime(),
  })
  .meta({ id: 'StoreMember' });
export type MemberView = z.infer<typeof MemberViewSchema>;

export const MemberListSchema = z.object({ items: z.array(MemberViewSchema) }).meta({ id: 'StoreMemberList' });

/** `PATCH /stores/{storeId}/members/{userId}` body. */
export const ChangeMemberRoleSchema = z
  .strictObject({ role: z.enum(STORE_ROLES) })
  .meta({ id: 'ChangeStoreMemberRole' });
export type ChangeMemberRoleDto = z.infer<typeof ChangeMemberRoleSchema>;

/** `POST /stores/{storeId}/invitations` body. */
export const CreateInvitationSchema = z
  .strictObject({
    identifier: z
      .string()
      .trim()
      .min(3)
      .max(254)
      .describe('Phone number (Mexican numbers without +52 are accepted) or e-mail address of the person invited'),
    role: z.enum(STORE_ROLES).optional().describe('Role the person gets on accepting; default OPERATOR'),
  })
  .meta({ id: 'CreateInvitation' });
export type CreateInvitationDto = z.infer<typeof CreateInvitationSchema>;

/** A pending invitation as the store's OWNERs see it. */
export const InvitationViewSchema = z
  .object({
    id: z.uuid(),
    storeId: z.uuid(),
    identifier: z.string().describe('E.164 phone or lower-case e-mail the invitation is addressed to'),
    channel: z.enum(['SMS', 'EMAIL']),
    role: z.enum(STORE_ROLES),
    status: z.enum(['PENDING', 'EXPIRED']),
    invitedBy: z.uuid().nullable(),
    acceptUrl: z.string().describe('link sent to the invitee; works only for the person it is addressed to'),
    expiresAt: z.iso.datetime(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'StoreInvitation' });
export type InvitationView = z.infer<typeof InvitationViewSchema>;

export const InvitationListSchema = z
  .object({ items: z.array(InvitationViewSchema) })
  .meta({ id: 'StoreInvitationList' });

/** An invitation addressed to the caller's phone or e-mail. */
export const MyInvitationViewSchema = z
  .object({
    id: z.uuid(),
    store: z.object({ id: z.uuid(), name: z.string(), giro: z.enum(GIROS) }),
    role: z.enum(STORE_ROLES),
    inviterName: z.string().nullable(),
    expiresAt: z.iso.datetime(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'MyInvitation' });
export type MyInvitationView = z.infer<typeof MyInvitationViewSchema>;

export const MyInvitationListSchema = z
  .object({ items: z.array(MyInvitationViewSchema) })
  .meta({ id: 'MyInvitationList' });

/** Path ids. */
export { UuidParamSchema } from '../../common/http/params.js';
