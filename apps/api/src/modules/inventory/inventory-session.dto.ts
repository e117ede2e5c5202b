import { z } from 'zod';
import { FAILURE_CODES, SESSION_STATES } from './session-state.js';

/** A uuid path parameter (lower-cased). */
export { UuidParamSchema } from '../../common/http/params.js';

/** `POST /stores/{storeId}/inventory-sessions` body (optional: `{}` or no body starts a session). */
export const StartSessionSchema = z
  .strictObject({
    idempotencyKey: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{8,100}$/, '8–100 letters, digits or _ . : -')
      .optional()
      .describe(
        'client key (e.g. a UUID made when the owner tapped "start"): sending it again for the same store returns ' +
          'the same session and holds no second credit',
      ),
  })
  .meta({ id: 'StartInventorySession' });
export type StartSessionDto = z.infer<typeof StartSessionSchema>;

/** The body as validated: a request without one starts a session like `{}`. */
export const StartSessionBodySchema = z.preprocess((body) => body ?? {}, StartSessionSchema);

const at = () => z.iso.datetime().nullable();

/** An inventory session as the members of its store see it. Times are UTC (ISO 8601). */
export const SessionViewSchema = z
  .object({
    id: z.uuid(),
    storeId: z.uuid(),
    state: z.enum(SESSION_STATES),
    failureCode: z
      .enum(FAILURE_CODES)
      .nullable()
      .describe('why it FAILED (null otherwise); clients show it in Spanish'),
    failureDetail: z.string().nullable().describe('English detail of the failure, for support'),
    progress: z.number().int().min(0).max(100).describe('processing progress, percent'),
    attempts: z.number().int().describe('processing attempts started so far'),
    createdBy: z.uuid().describe('the member who started it'),
    idempotencyKey: z.string().nullable(),
    createdAt: z.iso.datetime().describe('entered CREATED: the credit was held'),
    uploadingAt: at().describe('entered UPLOADING (last time)'),
    uploadedAt: at().describe('entered UPLOADED (last time)'),
    queuedAt: at().describe('entered QUEUED (last time; a retry re-enters it)'),
    processingAt: at().describe('entered PROCESSING (last time)'),
    readyAt: at().describe('report READY: the credit was spent'),
    failedAt: at().describe('FAILED: the credit was released'),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'InventorySession' });
export type SessionView = z.infer<typeof SessionViewSchema>;

/** A page of sessions, newest first. */
export const SessionPageSchema = z
  .object({
    items: z.array(SessionViewSchema),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next (older) page; null at the end'),
  })
  .meta({ id: 'InventorySessionPage' });
export type SessionPage = z.infer<typeof SessionPageSchema>;

/** Query of `GET /stores/{storeId}/inventory-sessions`. */
export const ListSessionsQuerySchema = z
  .strictObject({
    limit: z.coerce.number().int().min(1).max(100).default(20).describe('sessions per page, 1–100'),
    cursor: z.uuid().optional().describe('nextCursor of the previous page'),
    state: z.enum(SESSION_STATES).optional().describe('only sessions in this state'),
  })
  .meta({ id: 'ListInventorySessionsQuery' });
export type ListSessionsQueryDto = z.infer<typeof ListSessionsQuerySchema>;

/** OpenAPI descriptions of {@link ListSessionsQuerySchema} (query schemas are not documented by themselves). */
export const LIST_SESSIONS_QUERY_DOCS = {
  limit: {
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    description: 'sessions per page',
  },
  cursor: {
    name: 'cursor',
    required: false,
    schema: { type: 'string', format: 'uuid' },
    description: 'nextCursor of the previous page',
  },
  state: {
    name: 'state',
    required: false,
    enum: [...SESSION_STATES],
    description: 'only sessions in this state',
  },
} as const;
