// Rate-limit counters: one document per rule, caller and fixed window, counted by one atomic upsert in MongoDB,
// so every serverless instance shares the same count; a TTL index (src/db/indexes.ts) removes past windows.
import type { Db } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';

export interface RateLimitWindowDoc {
  /** "<rule>:<subject>:<window start, epoch seconds>", e.g. "likePost:user:alice:1767225600". */
  _id: string;
  /** Calls counted in the window, admitted or not. */
  count: number;
  /** The window's end; the TTL index deletes the document after it. */
  expiresAt: Date;
}

export const RATE_LIMITS_COLLECTION = 'rateLimits';

function windows(db: Db) {
  return db.collection<RateLimitWindowDoc>(RATE_LIMITS_COLLECTION);
}

/** atomic: adds 1 to the window's counter, creating the window document on its first call, and returns the new count. */
export async function countCallInWindow(db: Db, key: string, expiresAt: Date): Promise<number> {
  const hit = () =>
    windows(db).findOneAndUpdate(
      { _id: key },
      { $inc: { count: 1 }, $setOnInsert: { expiresAt } },
      { upsert: true, returnDocument: 'after', projection: { count: 1 } },
    );
  let counted: Pick<RateLimitWindowDoc, 'count'> | null;
  try {
    counted = await hit();
  } catch (error) {
    // Two first calls of a window can both try the insert; the loser's key exists now, so one retry updates it.
    if (!isDuplicateKeyError(error)) throw error;
    counted = await hit();
  }
  if (!counted) throw new Error(`rate-limit upsert of ${key} returned no document`);
  return counted.count;
}
