import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainException, type FieldError } from './domain.exception.js';
import { ERROR_CODES, type ErrorCode } from './error-codes.js';
import { PROBLEM_CONTENT_TYPE, buildProblem } from './problem-details.js';

interface Mapped {
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_BODY',
};

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  402: 'INSUFFICIENT_CREDITS',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

function isPgError(error: unknown): error is { code: string; message: string; severity?: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as { code: string }).code) &&
    'severity' in error
  );
}

/**
 * Maps any thrown value to one {@link ProblemDetails} response (RFC 9457), once,
 * for the whole API (CONVENTIONS #8):
 * - {@link DomainException}: its code and status;
 * - Nest `HttpException` (unknown route, guard refusals): by status;
 * - Fastify body errors: oversized → 413 PAYLOAD_TOO_LARGE, bad JSON → 400 MALFORMED_BODY,
 *   wrong content type → 415;
 * - PostgreSQL: 42501 (row-level security refused a write) → 404 NOT_FOUND (the other
 *   store's resource is not revealed); 28000 (no request identity) and anything else → 500;
 *   connection failures → 503 DATABASE_UNAVAILABLE.
 * 5xx details never leak internals; the request id ties the response to the log line.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemDetails');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const mapped = this.map(exception, request);
    if (mapped.status >= 500) {
      this.logger.error({ err: exception, code: mapped.code }, 'request failed');
    }
    const problem = buildProblem({
      status: mapped.status,
      code: mapped.code,
      detail: mapped.detail,
      requestId: String(request.id),
      instance: request.url.split('?')[0],
      errors: mapped.errors,
    });
    if (reply.sent) return;
    if (mapped.headers) void reply.headers(mapped.headers);
    void reply.status(mapped.status).header('content-type', PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  }

  map(exception: unknown, request: FastifyRequest): Mapped {
    if (exception instanceof DomainException) {
      return {
        status: exception.status,
        code: exception.code,
        detail: exception.detail,
        errors: exception.fieldErrors,
        headers: exception.headers,
      };
    }
    if (exception instanceof HttpException && exception.cause) {
      // Fastify's own errors (body parsing, limits) arrive wrapped by the Nest adapter.
      const cause = exception.cause as { code?: unknown };
      if (typeof cause.code === 'string' && cause.code in FASTIFY_CODES) return this.map(cause, request);
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message =
        typeof body === 'object' && body !== null && 'message' in body ? (body as { message: unknown }).message : body;
      if (status === 404 && /^Cannot (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)/.test(String(message))) {
        return {
          status,
          code: 'ROUTE_NOT_FOUND',
          detail: `No route matches ${request.method} ${request.url.split('?')[0]}.`,
        };
      }
      const code = STATUS_CODES[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_FAILED');
      const detail = Array.isArray(message) ? message.join('; ') : String(message);
      return { status, code, detail: status >= 500 ? 'Internal error.' : detail };
    }
    const fastifyCode = (exception as { code?: unknown } | null)?.code;
    if (typeof fastifyCode === 'string' && fastifyCode in FASTIFY_CODES) {
      const code = FASTIFY_CODES[fastifyCode]!;
      return { status: ERROR_CODES[code], code, detail: (exception as Error).message };
    }
    if (isPgError(exception)) {
      if (exception.code === '42501') {
        return { status: 404, code: 'TENANT_ACCESS_DENIED', detail: 'The resource was not found.' };
      }
      if (exception.code.startsWith('08') || exception.code === '57P01' || exception.code === '53300') {
        return {
          status: 503,
          code: 'DATABASE_UNAVAILABLE',
          detail: 'The database is unavailable; retry later.',
          headers: { 'retry-after': '5' },
        };
      }
      if (exception.code === '22021' || exception.code === '22P05') {
        // invalid_byte_sequence_for_encoding (a NUL character) / untranslatable_character
        return { status: 400, code: 'INVALID_TEXT', detail: 'Text fields cannot contain NUL or invalid characters.' };
      }
      if (exception.code === '28000') {
        return { status: 500, code: 'NO_REQUEST_IDENTITY', detail: 'Internal error.' };
      }
    }
    const statusCode = (exception as { statusCode?: unknown } | null)?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      const code = STATUS_CODES[statusCode] ?? 'VALIDATION_FAILED';
      return { status: statusCode, code, detail: (exception as Error).message };
    }
    return { status: 500, code: 'INTERNAL_ERROR', detail: 'Internal error.' };
  }
}
