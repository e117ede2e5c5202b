import { StandardSchemaValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationException, type FieldError } from '../errors/domain.exception.js';

/** Turns Standard Schema (zod) issues into field errors of a 400 VALIDATION_FAILED problem. */
export function validationExceptionFactory(issues: readonly StandardSchemaV1.Issue[]): ValidationException {
  return new ValidationException(
    issues.map((issue) => ({
      field:
        (issue.path ?? [])
          .map((segment) => (typeof segment === 'object' ? String(segment.key) : String(segment)))
          .join('.') || '(body)',
      message: issue.message,
    })),
  );
}

/**
 * Nest 12's Standard Schema pipe (zod schemas given as `@Body({ schema })`,
 * `@Param('id', { schema })`, `@Query({ schema })`), whose field errors name where the
 * bad value came from: `storeId` for a path parameter, `query.limit` for a query
 * field, the dotted path for a body field.
 */
export class ApiValidationPipe extends StandardSchemaValidationPipe {
  constructor() {
    super({ exceptionFactory: validationExceptionFactory });
  }

  override async transform<T = unknown>(value: T, metadata: ArgumentMetadata): Promise<T> {
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (!(error instanceof ValidationException) || metadata.type === 'body') throw error;
      const prefix =
        metadata.type === 'param' ? (metadata.data ?? 'path') : `query${metadata.data ? `.${metadata.data}` : ''}`;
      const fields: FieldError[] = (error.fieldErrors ?? []).map((fieldError) => ({
        ...fieldError,
        field:
          fieldError.field === '(body)'
            ? prefix
            : `${metadata.type === 'param' ? prefix : 'query'}.${fieldError.field}`,
      }));
      throw new ValidationException(fields);
    }
  }
}
