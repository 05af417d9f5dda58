// Recognises MongoDB server errors the ops turn into typed results.
import { MongoServerError } from 'mongodb';

/** E11000: a unique index (or _id) already holds this key. */
export function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}
