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

interface NaiveDraft {
  version: string;
  notes: string | null;
  sizeBytes: number | null;
  revision: number;
}

interface NaiveDraftPackage {
  _id: string;
  releases: { version: string }[];
  releaseCount: number;
  drafts?: Record<string, NaiveDraft>;
}

/** Naive updateReleaseDraft: reads the whole draft, changes a field in memory, writes the whole draft back. */
export async function naiveUpdateDraft(db: Db, name: string, key: string, change: Partial<NaiveDraft>): Promise<void> {
  const packages = db.collection<NaiveDraftPackage>('packages');
  const draft = (await packages.findOne({ _id: name }))?.drafts?.[key];
  if (!draft) return;
  await packages.updateOne({ _id: name }, { $set: { [`drafts.${key}`]: { ...draft, ...change, revision: draft.revision + 1 } } });
}

/** Naive publishReleaseDraft: "is it still a draft and not a release?" in memory, then push and unset. */
export async function naivePublishDraft(db: Db, name: string, key: string): Promise<boolean> {
  const packages = db.collection<NaiveDraftPackage>('packages');
  const pkg = await packages.findOne({ _id: name });
  const draft = pkg?.drafts?.[key];
  if (!pkg || !draft || pkg.releases.some((r) => r.version === draft.version)) return false;
  await packages.updateOne({ _id: name }, { $push: { releases: { version: draft.version } }, $inc: { releaseCount: 1 }, $unset: { [`drafts.${key}`]: '' } });
  return true;
}

/** Naive createPublishToken: "is this secret taken?" then insert, in a collection without the unique index. */
export async function naiveInsertPublishToken(db: Db, userId: string, source: () => Buffer): Promise<void> {
  const tokens = db.collection<{ userId: string; secretHash: string }>('naivePublishTokens');
  for (let attempt = 0; attempt < 5; attempt++) {
    const secretHash = source().toString('hex');
    if (await tokens.findOne({ secretHash })) continue;
    await tokens.insertOne({ userId, secretHash });
    return;
  }
}

/** Naive recordDownload: reads the day's bucket, adds one in memory, writes it back. */
export async function naiveRecordDownload(db: Db, bucketId: string): Promise<void> {
  const buckets = db.collection<{ _id: string; count: number }>('naiveDownloadBuckets');
  const bucket = await buckets.findOne({ _id: bucketId });
  await buckets.updateOne({ _id: bucketId }, { $set: { count: (bucket?.count ?? 0) + 1 } }, { upsert: true });
}
