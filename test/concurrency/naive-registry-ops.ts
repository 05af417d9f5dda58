// DELIBERATELY WRONG read-modify-write versions of the registry mutations (yank, downloads, rankings), kept only to
// prove the concurrency tests of test/concurrency/registry.concurrency.test.ts can fail.
import type { Db } from 'mongodb';

interface NaiveRelease {
  version: string;
  yank?: { reason: string | null } | null;
}

/** Naive yankRelease: reads the releases, marks one in memory, writes the whole list back over concurrent changes. */
export async function naiveYankRelease(db: Db, name: string, version: string): Promise<void> {
  const packages = db.collection<{ _id: string; releases: NaiveRelease[] }>('packages');
  const pkg = await packages.findOne({ _id: name });
  if (!pkg) return;
  const releases = pkg.releases.map((r) => (r.version === version ? { ...r, yank: { reason: 'naive' } } : r));
  await packages.updateOne({ _id: name }, { $set: { releases } });
}
