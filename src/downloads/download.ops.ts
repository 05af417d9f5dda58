// Download counts. The package document is the one source: recordDownload's single atomic write increments the
// release's own counter (array filter), the package total and the package's counter of the UTC day, together, so they
// always agree. `downloadBuckets` (one document per package and day) is a copy of that day counter for the trending
// aggregation: each request copies the absolute value it just produced with $max, which is idempotent and order-free,
// so a copy cut short by a crash is completed by the next download of that package that day, or by `npm run repair`.
import type { Db, Document } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';
import { fail, NotFoundError, ok, type Result } from '../errors.js';
import { RECENT_EFFECT_KEYS } from '../idempotency/effect-keys.js';
import type { PackageDoc, ReleaseDoc } from '../packages/package.ops.js';

/** The download fields of a package document (absent on documents written before downloads were counted). */
export interface PackageDownloadFields {
  downloadCount?: number;
  /** Downloads per UTC day, keyed "d" + YYYYMMDD. */
  downloadsByDay?: Record<string, number>;
  /** effectKeys of the latest keyed recordDownload calls (bounded), so a retried download is counted once. */
  recentDownloadKeys?: string[];
}

export interface DownloadBucketDoc {
  /** "<package>|<YYYY-MM-DD>" */
  _id: string;
  package: string;
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  count: number;
}

type PackageWithDownloads = PackageDoc & PackageDownloadFields;

const DAY_MS = 86_400_000;

function packages(db: Db) {
  return db.collection<PackageWithDownloads>('packages');
}

function buckets(db: Db) {
  return db.collection<DownloadBucketDoc>('downloadBuckets');
}

/** The UTC day of a time, as YYYY-MM-DD. */
export function utcDay(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** The field of a day in downloadsByDay: a letter first, no dots. */
export function dayField(day: string): string {
  return `d${day.replaceAll('-', '')}`;
}

/**
 * atomic: counts one download of a release: its own counter (array filter), the package's total and the package's
 * counter of the UTC day move together, in one write; NOT_FOUND (nothing written) without that package or release.
 * With an effectKey the same write records it among the last RECENT_EFFECT_KEYS download keys and is refused when it
 * is already there, so a retried request counts once. Then the day's bucket gets the new day total (syncDownloadBucket).
 */
export async function recordDownload(
  db: Db,
  input: { name: string; version: string; now?: number },
  effectKey: string | null = null,
): Promise<Result<{ release: ReleaseDoc; packageName: string }>> {
  const day = utcDay(input.now ?? Date.now());
  const field = `downloadsByDay.${dayField(day)}`;
  const update: Document = { $inc: { 'releases.$[release].downloads': 1, downloadCount: 1, [field]: 1 } };
  if (effectKey !== null) update.$push = { recentDownloadKeys: { $each: [effectKey], $slice: -RECENT_EFFECT_KEYS } };
  const updated = await packages(db).findOneAndUpdate(
    { _id: input.name, 'releases.version': input.version, ...(effectKey === null ? {} : { recentDownloadKeys: { $ne: effectKey } }) },
    update,
    { arrayFilters: [{ 'release.version': input.version }], returnDocument: 'after', projection: { [field]: 1, releases: { $elemMatch: { version: input.version } } } },
  );
  if (updated) {
    await syncDownloadBucket(db, input.name, day, updated.downloadsByDay?.[dayField(day)] ?? 0);
    return ok({ release: updated.releases[0]!, packageName: input.name });
  }
  // Without a key the one reason is a missing package or release. With one, the read after the refused write tells
  // this request's download, already counted, from a missing release.
  if (effectKey !== null) {
    const counted = await packages(db).findOne(
      { _id: input.name, 'releases.version': input.version, recentDownloadKeys: effectKey },
      { projection: { releases: { $elemMatch: { version: input.version } } } },
    );
    if (counted) return ok({ release: counted.releases[0]!, packageName: input.name });
  }
  return fail(new NotFoundError(`"${input.name}" has no release ${input.version}.`));
}

/**
 * atomic: raises the day's bucket to `count` (a day total read from the package document) with $max, creating it
 * if needed; idempotent and order-free, so racing or repeated copies leave the highest, which is the latest.
 */
export async function syncDownloadBucket(db: Db, name: string, day: string, count: number): Promise<void> {
  const write = () =>
    buckets(db).updateOne(
      { _id: `${name}|${day}` },
      [{ $set: { package: name, day, count: { $max: [{ $ifNull: ['$count', 0] }, count] } } }],
      { upsert: true },
    );
  try {
    await write();
  } catch (error) {
    // Two first downloads of the day raced to insert the bucket; now it exists and the update matches.
    if (!isDuplicateKeyError(error)) throw error;
    await write();
  }
}

/**
 * Repair: raises every bucket of a day since `sinceDay` that is behind its package's day counter (a copy cut short by a
 * crash between recordDownload's two writes) with the same $max write; buckets already equal are not written. Safe
 * while downloads are counted: a copy never lowers a bucket. Returns how many buckets it raised.
 */
export async function syncDownloadBuckets(db: Db, sinceDay: string): Promise<number> {
  const copied = new Map<string, number>();
  // The day filter and the fields read are all in the index downloads_by_day.
  for await (const bucket of buckets(db).find({ day: { $gte: sinceDay } }, { projection: { _id: 0, day: 1, package: 1, count: 1 } })) {
    copied.set(`${bucket.package}|${bucket.day}`, bucket.count);
  }
  let synced = 0;
  const since = dayField(sinceDay);
  for await (const pkg of packages(db).find({ downloadCount: { $gt: 0 } }, { projection: { downloadsByDay: 1 } })) {
    for (const [field, count] of Object.entries(pkg.downloadsByDay ?? {})) {
      if (field < since) continue;
      const day = `${field.slice(1, 5)}-${field.slice(5, 7)}-${field.slice(7, 9)}`;
      if ((copied.get(`${pkg._id}|${day}`) ?? -1) >= count) continue;
      await syncDownloadBucket(db, pkg._id, day, count);
      synced += 1;
    }
  }
  return synced;
}

export interface PackageDownloads {
  total: number;
  /** Downloads per UTC day of the last `days` days, today last. */
  byDay: { date: string; count: number }[];
}

/** A package's download total and its per-day counts of the last `days` UTC days (today included, zeros included). */
export async function findPackageDownloads(db: Db, name: string, days: number, now = Date.now()): Promise<PackageDownloads> {
  const found = await packages(db).findOne({ _id: name }, { projection: { downloadCount: 1, downloadsByDay: 1 } });
  const byDay = Array.from({ length: days }, (_, i) => {
    const date = utcDay(now - (days - 1 - i) * DAY_MS);
    return { date, count: found?.downloadsByDay?.[dayField(date)] ?? 0 };
  });
  return { total: found?.downloadCount ?? 0, byDay };
}

/**
 * The packages with the most downloads in the last `days` UTC days (today included): one aggregation over the day
 * buckets, which the downloads_by_day index serves (the $match on day, and the package and count it groups).
 */
export async function findTrendingPackages(db: Db, days: number, limit: number, now = Date.now()): Promise<{ packageName: string; downloads: number }[]> {
  const since = utcDay(now - (days - 1) * DAY_MS);
  const rows = await buckets(db)
    .aggregate<{ _id: string; downloads: number }>([
      { $match: { day: { $gte: since } } },
      { $group: { _id: '$package', downloads: { $sum: '$count' } } },
      { $sort: { downloads: -1, _id: 1 } },
      { $limit: limit },
    ])
    .toArray();
  return rows.map((row) => ({ packageName: row._id, downloads: row.downloads }));
}

export type TopPackagesBy = 'DOWNLOADS' | 'RELEASES' | 'LIKES';

const TOP_SORT: Record<TopPackagesBy, Record<string, 1 | -1>> = {
  DOWNLOADS: { downloadCount: -1, _id: 1 },
  RELEASES: { releaseCount: -1, _id: 1 },
  // Kept by the same write as package { topLikedPosts } (src/posts/top-liked-posts.ops.ts).
  LIKES: { topLikedPostsLikes: -1, _id: 1 },
};

/** The first `limit` packages by a kept figure, read in the order of its index (packages_by_downloads / _by_releases / _by_likes). */
export async function findTopPackageNames(db: Db, by: TopPackagesBy, limit: number): Promise<string[]> {
  const docs = await packages(db).find({}, { projection: { _id: 1 } }).sort(TOP_SORT[by]).limit(limit).toArray();
  return docs.map((doc) => doc._id);
}

export interface DownloadDifference {
  figure: string;
  where: string;
  kept: number;
  recounted: number;
  inFlight: number;
}

/**
 * `npm run verify`'s recount of downloads: per package, the release counters' sum, the total and the day counters' sum
 * agree (one write moves them together, so any difference is a bug); each day counter has a bucket equal to it (a
 * bucket behind or missing is a copy cut short, noted in flight: the next download of that package that day or repair
 * closes it).
 */
export async function verifyDownloads(db: Db): Promise<DownloadDifference[]> {
  const differences: DownloadDifference[] = [];
  const dayCounters = new Map<string, number>();
  const cursor = packages(db).find({ downloadCount: { $exists: true } }, { projection: { downloadCount: 1, downloadsByDay: 1, 'releases.downloads': 1 } });
  for await (const pkg of cursor) {
    const releases = pkg.releases.reduce((sum, r) => sum + (r.downloads ?? 0), 0);
    const days = Object.values(pkg.downloadsByDay ?? {}).reduce((sum, n) => sum + n, 0);
    const where = `package ${pkg._id}`;
    if (pkg.downloadCount !== releases) differences.push({ figure: 'downloadCount', where, kept: pkg.downloadCount ?? 0, recounted: releases, inFlight: 0 });
    if (days !== releases) differences.push({ figure: 'sum of downloadsByDay', where, kept: days, recounted: releases, inFlight: 0 });
    for (const [field, count] of Object.entries(pkg.downloadsByDay ?? {})) dayCounters.set(`${pkg._id}|${field}`, count);
  }
  for await (const bucket of buckets(db).find({})) {
    const key = `${bucket.package}|${dayField(bucket.day)}`;
    const counted = dayCounters.get(key) ?? 0;
    dayCounters.delete(key);
    if (bucket.count !== counted) {
      differences.push({ figure: 'download bucket', where: bucket._id, kept: bucket.count, recounted: counted, inFlight: bucket.count < counted ? 1 : 0 });
    }
  }
  // Day counters no bucket copies: the first download of that day was cut short before its copy.
  for (const [key, counted] of dayCounters) {
    if (counted === 0) continue;
    const [name, field] = key.split('|') as [string, string];
    const where = `${name}|${field.slice(1, 5)}-${field.slice(5, 7)}-${field.slice(7, 9)}`;
    differences.push({ figure: 'download bucket', where, kept: 0, recounted: counted, inFlight: 1 });
  }
  return differences;
}
