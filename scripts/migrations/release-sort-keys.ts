// Migration: rewrites release sortKeys made by the old 16-digit padding into the length-prefixed format and re-sorts.
import type { Collection, Db } from 'mongodb';
import { releaseSortKey } from '../../src/packages/release-version.js';

interface StoredRelease {
  version: string;
  sortKey: string;
}

/** The part of a package the migration reads; other release fields are carried over untouched. */
interface PackageReleases {
  _id: string;
  releases?: StoredRelease[];
}

/** How many times one package is re-read after a concurrent write changed its releases under the migration. */
const MAX_ATTEMPTS_PER_PACKAGE = 100;

/**
 * idempotent: gives every release whose sortKey differs from releaseSortKey(version) the current key and
 * re-sorts that package's releases highest first. Each package is one updateOne guarded on the exact releases
 * array it read, so a release published meanwhile is never overwritten: the guard misses, and the package is
 * read and rewritten again. Returns how many releases got a new key (0 on a second run).
 */
export async function migrateReleaseSortKeys(db: Db): Promise<number> {
  const packages = db.collection<PackageReleases>('packages');
  let rekeyed = 0;
  // Only the _id is read up front: each package's releases are read right before its guarded write.
  for await (const { _id } of packages.find({ 'releases.0': { $exists: true } }, { projection: { _id: 1 } })) {
    rekeyed += await migratePackage(packages, _id);
  }
  return rekeyed;
}

async function migratePackage(packages: Collection<PackageReleases>, id: string): Promise<number> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS_PER_PACKAGE; attempt++) {
    const current = await packages.findOne({ _id: id }, { projection: { releases: 1 } });
    const releases = current?.releases ?? [];
    const stale = releases.filter((r) => r.sortKey !== releaseSortKey(r.version)).length;
    const migrated = releases
      .map((r) => ({ ...r, sortKey: releaseSortKey(r.version) }))
      // Keys are ASCII, so JavaScript's string order is MongoDB's byte order.
      .sort((a, b) => (a.sortKey < b.sortKey ? 1 : a.sortKey > b.sortKey ? -1 : 0));
    const reordered = migrated.some((r, i) => r.version !== releases[i]!.version);
    if (stale === 0 && !reordered) return 0;
    const result = await packages.updateOne({ _id: id, releases }, { $set: { releases: migrated } });
    if (result.matchedCount === 1) return stale;
  }
  throw new Error(`release sortKey migration: package "${id}" kept changing; run the migration again`);
}
