// A package's ten most-liked posts, kept in the package document (docs/registry.md, "topLikedPosts"). Each like,
// unlike or deletion writes the post's new count into the ranking with one pipeline update ($sortArray + $slice over
// the merged array; no version check, no retry), then checks the ranking against the posts' index and, only when they
// differ, writes the recount once, conditional on no other ranking write since its read. Whatever interleaving, the
// last party to write the ranking checks it after, so once writes stop the ranking equals a recount from the posts.
import type { Db, Document, ObjectId } from 'mongodb';
import type { PackageDoc, TopLikedPostEntry } from '../packages/package.ops.js';

/** How many posts the ranking keeps. */
export const TOP_LIKED_POSTS = 10;

/** The ranking's order: most likes first; ties by post id, oldest first. */
const RANKING_SORT = { likeCount: -1, postId: 1 } as const;

/** Posts that count: live (documents written before deletion was soft have no deletedAt) and liked at least once. */
const RANKABLE = { likeCount: { $gt: 0 }, deletedAt: { $exists: false } } as const;

type RankingState = Pick<PackageDoc, '_id' | 'topLikedPosts' | 'topLikedPostsRev'>;

export type ReconcileOutcome = 'exact' | 'corrected' | 'overtaken';

function packages(db: Db) {
  return db.collection<PackageDoc>('packages');
}

/**
 * atomic: one pipeline update that sets the post's entry to `entry` (or removes it when its likeCount is 0) and keeps
 * the ten highest, unless the ranking already holds that post from a later like (a higher seq): a write that arrives
 * late never takes a count back. Idempotent. Returns the ranking as written, or null without that package.
 */
export async function writeRankingEntry(db: Db, packageName: string, entry: TopLikedPostEntry): Promise<RankingState | null> {
  const current = { $ifNull: ['$topLikedPosts', []] };
  const samePost = { $eq: ['$$e.postId', { $literal: entry.postId }] };
  const merged = {
    $let: {
      vars: {
        others: { $filter: { input: current, as: 'e', cond: { $not: [samePost] } } },
        later: { $filter: { input: current, as: 'e', cond: { $and: [samePost, { $gte: ['$$e.seq', entry.seq] }] } } },
      },
      in: {
        $concatArrays: ['$$others', { $cond: [{ $gt: [{ $size: '$$later' }, 0] }, '$$later', { $literal: entry.likeCount > 0 ? [entry] : [] }] }],
      },
    },
  };
  return packages(db).findOneAndUpdate(
    { _id: packageName },
    [
      { $set: { topLikedPosts: { $slice: [{ $sortArray: { input: merged, sortBy: RANKING_SORT } }, TOP_LIKED_POSTS] } } },
      { $set: { topLikedPostsLikes: { $sum: '$topLikedPosts.likeCount' }, topLikedPostsRev: { $add: [{ $ifNull: ['$topLikedPostsRev', 0] }, 1] } } },
    ],
    { returnDocument: 'after', projection: { topLikedPosts: 1, topLikedPostsRev: 1 } },
  );
}

/** The ranking recounted from the posts: the first ten entries of the index posts_by_package_likes. */
export async function recountTopLikedPosts(db: Db, packageName: string): Promise<TopLikedPostEntry[]> {
  const top = await db
    .collection<{ _id: ObjectId; likeCount: number; likeSeq?: number }>('posts')
    .find({ packageName, ...RANKABLE }, { projection: { likeCount: 1, likeSeq: 1 } })
    .sort({ likeCount: -1, _id: 1 })
    .limit(TOP_LIKED_POSTS)
    .toArray();
  return top.map((post) => ({ postId: post._id, likeCount: post.likeCount, seq: post.likeSeq ?? 0 }));
}

/** Same posts, same counts, same order (the seqs are bookkeeping). */
export function sameRanking(a: readonly TopLikedPostEntry[], b: readonly TopLikedPostEntry[]): boolean {
  return a.length === b.length && a.every((entry, i) => entry.postId.equals(b[i]!.postId) && entry.likeCount === b[i]!.likeCount);
}

/**
 * Checks the ranking (as `known` shows it, or as read now) against a recount read after it; when they differ, writes
 * the recount in one update conditional on topLikedPostsRev being the one read, so it never overwrites a newer write
 * ('overtaken': that write's own party checks after it). Never retries.
 */
export async function reconcileTopLikedPosts(db: Db, packageName: string, known?: RankingState | null): Promise<ReconcileOutcome> {
  const state = known ?? (await packages(db).findOne({ _id: packageName }, { projection: { topLikedPosts: 1, topLikedPostsRev: 1 } }));
  if (!state) return 'exact';
  const recounted = await recountTopLikedPosts(db, packageName);
  if (sameRanking(state.topLikedPosts ?? [], recounted)) return 'exact';
  const rev = state.topLikedPostsRev;
  const { modifiedCount } = await packages(db).updateOne({ _id: packageName, topLikedPostsRev: rev ?? { $exists: false } } as Document, {
    $set: {
      topLikedPosts: recounted,
      topLikedPostsLikes: recounted.reduce((sum, e) => sum + e.likeCount, 0),
      topLikedPostsRev: (rev ?? 0) + 1,
    },
  });
  return modifiedCount === 1 ? 'corrected' : 'overtaken';
}

/**
 * What every change of a post's likes (or its deletion) runs after the post's own write: the entry from that write,
 * then the check. A crash between the post's write and this leaves the ranking behind until the next change of any
 * post of the package, a retry of the request (which runs this again from the post as it is), or repair.
 */
export async function rankPostLikes(db: Db, packageName: string, entry: TopLikedPostEntry): Promise<ReconcileOutcome> {
  const written = await writeRankingEntry(db, packageName, entry);
  return written ? reconcileTopLikedPosts(db, packageName, written) : 'exact';
}

export interface RankingRepair {
  checked: number;
  corrected: number;
  /** Packages written before rankings existed that got an empty one (no liked post). */
  backfilled: number;
}

/**
 * Repair and migration: checks the ranking of every package that has a liked live post or a non-empty ranking, and
 * writes the recount where it differs (overtaken by a concurrent write: checked again, a few times). Safe while the
 * API serves. Old documents get their ranking here; packages without one get an empty ranking and 0 likes.
 */
export async function repairTopLikedPosts(db: Db): Promise<RankingRepair> {
  const names = new Set<string>(await db.collection('posts').distinct('packageName', RANKABLE));
  for await (const pkg of packages(db).find({ 'topLikedPosts.0': { $exists: true } }, { projection: { _id: 1 } })) names.add(pkg._id);
  let corrected = 0;
  for (const name of names) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const outcome = await reconcileTopLikedPosts(db, name);
      if (outcome === 'corrected') corrected += 1;
      if (outcome !== 'overtaken') break;
    }
  }
  // Packages that never had a liked post: an explicit 0, so topPackages(by: LIKES) orders them by name like any tie.
  const { modifiedCount } = await packages(db).updateMany({ topLikedPostsLikes: { $exists: false } }, [
    { $set: { topLikedPosts: { $ifNull: ['$topLikedPosts', []] }, topLikedPostsLikes: { $sum: { $ifNull: ['$topLikedPosts.likeCount', []] } } } },
  ]);
  return { checked: names.size, corrected, backfilled: modifiedCount };
}

export interface RankingDifference {
  packageName: string;
  kept: TopLikedPostEntry[];
  recounted: TopLikedPostEntry[];
  keptLikes: number;
}

/**
 * `npm run verify`'s recount: one aggregation over the posts (per package, its ten most-liked live posts) compared with
 * every package's kept ranking and its likes total.
 */
export async function verifyTopLikedPosts(db: Db): Promise<{ differences: RankingDifference[]; checked: number }> {
  const rows = await db
    .collection('posts')
    .aggregate<{ _id: string; top: { postId: ObjectId; likeCount: number }[] }>([
      { $match: RANKABLE },
      { $sort: { packageName: 1, likeCount: -1, _id: 1 } },
      { $group: { _id: '$packageName', top: { $push: { postId: '$_id', likeCount: '$likeCount' } } } },
      { $project: { top: { $slice: ['$top', TOP_LIKED_POSTS] } } },
    ])
    .toArray();
  const recounts = new Map(rows.map((row) => [row._id, row.top.map((e) => ({ ...e, seq: 0 }))]));
  const differences: RankingDifference[] = [];
  let checked = 0;
  for await (const pkg of packages(db).find({}, { projection: { topLikedPosts: 1, topLikedPostsLikes: 1 } })) {
    checked += 1;
    const kept = pkg.topLikedPosts ?? [];
    const recounted = recounts.get(pkg._id) ?? [];
    const keptLikes = pkg.topLikedPostsLikes ?? 0;
    const sum = kept.reduce((total, e) => total + e.likeCount, 0);
    if (!sameRanking(kept, recounted) || keptLikes !== sum) differences.push({ packageName: pkg._id, kept, recounted, keptLikes });
  }
  return { differences, checked };
}
