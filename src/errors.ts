// Typed error results: expected failures a client can act on, exposed as `... on Error { code }`.
// IDEMPOTENCY_KEY_REUSED and IN_PROGRESS are answered before a mutation executes, so they arrive as GraphQL errors
// with extensions.code (src/idempotency/); listing them here keeps one vocabulary of codes in the schema.
export const ERROR_CODES = [
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'CONFLICT',
  'VALIDATION',
  'FORBIDDEN',
  'RATE_LIMITED',
  'IDEMPOTENCY_KEY_REUSED',
  'IN_PROGRESS',
  'INSUFFICIENT_FUNDS',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base class of every expected failure; anything else thrown is masked as "Unexpected error." and logged. */
export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;
}

export class NotFoundError extends AppError {
  readonly code = 'NOT_FOUND';
}

export class AlreadyExistsError extends AppError {
  readonly code = 'ALREADY_EXISTS';
}

export class ConflictError extends AppError {
  readonly code = 'CONFLICT';
  constructor(
    message: string,
    readonly currentVersion: number | null = null,
  ) {
    super(message);
  }
}

export interface FieldProblem {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  readonly code = 'VALIDATION';
  constructor(
    message: string,
    readonly problems: FieldProblem[] = [],
  ) {
    super(message);
  }
}

export class ForbiddenError extends AppError {
  readonly code = 'FORBIDDEN';
}

export class RateLimitedError extends AppError {
  readonly code = 'RATE_LIMITED';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export class InsufficientFundsError extends AppError {
  readonly code = 'INSUFFICIENT_FUNDS';
  constructor(
    message: string,
    /** The balance read right after the refused debit. */
    readonly available: number,
  ) {
    super(message);
  }
}

/** What an op returns: its value, or the expected failure that explains why its write matched nothing. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: AppError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: AppError): Result<T> {
  return { ok: false, error };
}

/** The result with its value mapped; failures pass through. */
export function mapResult<T, U>(result: Result<T>, map: (value: T) => U): Result<U> {
  return result.ok ? ok(map(result.value)) : result;
}

/** The value, or throws the error for the errors plugin to turn into the field's error result. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}
