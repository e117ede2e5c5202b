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
    /** Whether this process also runs job processors (the embedded default does). */
    RUN_WORKER: booleanFromString.default(true),

    S3_ENDPOINT: z.string().url().optional(),
    S3_REGION: z.string().default('us-east-1'),
    S3_BUCKET: z.string().default('miinventario'),
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),
    S3_FORCE_PATH_STYLE: booleanFromString.default(true),

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
    if (env.S3_ENDPOINT && (!env.S3_ACCESS_KEY_ID || !env.S3_SECRET_ACCESS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3_ACCESS_KEY_ID'],
        message: 'S3_ENDPOINT needs S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY',
      });
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
