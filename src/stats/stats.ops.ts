// Registry-wide totals, derived from the primary documents on read rather than kept in one document. A kept total
// would be a write hot spot every create in the registry serializes on, and keeping it exact across a crash needs the
// effect steps of src/effects/ on that one hot document; one aggregation per read is exact by construction, and
// public reads are cached (Cache-Control) rather than recomputed per visitor.
import type { Db } from 'mongodb';

export interface RegistryStats {
  totalPackages: number;
  totalReleases: number;
  totalPosts: number;
}

/** Counts packages, releases and live posts now; zero before anything was created. */
export async function findRegistryStats(db: Db): Promise<RegistryStats> {
  const [packageTotals] = await db
    .collection('packages')
    .aggregate<{ totalPackages: number; totalReleases: number }>([
      // $ifNull: packages written before releaseCount existed count their releases array instead.
      { $group: { _id: null, totalPackages: { $sum: 1 }, totalReleases: { $sum: { $ifNull: ['$releaseCount', { $size: { $ifNull: ['$releases', []] } }] } } } },
    ])
    .toArray();
  // Deleted posts are tombstones until purged (src/posts/post.ops.ts); they are not posts any more.
  const totalPosts = await db.collection('posts').countDocuments({ deletedAt: { $exists: false } });
  return { totalPackages: packageTotals?.totalPackages ?? 0, totalReleases: packageTotals?.totalReleases ?? 0, totalPosts };
}
