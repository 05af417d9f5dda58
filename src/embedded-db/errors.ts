// Server-side error type carrying MongoDB error codes so replies match what the driver expects from mongod.
import type { Document } from 'bson';

export const CODE_NAMES: Record<number, string> = {
  1: 'InternalError',
  2: 'BadValue',
  4: 'NoSuchKey',
  9: 'FailedToParse',
  11: 'UserNotFound',
  14: 'TypeMismatch',
  20: 'IllegalOperation',
  26: 'NamespaceNotFound',
  27: 'IndexNotFound',
  43: 'CursorNotFound',
  48: 'NamespaceExists',
  52: 'DollarPrefixedFieldName',
  59: 'CommandNotFound',
  66: 'ImmutableField',
  67: 'CannotCreateIndex',
  72: 'InvalidOptions',
  73: 'InvalidNamespace',
  85: 'IndexOptionsConflict',
  86: 'IndexKeySpecsConflict',
  115: 'CommandNotSupported',
  263: 'OperationNotSupportedInTransaction',
  10334: 'BSONObjectTooLarge',
  40324: 'Location40324',
  40602: 'Location40602',
  121: 'DocumentValidationFailure',
  165: 'ViewDepthLimitExceeded',
  166: 'CommandNotSupportedOnView',
  167: 'OptionNotSupportedOnView',
  40601: 'Location40601',
  51183: 'Location51183',
  51132: 'Location51132',
  13113: 'MergeStageNoMatchingDocument',
  51191: 'Location51191',
  15975: 'Location15975',
  171: 'CannotIndexParallelArrays',
  40414: 'Location40414',
  40415: 'Location40415',
  51024: 'Location51024',
  13: 'Unauthorized',
  17: 'ProtocolError',
  18: 'AuthenticationFailed',
  334: 'MechanismUnavailable',
  40: 'ConflictingUpdateOperators',
  28: 'PathNotViable',
  11000: 'DuplicateKey',
  17419: 'BSONObjectTooLarge',
};

/** Codes referred to by name where the number alone would not say what it is. */
export const ErrorCodes = {
  CommandNotSupportedOnView: 166,
  OptionNotSupportedOnView: 167,
  ViewDepthLimitExceeded: 165,
} as const;

export class DbError extends Error {
  readonly code: number;
  readonly extra: Document | undefined;

  constructor(code: number, message: string, extra?: Document) {
    super(message);
    this.code = code;
    this.extra = extra;
  }

  get codeName(): string {
    return CODE_NAMES[this.code] ?? 'UnknownError';
  }
}

export const badValue = (msg: string): DbError => new DbError(2, msg);
export const notSupported = (msg: string): DbError => new DbError(115, msg);

/** Maps an exception thrown anywhere (mingo, bson, our code) to a DbError, guessing the mongod code from mingo's message. */
export function toDbError(err: unknown): DbError {
  if (err instanceof DbError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/immutable field/i.test(message)) return new DbError(66, message);
  if (/dollar \(\$\) prefixed field/i.test(message)) return new DbError(52, message);
  if (/unknown update operator/i.test(message)) {
    const op = /'([^']+)'/.exec(message)?.[1] ?? '?';
    return new DbError(9, `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
  }
  if (/unknown (query )?operator/i.test(message)) return new DbError(2, message);
  if (/unknown pipeline operator|unrecognized pipeline stage|invalid pipeline operator/i.test(message)) return new DbError(40324, message);
  if (/non-numeric/i.test(message)) return new DbError(14, message);
  if (err instanceof Error && err.name === 'BSONError') return new DbError(2, message);
  if (err instanceof Error && err.constructor.name === 'MingoError') return new DbError(2, message);
  return new DbError(1, message);
}
