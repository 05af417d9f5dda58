// Registry-wide totals, kept in one document by atomic $inc after each successful create or publish.
import type { Db } from 'mongodb';

export interface RegistryStatsDoc {
  _id: 'registry';
  totalPackages: number;
  totalReleases: number;
  totalPosts: number;
}

type Counter = 'totalPackages' | 'totalReleases' | 'totalPosts';

const STATS_ID = 'registry' as const;
const STATS_PROJECTION = { _id: 0, totalPackages: 1, totalReleases: 1, totalPosts: 1 } as const;

function stats(db: Db) {
  return db.collection<RegistryStatsDoc>('stats');
}

/** atomic: adds 1 (or `by`) to one total; upserts the stats document the first time. */
export async function incrementStat(db: Db, counter: Counter, by: 1 | -1 = 1): Promise<void> {
  await stats(db).updateOne({ _id: STATS_ID }, { $inc: { [counter]: by } }, { upsert: true });
}

/** Reads the totals; zero before anything was created. */
export async function findRegistryStats(db: Db): Promise<Omit<RegistryStatsDoc, '_id'>> {
  const doc = await stats(db).findOne({ _id: STATS_ID }, { projection: STATS_PROJECTION });
  return { totalPackages: doc?.totalPackages ?? 0, totalReleases: doc?.totalReleases ?? 0, totalPosts: doc?.totalPosts ?? 0 };
}
