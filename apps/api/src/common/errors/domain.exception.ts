import { ERROR_CODES, type ErrorCode } from './error-codes.js';

/** One invalid field of a request: `field` is a dotted path (`items.0.quantity`). */
export interface FieldError {
  field: string;
  message: string;
  code?: string;
}

/**
 * A failure the domain knows about, carrying a stable {@link ErrorCode}.
 *
 * Thrown by services; the problem-details filter turns it into an RFC 9457
 * `application/problem+json` response with the code's HTTP status.
 */
export class DomainException extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    /** English detail for developers; clients show a Spanish text chosen by `code`. */
    readonly detail: string,
    readonly fieldErrors?: FieldError[],
    /** Extra response headers such as `Retry-After`. */
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
    this.name = 'DomainException';
    this.status = ERROR_CODES[code];
  }
}

/** 400 VALIDATION_FAILED with the list of invalid fields. */
export class ValidationException extends DomainException {
  constructor(fieldErrors: FieldError[]) {
    super('VALIDATION_FAILED', 'The request is not valid; see errors for each field.', fieldErrors);
  }
}

/** 404 NOT_FOUND; also used for resources of another store so their existence is not revealed. */
export class NotFoundDomainException extends DomainException {
  constructor(resource: string) {
    super('NOT_FOUND', `${resource} was not found.`);
  }
}
