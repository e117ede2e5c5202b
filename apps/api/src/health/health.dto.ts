import { z } from 'zod';

/** `GET /health/live` body. */
export const LivenessSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness' });

const IndicatorSchema = z.record(z.string(), z.object({ status: z.string() }).catchall(z.unknown()));

/** `GET /health/ready` body (terminus shape): status and each dependency's state. */
export const ReadinessSchema = z
  .object({
    status: z.enum(['ok', 'degraded', 'error', 'shutting_down']),
    info: IndicatorSchema.optional(),
    error: IndicatorSchema.optional(),
    details: IndicatorSchema,
  })
  .meta({ id: 'Readiness' });
