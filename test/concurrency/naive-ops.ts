// DELIBERATELY WRONG read-modify-write versions of the mutations, kept only to prove the concurrency tests
// can fail: each reads a document, changes it in memory and writes it back, as many ORMs do by default.
import type { Db, ObjectId } from 'mongodb';

interface NaivePost {
  _id: ObjectId;
  likedBy: string[];
  likeCount: number;
  viewCount: number;
}

/** Naive likePost: two instances that read the same post both write back their own likedBy; one like is lost. */
export async function naiveLikePost(db: Db, postId: ObjectId, userId: string): Promise<void> {
  const posts = db.collection<NaivePost>('posts');
  const post = await posts.findOne({ _id: postId });
  if (!post || post.likedBy.includes(userId)) return;
  post.likedBy.push(userId);
  post.likeCount += 1;
  await posts.replaceOne({ _id: postId }, post);
}

/** Naive recordView: reads viewCount, adds one in memory, writes it back. */
export async function naiveRecordView(db: Db, postId: ObjectId): Promise<void> {
  const posts = db.collection<NaivePost>('posts');
  const post = await posts.findOne({ _id: postId });
  if (!post) return;
  post.viewCount += 1;
  await posts.replaceOne({ _id: postId }, post);
}

/** Naive updatePackage: checks expectedVersion in memory, so every editor that read the same version "wins". */
export async function naiveUpdatePackage(db: Db, name: string, expectedVersion: number, summary: string): Promise<boolean> {
  const packages = db.collection<{ _id: string; version: number; summary: string }>('packages');
  const pkg = await packages.findOne({ _id: name });
  if (!pkg || pkg.version !== expectedVersion) return false;
  await packages.replaceOne({ _id: name }, { ...pkg, summary, version: pkg.version + 1 });
  return true;
}

interface NaivePackage {
  _id: string;
  releases: { version: string }[];
  releaseCount: number;
  keywords: string[];
}

/** Naive publishRelease: checks for the version and appends it in memory, then writes the whole list back. */
export async function naivePublishRelease(db: Db, name: string, version: string): Promise<boolean> {
  const packages = db.collection<NaivePackage>('packages');
  const pkg = await packages.findOne({ _id: name });
  if (!pkg || pkg.releases.some((r) => r.version === version)) return false;
  const releases = [...pkg.releases, { version }];
  await packages.updateOne({ _id: name }, { $set: { releases, releaseCount: releases.length } });
  return true;
}

/** Naive addKeywords: merges the new keywords into the list it read and sets the merged list. */
export async function naiveAddKeywords(db: Db, name: string, keywords: string[]): Promise<void> {
  const packages = db.collection<NaivePackage>('packages');
  const pkg = await packages.findOne({ _id: name });
  if (!pkg) return;
  await packages.updateOne({ _id: name }, { $set: { keywords: [...new Set([...pkg.keywords, ...keywords])] } });
}

/**
 * Naive createPackage: "does the name exist? if not, insert" with a generated _id, as an ORM model with an
 * auto-increment or ObjectId key and no unique index on the name would do. Every creator that checked before the
 * first insert landed inserts too.
 */
export async function naiveCreatePackage(db: Db, collection: string, name: string): Promise<boolean> {
  const packages = db.collection<{ name: string }>(collection);
  if (await packages.findOne({ name })) return false;
  await packages.insertOne({ name });
  return true;
}

/** Naive post counting: createPost reads the package's postCount and writes back one more. */
export async function naiveCountPackagePost(db: Db, name: string): Promise<void> {
  const packages = db.collection<{ _id: string; postCount: number }>('packages');
  const pkg = await packages.findOne({ _id: name });
  if (!pkg) return;
  await packages.updateOne({ _id: name }, { $set: { postCount: pkg.postCount + 1 } });
}
