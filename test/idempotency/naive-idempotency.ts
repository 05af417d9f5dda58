// DELIBERATELY WRONG idempotency, kept only to prove the fault tests can fail: the same faults and the same retrying
// client that leave the real implementation exact make these apply effects twice.
import type { Db, ObjectId } from 'mongodb';
import { isDuplicateKeyError } from '../../src/db/errors.js';

interface NaivePost {
  _id: ObjectId;
  viewCount: number;
}

/**
 * Naive keyed recordView, the check done as read-then-write: look the key up, count the view, remember the key.
 * Two attempts with one key that overlap both find no key and both count; an attempt whose $inc was applied but
 * whose reply was lost (or whose key write failed) leaves no key behind, so its retry counts again.
 */
export async function naiveCheckThenView(db: Db, postId: ObjectId, key: string): Promise<void> {
  const seen = db.collection<{ _id: string }>('naiveKeys');
  if (await seen.findOne({ _id: key })) return;
  await db.collection<NaivePost>('posts').updateOne({ _id: postId }, { $inc: { viewCount: 1 } });
  try {
    await seen.insertOne({ _id: key });
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
  }
}

/**
 * Naive effect without its key: a request layer that re-executes after a failure (as ours does after a crash or
 * a lost reply) but a view write that does not record the key, so a view applied before the failure counts twice.
 */
export async function naiveUnkeyedView(db: Db, postId: ObjectId): Promise<void> {
  await db.collection<NaivePost>('posts').updateOne({ _id: postId }, { $inc: { viewCount: 1 } });
}
