import { z } from 'zod';

const booleanFromString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

/**
 * The environment schema: every variable the API and worker read, with its default.
 *
 * Parsed once at boot by {@link loadConfig}; nothing else reads `process.env`
 * (CONVENTIONS #9). Defaults make `npm start` work offline on one machine
 * (DESIGN.md "Configuration"): embedded PostgreSQL on 5433, in-process queue,
 * local files under `DATA_DIR`. `.env.example` documents the same variables.
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    /** TCP port of the HTTP API (seed port 3142). */
    PORT: z.coerce.number().int().min(0).max(65535).default(3142),
    HOST: z.string().default('0.0.0.0'),
    /** Public base URL printed at start and used in links. */
    PUBLIC_URL: z.url().optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Folder for embedded PostgreSQL data, local objects and generated keys. */
    DATA_DIR: z.string().default('.data'),

    /**
     * Migrator connection (a superuser or a role with CREATEROLE that can act as
     * `miinventario_owner`). Absent: an embedded PostgreSQL is started.
     */
    DATABASE_URL: z.string().url().optional(),
    /** Connection the API uses as the RLS-bound application role; derived from DATABASE_URL when absent. */
    DATABASE_APP_URL: z.string().url().optional(),
    /** Password the provisioner gives the application role `miinventario_app`. */
    DATABASE_APP_PASSWORD: z.string().min(8).default('miinventario-app-dev'),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    /** Port of the embedded PostgreSQL (seed port 5433). */
    EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(5433),
    /** Run pending migrations at boot (the embedded default always does). */
    MIGRATIONS_RUN: booleanFromString.default(true),

    /** Redis for BullMQ and rate limits; absent → in-process queue and in-memory limits. */
    REDIS_URL: z.string().url().optional(),
    /** Rate limits (issue 3): general window in seconds, per user / API key / anonymous IP. */
    RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86400).default(60),
    /** Requests one caller may make in RATE_LIMIT_WINDOW_SECONDS (all /api/v1 routes together). */
    RATE_LIMIT_MAX: z.coerce.number().int().min(1).max(1_000_000).default(300),
    /** Window of the one-time-code limits (POST /auth/otp/request and /auth/otp/verify), seconds. */
    RATE_LIMIT_OTP_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86400).default(900),
    /** One-time-code requests per client IP per window, per route (shops behind carrier NAT share IPs). */
    RATE_LIMIT_OTP_IP_MAX: z.coerce.number().int().min(1).max(1_000_000).default(30),
    /** One-time-code requests per phone / e-mail per window, per route, whatever the IP. */
    RATE_LIMIT_OTP_IDENTIFIER_MAX: z.coerce.number().int().min(1).max(1_000_000).default(10),
    /** Prefix of the rate-limit keys in Redis (lets deployments share one Redis). */
    RATE_LIMIT_REDIS_PREFIX: z.string().min(1).max(64).default('miinventario:rl:'),
    /** Whether this process also runs job processors (the embedded default does). */
    RUN_WORKER: booleanFromString.default(true),

    S3_ENDPOINT: z.string().url().optional(),
    S3_REGION: z.string().default('us-east-1'),
    S3_BUCKET: z.string().default('miinventario'),
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),
    S3_FORCE_PATH_STYLE: booleanFromString.default(true),
    /** Seconds a signed object URL (frames, thumbnails, contact sheets) stays valid. */
    OBJECT_URL_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(7 * 86400)
      .default(900),
    /** HMAC key of the local adapter's signed object URLs; absent → generated under DATA_DIR. */
    OBJECT_URL_SECRET: z.string().min(32).optional(),

    /** Largest video accepted by the tus upload endpoint, in bytes (500 MB). */
    UPLOAD_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(5 * 1024 * 1024 * 1024)
      .default(500 * 1024 * 1024),
    /** Video containers accepted (tus metadata `filetype`/`filename` and ffprobe's format). */
    UPLOAD_ALLOWED_CONTAINERS: commaList.default(['mp4', 'mov', 'webm', '3gp']),
    /** Hours after which an unfinished upload expires (its session FAILS with UPLOAD_EXPIRED). */
    UPLOAD_EXPIRY_HOURS: z.coerce
      .number()
      .min(0.01)
      .max(24 * 30)
      .default(24),
    /** Seconds between two runs of the expired-upload cleanup. */
    UPLOAD_CLEANUP_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86400).default(600),

    /** ffmpeg binary; absent → the one shipped by @ffmpeg-installer. */
    FFMPEG_PATH: z.string().min(1).optional(),
    /** ffprobe binary; absent → the one shipped by @ffprobe-installer. */
    FFPROBE_PATH: z.string().min(1).optional(),
    /** Shortest video accepted, seconds. */
    VIDEO_MIN_SECONDS: z.coerce.number().min(0).max(3600).default(5),
    /** Longest video accepted, seconds. */
    VIDEO_MAX_SECONDS: z.coerce.number().min(1).max(3600).default(180),
    /** Frames sampled per second of video before selection. */
    FRAME_SAMPLE_FPS: z.coerce.number().min(0.1).max(30).default(2),
    /** Longest side of an extracted frame, pixels. */
    FRAME_MAX_SIDE_PX: z.coerce.number().int().min(160).max(4096).default(1280),
    /** Most frames per minute of video sent to a paid (cloud) vision provider. */
    FRAME_MAX_PER_MINUTE: z.coerce.number().int().min(1).max(600).default(16),
    /** Sharpness (variance of the Laplacian on a grey 512 px copy) below which a frame counts as blurred. */
    FRAME_BLUR_THRESHOLD: z.coerce.number().min(0).default(60),
    /** Perceptual-hash Hamming distance (of 64 bits) at or below which two frames are near-duplicates. */
    FRAME_DUPLICATE_MAX_DISTANCE: z.coerce.number().int().min(0).max(64).default(6),

    /** Jobs one worker process runs at once. */
    QUEUE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
    /** Attempts per job (first run included) before it fails for good. */
    QUEUE_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
    /** First retry delay in ms; doubles each attempt (exponential backoff). */
    QUEUE_BACKOFF_MS: z.coerce.number().int().min(0).max(3_600_000).default(5000),
    /** Prefix of the BullMQ keys in Redis. */
    QUEUE_PREFIX: z.string().min(1).max(64).default('miinventario'),
    /** Seconds a stopping process waits for its running jobs before releasing them. */
    SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
    /** Seconds between two sweeper runs (stuck QUEUED/PROCESSING sessions). */
    SWEEPER_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86400).default(60),
    /** Minutes in QUEUED or PROCESSING after which a session counts as stuck. */
    SWEEPER_STUCK_MINUTES: z.coerce
      .number()
      .min(0.01)
      .max(24 * 60)
      .default(15),
    /** Re-enqueues of a stuck session before it FAILS with PROCESSING_TIMEOUT. */
    SWEEPER_MAX_REQUEUES: z.coerce.number().int().min(0).max(100).default(3),

    /** Vision provider used until an admin changes the setting: barcode (offline) | openai | anthropic | openai-compatible. */
    VISION_PROVIDER: z.enum(['barcode', 'openai', 'anthropic', 'openai-compatible']).default('barcode'),
    OPENAI_API_KEY: z.string().min(1).optional(),
    /** OpenAI API base URL (tests point it at a loopback server). */
    OPENAI_BASE_URL: z.url().optional(),
    OPENAI_MODEL: z.string().min(1).default('gpt-4.1-mini'),
    ANTHROPIC_API_KEY: z.string().min(1).optional(),
    /** Anthropic API base URL (tests point it at a loopback server). */
    ANTHROPIC_BASE_URL: z.url().optional(),
    ANTHROPIC_MODEL: z.string().min(1).default('claude-sonnet-4-6'),
    /** Self-hosted OpenAI-compatible vision server (Ollama, vLLM), e.g. http://localhost:11434/v1. */
    OPENAI_COMPATIBLE_BASE_URL: z.url().optional(),
    OPENAI_COMPATIBLE_API_KEY: z.string().min(1).optional(),
    OPENAI_COMPATIBLE_MODEL: z.string().min(1).default('qwen2.5vl:7b'),
    /** Seconds one vision call may take before it is retried. */
    VISION_TIMEOUT_SECONDS: z.coerce.number().min(1).max(600).default(60),
    /** Retries of one vision call on 429/5xx/timeouts (exponential backoff). */
    VISION_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
    /**
     * Prices in USD per million tokens, JSON: {"model": {"input": 0.4, "output": 1.6}}; merged over
     * the built-in table of the vision module. Used for COGS.
     */
    VISION_PRICES_JSON: z.string().default('{}'),
    /** Longest side, pixels, of an image sent to a cloud vision provider. */
    VISION_IMAGE_MAX_SIDE_PX: z.coerce.number().int().min(256).max(4096).default(1024),
    /** Report lines with a confidence below this (0–1) are flagged needsReview. */
    REVIEW_CONFIDENCE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.6),

    /** How SMS (one-time codes, invitations) leave: `console` = server log + dev outbox, `twilio`. */
    MESSAGE_SMS_CHANNEL: z.enum(['console', 'twilio']).default('console'),
    /** How e-mail (one-time codes, invitations) leaves: `console` = server log + dev outbox, `smtp`. */
    MESSAGE_EMAIL_CHANNEL: z.enum(['console', 'smtp']).default('console'),
    /** Accept a `console` channel with NODE_ENV=production (codes then go to the production log only). */
    MESSAGE_CONSOLE_IN_PRODUCTION: booleanFromString.default(false),
    /** `smtp://user:pass@host:587` or `smtps://user:pass@host:465`; wins over the SMTP_HOST… variables. */
    SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
    SMTP_HOST: z.string().min(1).optional(),
    /** SMTP port; default 465 when SMTP_SECURE, 587 otherwise. */
    SMTP_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    SMTP_USER: z.string().optional(),
    SMTP_PASSWORD: z.string().optional(),
    /** Implicit TLS (port 465); false → STARTTLS when offered. Default: true only on port 465. */
    SMTP_SECURE: booleanFromString.optional(),
    /** From header of every e-mail (RFC 5322 mailbox). */
    EMAIL_FROM: z
      .string()
      .regex(/^[^\r\n]*@[^\r\n]*$/, 'must be an e-mail address, optionally with a display name')
      .default('MiInventario <no-reply@miinventario.mx>'),
    /** Twilio account SID (`AC` + 32 hex). */
    TWILIO_ACCOUNT_SID: z
      .string()
      .regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits')
      .optional(),
    TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
    /** Sending phone number in E.164 (+15005550006); or set TWILIO_MESSAGING_SERVICE_SID. */
    TWILIO_FROM: z
      .string()
      .regex(/^\+[1-9][0-9]{6,14}$/, 'must be an E.164 phone number')
      .optional(),
    /** Twilio messaging service (`MG` + 32 hex); wins over TWILIO_FROM. */
    TWILIO_MESSAGING_SERVICE_SID: z
      .string()
      .regex(/^MG[0-9a-fA-F]{32}$/, 'must be MG followed by 32 hex digits')
      .optional(),

    /**
     * Proxies to believe for the client address (rate limits, audit IPs): `false`
     * (default: the socket's address) or comma-separated addresses/CIDRs of your load
     * balancers (e.g. `10.0.0.0/8`). Never "trust everything" nor a bare hop count
     * (Fastify 5 refuses hop counts: they cannot validate the peer), so clients cannot
     * forge X-Forwarded-For.
     */
    TRUST_PROXY: z
      .string()
      .regex(/^(false|[0-9a-fA-F:.,/ ]*[:./][0-9a-fA-F:.,/ ]*)$/, 'false, or proxy addresses/CIDRs')
      .default('false')
      .transform((value): false | string[] =>
        value === 'false'
          ? false
          : value
              .split(',')
              .map((item) => item.trim())
              .filter(Boolean),
      ),
    /** Largest JSON body accepted, in bytes (uploads go through tus, not JSON). */
    BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(50 * 1024 * 1024)
      .default(1024 * 1024),
    /** Comma-separated origins allowed by CORS; empty → no cross-origin access. */
    CORS_ORIGINS: commaList.default([]),
    /** Comma-separated phone numbers or e-mails that become ADMIN when they verify a code. */
    ADMIN_IDENTIFIERS: commaList.default([]),
    /** Ed25519 private key (PKCS#8 PEM) signing access tokens; absent → generated under DATA_DIR (not in production). */
    JWT_PRIVATE_KEY: z.string().optional(),
    /** Ed25519 public key (SPKI PEM) matching JWT_PRIVATE_KEY. */
    JWT_PUBLIC_KEY: z.string().optional(),
    JWT_ISSUER: z.string().min(1).default('miinventario'),
    JWT_AUDIENCE: z.string().min(1).default('miinventario-api'),
    /** Access-token lifetime in seconds (15 min). */
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(900),
    /** Refresh-token lifetime in seconds (7 days); every use rotates it. */
    REFRESH_TOKEN_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(3600)
      .max(90 * 86400)
      .default(7 * 86400),
    /** Secret mixed into one-time-code hashes (HMAC-SHA256); absent → generated under DATA_DIR (not in production). */
    OTP_PEPPER: z.string().min(32).optional(),
    /** One-time-code validity in seconds (10 min, NIST SP 800-63B 5.1.3). */
    OTP_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
    /** Wrong guesses that kill a code. */
    OTP_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(5),
    /** Minimum seconds between two codes for one identifier. */
    OTP_RESEND_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
    /** Codes one identifier may ask for per hour. */
    OTP_HOURLY_LIMIT: z.coerce.number().int().min(1).max(100).default(5),
    /**
     * Credits: minutes after which a hold with neither commit nor void is reported to admins
     * (never voided automatically). Default 25 h: an upload may stay open 24 h before it expires.
     */
    CREDIT_HOLD_STALE_MINUTES: z.coerce
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 60)
      .default(1500),
    /** Credits: MXN per USD used to convert provider costs (COGS) to centavos; decimal, at most 6 decimals. */
    USD_MXN_RATE: z
      .string()
      .regex(/^\d{1,6}(\.\d{1,6})?$/, 'must be a decimal such as 17.0 (at most 6 decimals)')
      .refine((value) => Number(value) > 0, 'must be positive')
      .default('17.0'),
    /** Serve Swagger UI at /docs and the spec at /docs/json. */
    DOCS_ENABLED: booleanFromString.default(true),
  })
  .superRefine((env, ctx) => {
    if (
      env.NODE_ENV === 'production' &&
      env.DATABASE_URL &&
      env.DATABASE_APP_PASSWORD === 'miinventario-app-dev' &&
      !env.DATABASE_APP_URL
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_APP_PASSWORD'],
        message: 'set a real DATABASE_APP_PASSWORD (or DATABASE_APP_URL) in production',
      });
    }
    if (env.NODE_ENV === 'production' && (!env.JWT_PRIVATE_KEY || !env.JWT_PUBLIC_KEY || !env.OTP_PEPPER)) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_PRIVATE_KEY'],
        message: 'production needs JWT_PRIVATE_KEY, JWT_PUBLIC_KEY and OTP_PEPPER shared by every replica',
      });
    }
    if (Boolean(env.JWT_PRIVATE_KEY) !== Boolean(env.JWT_PUBLIC_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_PUBLIC_KEY'],
        message: 'set JWT_PRIVATE_KEY and JWT_PUBLIC_KEY together',
      });
    }
    if (env.NODE_ENV === 'production' && !env.S3_ENDPOINT && !env.OBJECT_URL_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['OBJECT_URL_SECRET'],
        message: 'production with local object storage needs OBJECT_URL_SECRET shared by every replica (signed URLs)',
      });
    }
    if (env.S3_ENDPOINT && (!env.S3_ACCESS_KEY_ID || !env.S3_SECRET_ACCESS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3_ACCESS_KEY_ID'],
        message: 'S3_ENDPOINT needs S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY',
      });
    }
    // Outbound messages (issue 3): a chosen channel needs its settings, and production
    // refuses the console channel (codes would reach only the log) unless told otherwise.
    if (env.MESSAGE_EMAIL_CHANNEL === 'smtp' && !env.SMTP_URL && !env.SMTP_HOST) {
      ctx.addIssue({
        code: 'custom',
        path: ['SMTP_HOST'],
        message: 'MESSAGE_EMAIL_CHANNEL=smtp needs SMTP_URL or SMTP_HOST',
      });
    }
    if (!env.SMTP_URL && Boolean(env.SMTP_USER) !== Boolean(env.SMTP_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['SMTP_PASSWORD'], message: 'set SMTP_USER and SMTP_PASSWORD together' });
    }
    if (env.MESSAGE_SMS_CHANNEL === 'twilio') {
      if (!env.TWILIO_ACCOUNT_SID || !env.TWILIO_AUTH_TOKEN) {
        ctx.addIssue({
          code: 'custom',
          path: ['TWILIO_ACCOUNT_SID'],
          message: 'MESSAGE_SMS_CHANNEL=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN',
        });
      }
      if (!env.TWILIO_FROM && !env.TWILIO_MESSAGING_SERVICE_SID) {
        ctx.addIssue({
          code: 'custom',
          path: ['TWILIO_FROM'],
          message: 'MESSAGE_SMS_CHANNEL=twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID',
        });
      }
    }
    if (env.NODE_ENV === 'production' && !env.MESSAGE_CONSOLE_IN_PRODUCTION) {
      for (const [key, channel, real] of [
        ['MESSAGE_SMS_CHANNEL', env.MESSAGE_SMS_CHANNEL, 'twilio'],
        ['MESSAGE_EMAIL_CHANNEL', env.MESSAGE_EMAIL_CHANNEL, 'smtp'],
      ] as const) {
        if (channel === 'console') {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `production sends no ${key === 'MESSAGE_SMS_CHANNEL' ? 'SMS' : 'e-mail'} with the console channel: set ${key}=${real} (or MESSAGE_CONSOLE_IN_PRODUCTION=true to write codes to the log)`,
          });
        }
      }
    }
  });

/** The parsed, typed configuration. */
export type AppConfig = z.infer<typeof envSchema>;

/** Thrown by {@link loadConfig} with one line per invalid variable. */
export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`Invalid environment:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses an environment record (default: `process.env`) into {@link AppConfig}.
 * Empty strings count as unset so `.env` files can leave a variable blank.
 *
 * @throws ConfigError listing every invalid variable.
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): AppConfig {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`));
  }
  return result.data;
}
