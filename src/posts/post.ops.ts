// Every database operation on posts. Likes live in the post (likedBy + likeCount changed together), so
// likeCount equals the number of distinct likers after any mix of concurrent likes and unlikes. Creating and deleting
// a post also moves its package's postCount: a multi-document effect recorded in the post (src/effects/effect.ops.ts).
import { ObjectId, type Db } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';
import { completeEffect, effectRecord, type EffectRecord, newEffectId } from '../effects/effect.ops.js';
import { rankPostLikes } from './top-liked-posts.ops.js';
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
  /** Moved by every like, unlike and deletion: orders their writes into the package's ranking (absent on old posts: 0). */
  likeSeq?: number;
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
  /** Effects this post started and that are not over yet (its count on the package). */
  effects?: EffectRecord[];
  /** Set by deletePost: the post is gone for every reader; the document stays as a tombstone until purgeAt. */
  deletedAt?: Date;
  /** The effect id of the deletePost that deleted it, so a retry of that request is told success. */
  deletedBy?: string;
  /** When the TTL index removes the tombstone: set once the deletion's effect is over. */
  purgeAt?: Date;
}

/** Posts that exist for readers: not deleted (documents written before deletion was soft have no deletedAt). */
const LIVE = { deletedAt: { $exists: false } } as const;

/** How long a deleted post's tombstone answers a retried deletePost: the Idempotency-Key lifetime's default. */
const TOMBSTONE_MS = 24 * 60 * 60 * 1000;

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
 * Creates the post and counts it on its package, exactly once whatever stops this call: the insert records the
 * effect (count +1 on the package) and the effect's steps follow (src/effects/effect.ops.ts). With an effectKey the
 * post carries it under a unique index, so a retry finds the first post and finishes its effect instead of inserting
 * again. NOT_FOUND, and no post, when the package does not exist.
 */
export async function createPost(
  db: Db,
  input: { title: string; body: string; authorId: string; packageName: string },
  effectKey: string | null = null,
): Promise<Result<PostView>> {
  const effectId = effectKey ?? newEffectId();
  const record = effectRecord({
    id: effectId,
    kind: 'createPost',
    steps: [{ name: 'postCount', collection: 'packages', target: input.packageName, inc: { postCount: 1 } }],
    abort: { delete: true },
  });
  const doc: PostDoc = {
    _id: new ObjectId(),
    ...input,
    likedBy: [],
    likeCount: 0,
    viewCount: 0,
    lastViewedAt: null,
    createdAt: new Date(),
    version: 1,
    effects: [record],
    ...(effectKey === null ? {} : { idempotencyKey: effectKey }),
  };
  const missing = () => fail<PostView>(new NotFoundError(`No package named "${input.packageName}".`));
  try {
    await posts(db).insertOne(doc);
  } catch (error) {
    if (effectKey === null || !isDuplicateKeyError(error)) throw error;
    // Read after the refused insert: the post an earlier execution of this same request created; finish its effect.
    const existing = await posts(db).findOne({ idempotencyKey: effectKey }, { projection: { _id: 1, deletedAt: 1 } });
    // Removed by the TTL monitor between the insert and this read: the unique key is free again, so it is a retry.
    if (!existing) return createPost(db, input, effectKey);
    // Created by this request and deleted by its author since: the post is gone, so is the answer.
    if (existing.deletedAt) return fail(new NotFoundError('The post this request created has been deleted since.'));
    if ((await completeEffect(db, { collection: 'posts', id: existing._id, effectId })) === 'aborted') return missing();
    const post = await findPost(db, existing._id, input.authorId);
    return post ? ok(post) : missing();
  }
  if ((await completeEffect(db, { collection: 'posts', id: doc._id, effectId }, record)) === 'aborted') return missing();
  const { likedBy: _likers, idempotencyKey: _key, effects: _effects, ...view } = doc;
  return ok({ ...view, viewerHasLiked: false });
}

/**
 * atomic: adds the viewer to likedBy, 1 to likeCount and 1 to likeSeq only if the viewer is not there yet; idempotent
 * per user. Then the package's ranking gets the new count (rankPostLikes), also when the like was already there, so a
 * retry of a like cut short before its ranking write finishes it.
 */
export async function addLike(db: Db, postId: ObjectId, viewerId: string): Promise<Result<PostView>> {
  const updated = await posts(db).findOneAndUpdate(
    { _id: postId, ...LIVE, likedBy: { $ne: viewerId } },
    { $push: { likedBy: viewerId }, $inc: { likeCount: 1, likeSeq: 1 } },
    { returnDocument: 'after', projection: { ...postProjection(viewerId), likeSeq: 1 } },
  );
  return updated ? ranked(db, updated) : explainUnchangedLike(db, postId, viewerId);
}

/** atomic: removes the viewer from likedBy, 1 from likeCount and adds 1 to likeSeq only if the viewer is there; then as addLike. */
export async function removeLike(db: Db, postId: ObjectId, viewerId: string): Promise<Result<PostView>> {
  const updated = await posts(db).findOneAndUpdate(
    { _id: postId, ...LIVE, likedBy: viewerId },
    { $pull: { likedBy: viewerId }, $inc: { likeCount: -1, likeSeq: 1 } },
    { returnDocument: 'after', projection: { ...postProjection(viewerId), likeSeq: 1 } },
  );
  return updated ? ranked(db, updated) : explainUnchangedLike(db, postId, viewerId);
}

/** Writes the post's count, as its own write left it, into its package's ranking; answers the post. */
async function ranked(db: Db, post: PostView & { likeSeq?: number }): Promise<Result<PostView>> {
  const { likeSeq, ...view } = post;
  await rankPostLikes(db, post.packageName, { postId: post._id, likeCount: post.likeCount, seq: likeSeq ?? 0 });
  return ok(view);
}

/** A like or unlike that changed nothing: the post is already in the wanted state (success, ranked as it is) or does not exist. */
async function explainUnchangedLike(db: Db, postId: ObjectId, viewerId: string): Promise<Result<PostView>> {
  const current = await posts(db).findOne({ _id: postId, ...LIVE }, { projection: { ...postProjection(viewerId), likeSeq: 1 } });
  return current ? ranked(db, current) : fail(new NotFoundError(`No post with id "${postId.toHexString()}".`));
}

/** After a keyed view matched nothing: the view is already counted (success) or the post does not exist. */
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
    effectKey === null ? { _id: postId, ...LIVE } : { _id: postId, ...LIVE, recentViewKeys: { $ne: effectKey } },
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
    { _id: input.postId, ...LIVE, authorId: input.viewerId, version: input.expectedVersion },
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

/**
 * Deletes the post if the viewer is its author and its version still equals expectedVersion, and uncounts it on its
 * package exactly once: the first write makes it a tombstone for every reader and records the effect (count -1),
 * whose steps follow; the tombstone is purged a day after the effect is over. A retry of the same keyed request is
 * told success while the tombstone lasts, and finishes the effect if it was cut short.
 */
export async function deletePostIfVersion(
  db: Db,
  input: { postId: ObjectId; viewerId: string; expectedVersion: number },
  effectKey: string | null = null,
): Promise<Result<{ postId: ObjectId }>> {
  const effectId = effectKey ?? newEffectId();
  const record = effectRecord({
    id: effectId,
    kind: 'deletePost',
    // The target is the post's own package: '$packageName' is read by the pipeline below, in the same write.
    steps: [{ name: 'postCount', collection: 'packages', target: '$packageName', inc: { postCount: -1 } }],
    // A post's package is never deleted; were it missing, the post stays deleted with nothing to uncount.
    abort: { inc: {} },
    doneSet: { purgeAt: new Date(Date.now() + TOMBSTONE_MS) },
  });
  const deleted = await posts(db).findOneAndUpdate(
    { _id: input.postId, ...LIVE, authorId: input.viewerId, version: input.expectedVersion },
    [
      {
        $set: {
          deletedAt: '$$NOW',
          deletedBy: { $literal: effectId },
          version: { $add: ['$version', 1] },
          likeSeq: { $add: [{ $ifNull: ['$likeSeq', 0] }, 1] },
          effects: {
            $concatArrays: [
              { $ifNull: ['$effects', []] },
              [{ $mergeObjects: [{ $literal: { ...record, steps: [] } }, { steps: [{ $mergeObjects: [{ $literal: record.steps[0] }, { target: '$packageName' }] }] }] }],
            ],
          },
        },
      },
    ],
    { returnDocument: 'after', projection: { effects: { $elemMatch: { id: effectId } }, packageName: 1, likeCount: 1, likeSeq: 1 } },
  );
  if (deleted) {
    await completeEffect(db, { collection: 'posts', id: input.postId, effectId }, deleted.effects?.[0]);
    await unrank(db, deleted);
    return ok({ postId: input.postId });
  }
  if (effectKey !== null) {
    // Read after the refused write: this same request's earlier deletion, perhaps cut short before its count moved.
    const mine = await posts(db).findOne({ _id: input.postId, deletedBy: effectId }, { projection: { _id: 1, packageName: 1, likeCount: 1, likeSeq: 1 } });
    if (mine) {
      await completeEffect(db, { collection: 'posts', id: input.postId, effectId });
      await unrank(db, mine);
      return ok({ postId: input.postId });
    }
  }
  return explainRefusedPostWrite(db, input.postId, input.viewerId, input.expectedVersion);
}

/**
 * A deleted post leaves its package's ranking (an entry of 0 likes is removed), ordered by the seq its deletion took.
 * A post without likes is in no ranking, so its deletion changes none.
 */
async function unrank(db: Db, post: Pick<PostDoc, '_id' | 'packageName' | 'likeCount' | 'likeSeq'>): Promise<void> {
  if (post.likeCount > 0) await rankPostLikes(db, post.packageName, { postId: post._id, likeCount: 0, seq: post.likeSeq ?? 0 });
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
  const current = await posts(db).findOne({ _id: postId, ...LIVE }, { projection });
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
  return posts(db).findOne({ _id: postId, ...LIVE }, { projection: postProjection(viewerId) });
}

/** Reads live posts by id as the viewer sees them (in no particular order): one query for a ranking's posts. */
export async function findPostsByIds(db: Db, ids: readonly ObjectId[], viewerId: string | null): Promise<PostView[]> {
  return posts(db).find({ _id: { $in: [...ids] }, ...LIVE }, { projection: postProjection(viewerId) }).toArray();
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
    ...LIVE,
    ...(page.packageName === undefined ? {} : { packageName: page.packageName }),
    ...(page.after || page.before ? { _id: idBounds } : {}),
  };
  return posts(db)
    .find(filter, { projection: postProjection(page.viewerId) })
    .sort({ _id: page.inverted ? 1 : -1 })
    .limit(page.limit)
    .toArray();
}
