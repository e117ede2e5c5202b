import { describe, expect, it } from 'vitest';
import { validationExceptionFactory } from '../../src/common/http/validation.pipe.js';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import { ERROR_CODES } from '../../src/common/errors/error-codes.js';
import { buildProblem } from '../../src/common/errors/problem-details.js';

describe('problem details', () => {
  it('builds an RFC 9457 document with a stable type URI per code', () => {
    const problem = buildProblem({
      status: 402,
      code: 'INSUFFICIENT_CREDITS',
      detail: 'No credit.',
      requestId: 'req-12345678',
    });
    expect(problem).toEqual({
      type: 'https://miinventario.mx/problems/insufficient-credits',
      title: 'Payment Required',
      status: 402,
      detail: 'No credit.',
      code: 'INSUFFICIENT_CREDITS',
      requestId: 'req-12345678',
    });
  });

  it('gives a domain exception the status registered for its code', () => {
    for (const [code, status] of Object.entries(ERROR_CODES)) {
      expect(new DomainException(code as keyof typeof ERROR_CODES, 'x').status).toBe(status);
    }
  });

  it('turns zod issue paths into dotted field names', () => {
    const exception = validationExceptionFactory([
      { message: 'Too small', path: ['items', 0, 'quantity'] },
      { message: 'Unrecognized key: "extra"', path: [] },
    ]);
    expect(exception.code).toBe('VALIDATION_FAILED');
    expect(exception.fieldErrors).toEqual([
      { field: 'items.0.quantity', message: 'Too small' },
      { field: '(body)', message: 'Unrecognized key: "extra"' },
    ]);
  });
});
