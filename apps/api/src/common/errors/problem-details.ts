import type { FieldError } from './domain.exception.js';

/**
 * The body of every error response: RFC 9457 "Problem Details for HTTP APIs"
 * (https://www.rfc-editor.org/rfc/rfc9457), served as `application/problem+json`,
 * extended with `code` (stable, see ERROR_CODES), `requestId` and `errors`.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  requestId: string;
  errors?: FieldError[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Builds a problem document; `type` is a stable URI derived from the code. */
export function buildProblem(input: {
  status: number;
  code: string;
  detail: string;
  requestId: string;
  instance?: string;
  errors?: FieldError[];
}): ProblemDetails {
  const problem: ProblemDetails = {
    type: `https://miinventario.mx/problems/${input.code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[input.status] ?? 'Error',
    status: input.status,
    detail: input.detail,
    code: input.code,
    requestId: input.requestId,
  };
  if (input.instance) problem.instance = input.instance;
  if (input.errors && input.errors.length > 0) problem.errors = input.errors;
  return problem;
}
