// Migration: gives every package written before rankings existed its topLikedPosts and topLikedPostsLikes.
import type { Db } from 'mongodb';
import { repairTopLikedPosts } from '../../src/posts/top-liked-posts.ops.js';

/**
 * idempotent: the ranking of every package with a liked post is written from the recount where it differs (the same
 * conditional write repair uses, so safe while the API serves), and packages without one get an empty ranking and 0
 * likes, so topPackages(by: LIKES) sees every package. Returns how many packages it wrote (0 on a second run).
 */
export async function migrateTopLikedPosts(db: Db): Promise<number> {
  const { corrected, backfilled } = await repairTopLikedPosts(db);
  return corrected + backfilled;
}
