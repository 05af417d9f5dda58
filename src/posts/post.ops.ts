// Every database operation on posts. Likes live in the post (likedBy + likeCount changed together), so
// likeCount equals the number of distinct likers after any mix of concurrent likes and unlikes.
import { ObjectId, type Db } from 'mongodb';
import { fail, NotFoundError, ok, type Result } from '../errors.js';

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

/** atomic: inserts one post with fresh counters; the id is generated here, so a retry of this call makes a second post. */
export async function insertPost(
  db: Db,
  input: { title: string; body: string; authorId: string; packageName: string },
): Promise<PostView> {
  const doc: PostDoc = {
    _id: new ObjectId(),
    ...input,
    likedBy: [],
    likeCount: 0,
    viewCount: 0,
    lastViewedAt: null,
    createdAt: new Date(),
    version: 1,
  };
  await posts(db).insertOne(doc);
  const { likedBy: _likers, ...view } = doc;
  return { ...view, viewerHasLiked: false };
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

/** After a like/unlike matched nothing: the post is already in the wanted state (success) or does not exist. */
async function explainUnchangedPost(db: Db, postId: ObjectId, viewerId: string): Promise<Result<PostView>> {
  const current = await findPost(db, postId, viewerId);
  return current ? ok(current) : fail(new NotFoundError(`No post with id "${postId.toHexString()}".`));
}

/**
 * atomic: adds exactly 1 to viewCount and moves lastViewedAt to the database clock, never backwards
 * ($max with $$NOW, so instances or primaries with skewed clocks cannot rewind it).
 */
export async function addView(db: Db, postId: ObjectId, viewerId: string | null): Promise<Result<PostView>> {
  const updated = await posts(db).findOneAndUpdate(
    { _id: postId },
    [{ $set: { viewCount: { $add: ['$viewCount', 1] }, lastViewedAt: { $max: ['$lastViewedAt', '$$NOW'] } } }],
    { returnDocument: 'after', projection: postProjection(viewerId) },
  );
  return updated ? ok(updated) : fail(new NotFoundError(`No post with id "${postId.toHexString()}".`));
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
