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
