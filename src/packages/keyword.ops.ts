// Keywords collection: one document per keyword slug, get-or-created by upsert against _id.
import type { AnyBulkWriteOperation, Db } from 'mongodb';
import * as z from 'zod/mini';
import { isDuplicateKeyError } from '../db/errors.js';

export interface KeywordDoc {
  _id: string;
  createdAt: Date;
}

/** A keyword as stored: lowercase letters, digits and single hyphens, 1-50 characters. */
export const KeywordSchema = z.string().check(
  z.trim(),
  z.toLowerCase(),
  z.minLength(1, 'Keyword is empty'),
  z.maxLength(50, 'Keyword is at most 50 characters'),
  z.regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'Keyword must be letters, digits and single hyphens'),
);

function keywords(db: Db) {
  return db.collection<KeywordDoc>('keywords');
}

/** atomic per keyword: one unordered bulk of upserts; each slug exists exactly once however many callers race. */
export async function upsertKeywords(db: Db, slugs: readonly string[]): Promise<void> {
  const now = new Date();
  const operations: AnyBulkWriteOperation<KeywordDoc>[] = slugs.map((slug) => ({
    updateOne: { filter: { _id: slug }, update: { $setOnInsert: { createdAt: now } }, upsert: true },
  }));
  try {
    await keywords(db).bulkWrite(operations, { ordered: false });
  } catch (error) {
    // Two concurrent upserts of a new _id can both try the insert; the loser's key now exists, so one retry settles it.
    if (!isDuplicateKeyError(error)) throw error;
    await keywords(db).bulkWrite(operations, { ordered: false });
  }
}
