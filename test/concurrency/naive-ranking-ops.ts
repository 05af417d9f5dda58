// DELIBERATELY WRONG ways to keep package { topLikedPosts }, kept only to prove the ranking's concurrency test can fail:
// read-modify-write (read the ranking, set the post's entry in memory, write the whole array back), and the API's own
// pipeline write without the check after it (a post that drops below one the ranking does not hold stays ranked).
import type { Db, ObjectId } from 'mongodb';
import { TOP_LIKED_POSTS, writeRankingEntry } from '../../src/posts/top-liked-posts.ops.js';

interface NaiveEntry {
  postId: ObjectId;
  likeCount: number;
}

/** Like or unlike through the post's own atomic write, then the naive ranking write; returns whether the post changed. */
export async function naiveRankedLike(db: Db, postId: ObjectId, userId: string, like: boolean): Promise<boolean> {
  const posts = db.collection<{ _id: ObjectId; packageName: string; likedBy: string[]; likeCount: number }>('posts');
  const post = await posts.findOneAndUpdate(
    like ? { _id: postId, likedBy: { $ne: userId } } : { _id: postId, likedBy: userId },
    like ? { $push: { likedBy: userId }, $inc: { likeCount: 1 } } : { $pull: { likedBy: userId }, $inc: { likeCount: -1 } },
    { returnDocument: 'after', projection: { packageName: 1, likeCount: 1 } },
  );
  if (!post) return false;
  await naiveWriteRanking(db, post.packageName, { postId, likeCount: post.likeCount });
  return true;
}

/** Reads the ranking, replaces the post's entry, sorts, keeps ten, writes it all back over any concurrent change. */
export async function naiveWriteRanking(db: Db, packageName: string, entry: NaiveEntry): Promise<void> {
  const packages = db.collection<{ _id: string; naiveTopLikedPosts?: NaiveEntry[] }>('packages');
  const current = (await packages.findOne({ _id: packageName }, { projection: { naiveTopLikedPosts: 1 } }))?.naiveTopLikedPosts ?? [];
  const merged = [...current.filter((e) => !e.postId.equals(entry.postId)), ...(entry.likeCount > 0 ? [entry] : [])]
    .sort((a, b) => b.likeCount - a.likeCount || a.postId.toHexString().localeCompare(b.postId.toHexString()))
    .slice(0, TOP_LIKED_POSTS);
  await packages.updateOne({ _id: packageName }, { $set: { naiveTopLikedPosts: merged } });
}

/** Like or unlike, then only the API's one pipeline write of the entry (writeRankingEntry), without the check after it. */
export async function uncheckedRankedLike(db: Db, postId: ObjectId, userId: string, like: boolean): Promise<boolean> {
  const posts = db.collection<{ _id: ObjectId; packageName: string; likedBy: string[]; likeCount: number; likeSeq?: number }>('posts');
  const post = await posts.findOneAndUpdate(
    like ? { _id: postId, likedBy: { $ne: userId } } : { _id: postId, likedBy: userId },
    like ? { $push: { likedBy: userId }, $inc: { likeCount: 1, likeSeq: 1 } } : { $pull: { likedBy: userId }, $inc: { likeCount: -1, likeSeq: 1 } },
    { returnDocument: 'after', projection: { packageName: 1, likeCount: 1, likeSeq: 1 } },
  );
  if (!post) return false;
  await writeRankingEntry(db, post.packageName, { postId, likeCount: post.likeCount, seq: post.likeSeq ?? 0 });
  return true;
}
