// The top-liked-posts scenario: likes and unlikes from many users across 14 posts of one package, all racing for the
// package's ranking (package { topLikedPosts }), through the API (one pipeline write per event, then the check), the
// same op through the driver, and two baselines through the driver: read-modify-write of the ranking, and optimistic
// locking on a ranking version (save if unchanged, else retry with backoff, give up after 10).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db, ObjectId } from 'mongodb';
import { addLike, createPost, removeLike } from '../../src/posts/post.ops.js';
import { recountTopLikedPosts, TOP_LIKED_POSTS } from '../../src/posts/top-liked-posts.ops.js';
import { insertPackage, type TopLikedPostEntry } from '../../src/packages/package.ops.js';
import { naiveRankedLike } from '../../test/concurrency/naive-ranking-ops.js';
import type { Classified, LoadResult } from '../load.js';
import { BENCH_LIKE_POST, BENCH_UNLIKE_POST } from './posts.js';
import { Checks, driverLoad, graphqlLoad, type Scenario, signTokens, type Variant, variantResult, wantsVariant } from './common.js';

const POSTS = 14;
const MAX_RETRIES = 10;

interface RankingEvent {
  user: number;
  post: number;
  like: boolean;
}

/**
 * About `amount` events: post p gets likes from its first (0.3 + 0.7 * (7p mod 17) / 16) * k users, so counts differ
 * and cross the tenth place; every third post also gets unlikes from half its likers. Shuffled with a fixed seed.
 */
function plan(amount: number): { events: RankingEvent[]; users: number } {
  const share = (p: number) => 0.3 + (0.7 * ((7 * p) % 17)) / 16;
  const weights = Array.from({ length: POSTS }, (_, p) => share(p) * (p % 3 === 0 ? 1.5 : 1));
  const k = Math.max(2, Math.round(amount / weights.reduce((a, b) => a + b, 0)));
  const events: RankingEvent[] = [];
  for (let post = 0; post < POSTS; post++) {
    const likers = Math.max(1, Math.round(share(post) * k));
    for (let user = 0; user < likers; user++) {
      events.push({ user, post, like: true });
      if (post % 3 === 0 && user % 2 === 1) events.push({ user, post, like: false });
    }
  }
  let seed = 7;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  return { events, users: k };
}

/** BASELINE ONLY: the post's own atomic write, then the ranking by optimistic locking on `occRankingVersion`. */
async function optimisticRankedLike(db: Db, postId: ObjectId, userId: string, like: boolean): Promise<Classified> {
  const post = await db.collection<{ _id: ObjectId; packageName: string; likeCount: number }>('posts').findOneAndUpdate(
    like ? { _id: postId, likedBy: { $ne: userId } } : { _id: postId, likedBy: userId },
    like ? { $push: { likedBy: userId }, $inc: { likeCount: 1 } } : { $pull: { likedBy: userId }, $inc: { likeCount: -1 } },
    { returnDocument: 'after', projection: { packageName: 1, likeCount: 1 } },
  );
  if (!post) return { outcome: 'ok' };
  const packages = db.collection<{ _id: string; occTopLikedPosts?: TopLikedPostEntry[]; occRankingVersion?: number }>('packages');
  for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
    if (attempt > 0) await sleep(Math.random() * Math.min(50, 2 * 2 ** attempt));
    const pkg = await packages.findOne({ _id: post.packageName }, { projection: { occTopLikedPosts: 1, occRankingVersion: 1 } });
    const version = pkg?.occRankingVersion ?? 0;
    const merged = [...(pkg?.occTopLikedPosts ?? []).filter((e) => !e.postId.equals(postId)), ...(post.likeCount > 0 ? [{ postId, likeCount: post.likeCount, seq: 0 }] : [])]
      .sort((a, b) => b.likeCount - a.likeCount || a.postId.toHexString().localeCompare(b.postId.toHexString()))
      .slice(0, TOP_LIKED_POSTS);
    const { matchedCount } = await packages.updateOne(
      { _id: post.packageName, ...(version === 0 ? { occRankingVersion: { $exists: false } } : { occRankingVersion: version }) },
      { $set: { occTopLikedPosts: merged, occRankingVersion: version + 1 } },
    );
    if (matchedCount === 1) return { outcome: 'ok', retries: attempt };
  }
  return { outcome: 'error:GAVE_UP', retries: MAX_RETRIES };
}

/** Positions of the kept ranking that hold the recount's post with the recount's likes. */
function matchingPlaces(kept: readonly { postId: ObjectId; likeCount: number }[], recounted: readonly TopLikedPostEntry[]): number {
  return recounted.filter((e, i) => kept[i]?.postId.equals(e.postId) && kept[i]!.likeCount === e.likeCount).length;
}

export const topLikedPosts: Scenario = {
  name: 'top-liked-posts',
  description: `likes and unlikes across ${POSTS} posts of one package: package { topLikedPosts } equals the recount from the posts (places right = places)`,
  async run(env) {
    const { events, users } = plan(env.counts.optimisticRequests);
    const results = [];
    const like = (db: Db, oid: ObjectId, user: string, event: RankingEvent) => (event.like ? addLike(db, oid, user) : removeLike(db, oid, user));
    const variants: { variant: Variant; field: string; run: (prefix: string, posts: ObjectId[]) => Promise<LoadResult> }[] = [
      {
        variant: 'graphql',
        field: 'topLikedPosts',
        run: async (prefix, posts) => {
          const tokens = await signTokens(env, Array.from({ length: users }, (_, u) => `${prefix}-u${u}`));
          return graphqlLoad(env, {
            document: (i) => (events[i]!.like ? BENCH_LIKE_POST : BENCH_UNLIKE_POST),
            amount: events.length,
            variables: (i) => ({ postId: posts[events[i]!.post]!.toHexString() }),
            token: (i) => tokens[events[i]!.user]!,
          });
        },
      },
      {
        variant: 'driver',
        field: 'topLikedPosts',
        run: (prefix, posts) =>
          driverLoad(env, events.length, async (i) => {
            const event = events[i]!;
            const result = await like(env.db, posts[event.post]!, `${prefix}-u${event.user}`, event);
            return { outcome: result.ok ? 'ok' : result.error.code };
          }),
      },
      {
        variant: 'rmw',
        field: 'naiveTopLikedPosts',
        run: (prefix, posts) =>
          driverLoad(env, events.length, async (i) => {
            const event = events[i]!;
            await naiveRankedLike(env.db, posts[event.post]!, `${prefix}-u${event.user}`, event.like);
            return { outcome: 'ok' };
          }),
      },
      {
        variant: 'occ',
        field: 'occTopLikedPosts',
        run: (prefix, posts) => driverLoad(env, events.length, (i) => optimisticRankedLike(env.db, posts[events[i]!.post]!, `${prefix}-u${events[i]!.user}`, events[i]!.like)),
      },
    ];
    for (const { variant, field, run } of variants) {
      if (!wantsVariant(env, variant)) continue;
      const prefix = `ranking-${variant}-${Date.now().toString(36)}`;
      await insertPackage(env.db, { name: prefix, displayName: prefix, summary: 'bench', maintainerId: 'bench-author' });
      const posts: ObjectId[] = [];
      for (let p = 0; p < POSTS; p++) {
        const created = await createPost(env.db, { title: `p${p}`, body: 'bench', authorId: 'bench-author', packageName: prefix });
        if (!created.ok) throw new Error(`could not create a bench post: ${created.error.message}`);
        posts.push(created.value._id);
      }
      env.log?.(`${this.name} / ${variant}: ${events.length} likes and unlikes from ${users} users on ${POSTS} posts`);
      const load = await run(prefix, posts);
      const stored = await env.db.collection('packages').findOne({ _id: prefix as never });
      const kept = (stored?.[field] as TopLikedPostEntry[] | undefined) ?? [];
      const recounted = await recountTopLikedPosts(env.db, prefix);
      const places = Math.max(kept.length, recounted.length);
      const checks = new Checks();
      // Every event is one pipeline write of the ranking; every ranking write beyond those is a check's correction.
      const corrections = field === 'topLikedPosts' ? ((stored?.topLikedPostsRev as number | undefined) ?? 0) - events.length : 0;
      if (field === 'topLikedPosts') checks.equal('topLikedPostsLikes vs its entries', stored?.topLikedPostsLikes, kept.reduce((sum, e) => sum + e.likeCount, 0));
      const row = variantResult(this.name, variant, env.connections, load, ['ok'], { expected: places, observed: matchingPlaces(kept, recounted), duplicates: 0 }, checks);
      if (field === 'topLikedPosts') {
        env.log?.(`${this.name} / ${variant}: ${corrections} corrections written by the checks`);
        row.outcomes = { ...row.outcomes, corrections };
      }
      results.push(row);
    }
    return results;
  },
};
