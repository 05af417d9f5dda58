// Every database operation on posts. Likes live in the post (likedBy + likeCount changed together), so
// likeCount equals the number of distinct likers after any mix of concurrent likes and unlikes.
import { ObjectId, type Db } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';
import { appendRecentKey } from '../idempotency/effect-keys.js';
import { type AppError, ConflictError, fail, ForbiddenError, NotFoundError, ok, type Result } from '../errors.js';

export interface PostDoc {
  _id: ObjectId;
  title: string;
  body: string;
  authorId: string;
  packageName: string;
  likedBy: string[];
  likeCount: number;
  viewCount: number;
  lastViewedAt: Date | null;
  createdAt: Date;
  version: number;
  /** The idempotency effectKey of the createPost that made it (unique when present), so a retry finds it. */
  idempotencyKey?: string;
  /** effectKeys of the latest keyed recordView calls (bounded), so a retried view is counted once. */
  recentViewKeys?: string[];
  /** idempotency effectKey of the latest keyed updatePost, so its retry is recognized while no edit followed. */
  lastEditKey?: string;
}

/** A post as read: never the likers, only whether the viewer is one of them. */
export type PostView = Omit<PostDoc, 'likedBy'> & { viewerHasLiked?: boolean };

/** The one projection of posts: the database computes viewerHasLiked, so the list of likers never leaves it. */
export function postProjection(viewerId: string | null) {
  return {
    title: 1,
    body: 1,
    authorId: 1,
    packageName: 1,
    likeCount: 1,
    viewCount: 1,
    lastViewedAt: 1,
    createdAt: 1,
    version: 1,
    // $literal: a user id is token data and must never be read as a field path or operator.
    ...(viewerId === null ? {} : { viewerHasLiked: { $in: [{ $literal: viewerId }, { $ifNull: ['$likedBy', []] }] } }),
  };
}

function posts(db: Db) {
  return db.collection<PostDoc>('posts');
}

/**
 * atomic: inserts one post with fresh counters. Without an effectKey a retry of this call makes a second post; with
 * one, the post carries it under a unique index, so a retry's insert fails and the first post is returned instead
 * (`created: false`, so the caller counts the post only once).
 */
export async function insertPost(
  db: Db,
  input: { title: string; body: string; authorId: string; packageName: string },
  effectKey: string | null = null,
): Promise<{ post: PostView; created: boolean }> {
  const doc: PostDoc = {
    _id: new ObjectId(),
    ...input,
    likedBy: [],
    likeCount: 0,
    viewCount: 0,
    lastViewedAt: null,
    createdAt: new Date(),
    version: 1,
    ...(effectKey === null ? {} : { idempotencyKey: effectKey }),
  };
  try {
    await posts(db).insertOne(doc);
  } catch (error) {
    if (effectKey === null || !isDuplicateKeyError(error)) throw error;
    // Read after the refused insert: the post an earlier execution of this same request created.
    const existing = await posts(db).findOne({ idempotencyKey: effectKey }, { projection: postProjection(input.authorId) });
    if (!existing) throw error;
    return { post: existing, created: false };
  }
  const { likedBy: _likers, idempotencyKey: _key, ...view } = doc;
  return { post: { ...view, viewerHasLiked: false }, created: true };
}

/** atomic: adds the viewer to likedBy and 1 to likeCount only if the viewer is not there yet; idempotent per user. */
export async function addLike(db: Db, postId: ObjectId, viewerId: string): Promise<Result<PostView>> {
  const updated = await posts(db).findOneAndUpdate(
    { _id: postId, likedBy: { $ne: viewerId } },
    { $push: { likedBy: viewerId }, $inc: { likeCount: 1 } },
    { returnDocument: 'after', projection: postProjection(viewerId) },
  );
  return updated ? ok(updated) : explainUnchangedPost(db, postId, viewerId);
}

/** atomic: removes the viewer from likedBy and 1 from likeCount only if the viewer is there; idempotent per user. */
export async function removeLike(db: Db, postId: ObjectId, viewerId: string): Promise<Result<PostView>> {
  const updated = await posts(db).findOneAndUpdate(
    { _id: postId, likedBy: viewerId },
    { $pull: { likedBy: viewerId }, $inc: { likeCount: -1 } },
    { returnDocument: 'after', projection: postProjection(viewerId) },
  );
  return updated ? ok(updated) : explainUnchangedPost(db, postId, viewerId);
}

/** After a like/unlike/keyed view matched nothing: the post is already in the wanted state (success) or does not exist. */
async function explainUnchangedPost(db: Db, postId: ObjectId, viewerId: string | null): Promise<Result<PostView>> {
  const current = await findPost(db, postId, viewerId);
  return current ? ok(current) : fail(new NotFoundError(`No post with id "${postId.toHexString()}".`));
}

/**
 * atomic: adds exactly 1 to viewCount and moves lastViewedAt to the database clock, never backwards
 * ($max with $$NOW, so instances or primaries with skewed clocks cannot rewind it). With an effectKey the same write
 * records it among the post's last RECENT_EFFECT_KEYS view keys and is refused when it is already there, so a
 * retried request counts once; the read after a refusal tells "already counted" (success) from NOT_FOUND.
 */
export async function addView(db: Db, postId: ObjectId, viewerId: string | null, effectKey: string | null = null): Promise<Result<PostView>> {
  const updated = await posts(db).findOneAndUpdate(
    effectKey === null ? { _id: postId } : { _id: postId, recentViewKeys: { $ne: effectKey } },
    [
      {
        $set: {
          viewCount: { $add: ['$viewCount', 1] },
          lastViewedAt: { $max: ['$lastViewedAt', '$$NOW'] },
          ...(effectKey === null ? {} : { recentViewKeys: appendRecentKey('recentViewKeys', effectKey) }),
        },
      },
    ],
    { returnDocument: 'after', projection: postProjection(viewerId) },
  );
  if (updated) return ok(updated);
  return effectKey === null ? fail(new NotFoundError(`No post with id "${postId.toHexString()}".`)) : explainUnchangedPost(db, postId, viewerId);
}

/**
 * atomic: edits the post only if the viewer is its author and its version still equals expectedVersion, and bumps it.
 * With an effectKey the edit records it as lastEditKey, so a retry of an edit that was applied (and not followed by
 * another) is answered success by the read after the refusal, not CONFLICT.
 */
export async function updatePostIfVersion(
  db: Db,
  input: { postId: ObjectId; viewerId: string; expectedVersion: number; title?: string; body?: string },
  effectKey: string | null = null,
): Promise<Result<PostView>> {
  const changes: Partial<Pick<PostDoc, 'title' | 'body' | 'lastEditKey'>> = {};
  if (input.title !== undefined) changes.title = input.title;
  if (input.body !== undefined) changes.body = input.body;
  if (effectKey !== null) changes.lastEditKey = effectKey;
  const updated = await posts(db).findOneAndUpdate(
    { _id: input.postId, authorId: input.viewerId, version: input.expectedVersion },
    { $set: changes, $inc: { version: 1 } },
    { returnDocument: 'after', projection: postProjection(input.viewerId) },
  );
  if (updated) return ok(updated);
  return explainRefusedPostWrite(
    db,
    input.postId,
    input.viewerId,
    input.expectedVersion,
    effectKey === null ? undefined : (current) => (current.lastEditKey === effectKey && current.version === input.expectedVersion + 1 ? current : null),
  );
}

/** atomic: deletes the post only if the viewer is its author and its version still equals expectedVersion; returns its package. */
export async function deletePostIfVersion(
  db: Db,
  input: { postId: ObjectId; viewerId: string; expectedVersion: number },
): Promise<Result<{ packageName: string }>> {
  const deleted = await posts(db).findOneAndDelete(
    { _id: input.postId, authorId: input.viewerId, version: input.expectedVersion },
    { projection: { packageName: 1 } },
  );
  return deleted ? ok({ packageName: deleted.packageName }) : explainRefusedPostWrite(db, input.postId, input.viewerId, input.expectedVersion);
}

/**
 * After an author- and version-guarded write matched nothing: NOT_FOUND, FORBIDDEN for non-authors, else CONFLICT.
 * With sameRequest (keyed calls) the read fetches the post as the viewer sees it, and a value from sameRequest means
 * the write was refused because this very request already applied it: that is success.
 */
async function explainRefusedPostWrite<T>(
  db: Db,
  postId: ObjectId,
  viewerId: string,
  expectedVersion: number,
  sameRequest?: (current: PostView) => T | null,
): Promise<Result<T>> {
  const projection = sameRequest ? { ...postProjection(viewerId), lastEditKey: 1 } : { authorId: 1, version: 1 };
  const current = await posts(db).findOne({ _id: postId }, { projection });
  const replayed = current && sameRequest ? sameRequest(current) : null;
  if (replayed !== null) return ok(replayed);
  let error: AppError;
  if (!current) error = new NotFoundError(`No post with id "${postId.toHexString()}".`);
  else if (current.authorId !== viewerId) error = new ForbiddenError('Only the author of a post can change it.');
  else {
    error = new ConflictError(
      `The post was changed since version ${expectedVersion}; it is at version ${current.version} now.`,
      current.version,
    );
  }
  return fail(error);
}

/** Reads one post as the viewer sees it. */
export async function findPost(db: Db, postId: ObjectId, viewerId: string | null): Promise<PostView | null> {
  return posts(db).findOne({ _id: postId }, { projection: postProjection(viewerId) });
}

/** One page of posts, newest first, optionally about one package, strictly after or before an id. */
export async function findPostPage(
  db: Db,
  page: { packageName?: string; after?: ObjectId; before?: ObjectId; limit: number; inverted: boolean; viewerId: string | null },
): Promise<PostView[]> {
  const idBounds: { $lt?: ObjectId; $gt?: ObjectId } = {};
  if (page.after) idBounds.$lt = page.after;
  if (page.before) idBounds.$gt = page.before;
  const filter = {
    ...(page.packageName === undefined ? {} : { packageName: page.packageName }),
    ...(page.after || page.before ? { _id: idBounds } : {}),
  };
  return posts(db)
    .find(filter, { projection: postProjection(page.viewerId) })
    .sort({ _id: page.inverted ? 1 : -1 })
    .limit(page.limit)
    .toArray();
}
