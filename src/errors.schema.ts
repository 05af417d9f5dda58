// GraphQL types of the typed error results: the Error interface, ErrorCode, one object per error class.
import { builder } from './builder.js';
import {
  AlreadyExistsError,
  AppError,
  ConflictError,
  ERROR_CODES,
  ForbiddenError,
  InsufficientFundsError,
  NotFoundError,
  RateLimitedError,
  ValidationError,
} from './errors.js';

export const ErrorCodeEnum = builder.enumType('ErrorCode', { values: ERROR_CODES });

const ErrorInterface = builder.interfaceRef<AppError>('Error').implement({
  description: 'An expected failure the client can act on; `code` is stable, `message` is for people.',
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.field({ type: ErrorCodeEnum, resolve: (error) => error.code }),
  }),
});

builder.objectType(NotFoundError, { name: 'NotFoundError', interfaces: [ErrorInterface] });
builder.objectType(AlreadyExistsError, { name: 'AlreadyExistsError', interfaces: [ErrorInterface] });
builder.objectType(ForbiddenError, { name: 'ForbiddenError', interfaces: [ErrorInterface] });

builder.objectType(ConflictError, {
  name: 'ConflictError',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    currentVersion: t.exposeInt('currentVersion', {
      nullable: true,
      description: 'The version the document has now, when the conflict is about `expectedVersion`.',
    }),
  }),
});

const FieldProblemRef = builder.objectRef<{ path: string; message: string }>('FieldProblem').implement({
  fields: (t) => ({ path: t.exposeString('path'), message: t.exposeString('message') }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ problems: t.field({ type: [FieldProblemRef], resolve: (error) => error.problems }) }),
});

builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ retryAfterSeconds: t.exposeInt('retryAfterSeconds') }),
});

builder.objectType(InsufficientFundsError, {
  name: 'InsufficientFundsError',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    available: t.exposeInt('available', { description: 'The balance, read right after the refused debit.' }),
  }),
});
