// `npm run verify`: recounts every derived figure from the primary documents and compares it with the kept one. It is
// the crash tests' oracle and the operators' alarm: a difference nobody is finishing is a bug (docs/effects.md).
import type { Db } from 'mongodb';
import { verifyDownloads } from '../downloads/download.ops.js';
import { verifyCredits } from '../credits/credits-verify.ops.js';
import { verifyTopLikedPosts } from '../posts/top-liked-posts.ops.js';

export interface Difference {
  figure: string;
  where: string;
  kept: number;
  recounted: number;
  /** Effects not over yet that touch this figure; a difference they explain closes when they end (or on repair). */
  inFlight: number;
}

export interface Verification {
  differences: Difference[];
  packagesChecked: number;
  postsChecked: number;
  /** Wallets and sponsor balances recounted from payment events, transfers and payouts (src/credits/credits-verify.ops.ts). */
  balancesChecked: number;
  pendingEffects: number;
  marks: number;
}

function formatEntry(entry: { postId: { toHexString(): string }; likeCount: number }): string {
  return `${entry.postId.toHexString()}:${entry.likeCount}`;
}

/**
 * Recounts postCount and releaseCount of every package, likeCount of every post, the registry-wide post total, every
 * wallet and sponsor balance with the conservation of credits, downloads, and every package's topLikedPosts.
 */
export async function verifyRegistry(db: Db): Promise<Verification> {
  const packages = db.collection('packages');
  const posts = db.collection('posts');
  const livePosts = new Map(
    (await posts.aggregate<{ _id: string; count: number }>([{ $match: { deletedAt: { $exists: false } } }, { $group: { _id: '$packageName', count: { $sum: 1 } } }]).toArray()).map(
      (row) => [row._id, row.count],
    ),
  );
  const inFlight = new Map<string, number>();
  const note = (name: string) => inFlight.set(name, (inFlight.get(name) ?? 0) + 1);
  let pendingEffects = 0;
  for await (const post of posts.find({ 'effects.0': { $exists: true } }, { projection: { packageName: 1, effects: 1 } })) {
    pendingEffects += (post.effects as unknown[]).length;
    for (let i = 0; i < (post.effects as unknown[]).length; i++) note(post.packageName as string);
  }
  let marks = 0;
  const differences: Difference[] = [];
  let packagesChecked = 0;
  const seen = new Set<string>();
  let postCountSum = 0;
  const cursor = packages.find({}, { projection: { postCount: 1, releaseCount: 1, releases: { $size: { $ifNull: ['$releases', []] } }, marks: { $size: { $ifNull: ['$effectMarks', []] } } } });
  for await (const pkg of cursor) {
    packagesChecked += 1;
    const name = pkg._id as unknown as string;
    seen.add(name);
    marks += pkg.marks as number;
    for (let i = 0; i < (pkg.marks as number); i++) note(name);
    const kept = (pkg.postCount as number | undefined) ?? 0;
    postCountSum += kept;
    const recounted = livePosts.get(name) ?? 0;
    if (kept !== recounted) differences.push({ figure: 'postCount', where: `package ${name}`, kept, recounted, inFlight: inFlight.get(name) ?? 0 });
    const releaseCount = (pkg.releaseCount as number | undefined) ?? (pkg.releases as number);
    if (releaseCount !== pkg.releases) differences.push({ figure: 'releaseCount', where: `package ${name}`, kept: releaseCount, recounted: pkg.releases as number, inFlight: 0 });
  }
  // Posts about a name no package has: known from the one pass above, without a query per name.
  for (const [name, count] of livePosts) {
    if (!seen.has(name)) {
      differences.push({ figure: 'postCount', where: `missing package ${name}`, kept: 0, recounted: count, inFlight: inFlight.get(name) ?? 0 });
    }
  }
  const totalPosts = [...livePosts.values()].reduce((sum, n) => sum + n, 0);
  if (postCountSum !== totalPosts) {
    differences.push({ figure: 'sum of postCount', where: 'registry', kept: postCountSum, recounted: totalPosts, inFlight: pendingEffects + marks });
  }
  let postsChecked = 0;
  for await (const post of posts.find({}, { projection: { likeCount: 1, likers: { $size: { $ifNull: ['$likedBy', []] } } } })) {
    postsChecked += 1;
    if (post.likeCount !== post.likers) {
      differences.push({ figure: 'likeCount', where: `post ${String(post._id)}`, kept: post.likeCount as number, recounted: post.likers as number, inFlight: 0 });
    }
  }
  const credits = await verifyCredits(db);
  const downloads = await verifyDownloads(db);
  // Rankings: kept and recounted as "id:likes" lists; kept/recounted are their like totals.
  const rankings = (await verifyTopLikedPosts(db)).differences.map((d) => ({
    figure: `topLikedPosts [${d.kept.map(formatEntry).join(' ')}] recounted [${d.recounted.map(formatEntry).join(' ')}]`,
    where: `package ${d.packageName}`,
    kept: d.keptLikes,
    recounted: d.recounted.reduce((sum, e) => sum + e.likeCount, 0),
    inFlight: 0,
  }));
  return {
    differences: [...differences, ...credits.differences, ...downloads, ...rankings],
    packagesChecked,
    postsChecked,
    balancesChecked: credits.balancesChecked,
    pendingEffects: pendingEffects + credits.pendingEffects,
    marks: marks + credits.marks,
  };
}
