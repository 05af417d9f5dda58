// BASELINE ONLY (never served by the API): likePost and recordView by optimistic locking — read, change in memory,
// write back only if the post's version is unchanged, else retry (at most 10 times, with jittered backoff).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db, ObjectId } from 'mongodb';

export const MAX_RETRIES = 10;

interface VersionedPost {
  _id: ObjectId;
  likedBy: string[];
  likeCount: number;
  viewCount: number;
  version: number;
}

/** applied: the change was written (or was already there); retries: lost version races before that, or before giving up. */
export interface OptimisticOutcome {
  status: 'applied' | 'not-found' | 'gave-up';
  retries: number;
}

/** Exponential backoff with full jitter: 0 .. min(50, 2 * 2^attempt) ms. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(50, 2 * 2 ** attempt);
}

async function withVersionRetry(
  db: Db,
  postId: ObjectId,
  change: (post: VersionedPost) => Partial<VersionedPost> | null,
): Promise<OptimisticOutcome> {
  const posts = db.collection<VersionedPost>('posts');
  for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    const post = await posts.findOne({ _id: postId });
    if (!post) return { status: 'not-found', retries: attempt };
    const fields = change(post);
    if (fields === null) return { status: 'applied', retries: attempt };
    const { matchedCount } = await posts.updateOne({ _id: postId, version: post.version }, { $set: { ...fields, version: post.version + 1 } });
    if (matchedCount === 1) return { status: 'applied', retries: attempt };
  }
  return { status: 'gave-up', retries: MAX_RETRIES };
}

/** Adds the user to likedBy and 1 to likeCount, unless already there; correct, but every lost race costs a retry. */
export function optimisticLikePost(db: Db, postId: ObjectId, userId: string): Promise<OptimisticOutcome> {
  return withVersionRetry(db, postId, (post) =>
    post.likedBy.includes(userId) ? null : { likedBy: [...post.likedBy, userId], likeCount: post.likeCount + 1 },
  );
}

/** Adds 1 to viewCount; correct, but every lost race costs a retry. */
export function optimisticRecordView(db: Db, postId: ObjectId): Promise<OptimisticOutcome> {
  return withVersionRetry(db, postId, (post) => ({ viewCount: post.viewCount + 1 }));
}
