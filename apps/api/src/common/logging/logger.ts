import type { LoggerService } from '@nestjs/common';
import { pino, type Logger as PinoLogger } from 'pino';
import { currentContext } from '../http/request-context.js';

/**
 * Creates the process's pino logger (JSON lines on stdout).
 *
 * Every line written while a request or job is running carries its `requestId`
 * (taken from the request context), whichever logger wrote it.
 */
export function createRootLogger(level: string): PinoLogger {
  return pino({
    level,
    base: { service: 'miinventario-api' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin(_merge, _level, logger) {
      const requestId = currentContext()?.requestId;
      // Fastify's request loggers already carry it as a binding: do not write it twice.
      if (!requestId || 'requestId' in logger.bindings()) return {};
      return { requestId };
    },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.password',
        '*.refreshToken',
        '*.accessToken',
        '*.code',
      ],
      censor: '[redacted]',
    },
    serializers: { err: serializeError },
  });
}

/**
 * pino's error serializer, minus SQL parameters: TypeORM/pg errors carry the bound values
 * (phones, e-mails, names), which must not reach the logs.
 */
function serializeError(error: Error): Record<string, unknown> {
  const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  delete serialized.parameters;
  const driverError = serialized.driverError as Record<string, unknown> | undefined;
  if (driverError && typeof driverError === 'object') {
    serialized.driverError = { ...driverError, parameters: undefined };
  }
  return serialized;
}

/** Routes Nest's own logging (`new Logger(ctx)`) into pino. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: PinoLogger) {}

  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    params: unknown[],
  ): void {
    const context = typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    if (typeof message === 'object' && message !== null && !(message instanceof Error)) {
      const msg = typeof params[0] === 'string' ? (params[0] as string) : undefined;
      this.logger[level]({ context, ...(message as object) }, msg);
      return;
    }
    if (message instanceof Error) {
      this.logger[level]({ context, err: message }, message.message);
      return;
    }
    const stack = level === 'error' && typeof params[0] === 'string' ? params[0] : undefined;
    this.logger[level]({ context, ...(stack ? { stack } : {}) }, String(message));
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
}
