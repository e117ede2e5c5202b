import { z } from 'zod';

/** One kept frame of a session, with a signed URL valid for OBJECT_URL_TTL_SECONDS. */
export const SessionFrameSchema = z
  .object({
    id: z.uuid(),
    index: z.number().int().describe('position in the sampled sequence (0-based)'),
    timestampMs: z.number().int().describe('time in the video, milliseconds'),
    width: z.number().int().nullable().describe('pixels'),
    height: z.number().int().nullable().describe('pixels'),
    sharpness: z.number().nullable().describe('variance of the Laplacian (higher is sharper)'),
    url: z.string().describe('signed URL of the JPEG; expires'),
  })
  .meta({ id: 'SessionFrame' });

/** The video of a session as ffprobe read it, and its kept frames and artifacts. */
export const SessionMediaSchema = z
  .object({
    sessionId: z.uuid(),
    video: z
      .object({
        status: z.string().describe('PENDING | UPLOADING | UPLOADED | VALID | INVALID | EXPIRED | DELETED'),
        sizeBytes: z.number().int().nullable(),
        container: z.string().nullable(),
        videoCodec: z.string().nullable(),
        durationMs: z.number().int().nullable(),
        width: z.number().int().nullable().describe('as displayed (rotation applied), pixels'),
        height: z.number().int().nullable(),
        rotation: z.number().int().nullable().describe('degrees'),
      })
      .nullable()
      .describe('null before the upload starts'),
    framesSampled: z.number().int().nullable(),
    framesKept: z.number().int().nullable(),
    thumbnailUrl: z.string().nullable(),
    contactSheetUrl: z.string().nullable(),
    frames: z.array(SessionFrameSchema).describe('kept frames, in time order'),
  })
  .meta({ id: 'SessionMedia' });
export type SessionMediaView = z.infer<typeof SessionMediaSchema>;
