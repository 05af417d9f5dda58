// Post scenarios: likes by many users, by one user at once, interleaved like/unlike, and views on one hot post;
// likes and views also run through every baseline, each variant on a post of its own.
import { ObjectId } from 'mongodb';
import type { LoadResult } from '../load.js';
import { addLike, addView, type PostDoc } from '../../src/posts/post.ops.js';
import { ensureUser } from '../../src/users/user.ops.js';
import { CREATE_PACKAGE, CREATE_POST } from '../../test/helpers/documents.js';
import type { BaselineVariant } from '../baselines/server.js';
import {
  baselineLoad,
  type BenchEnv,
  Checks,
  driverLoad,
  gql,
  graphqlLoad,
  type Scenario,
  signTokens,
  type Variant,
  variantResult,
  VARIANTS,
  type VariantResult,
  wantsVariant,
} from './common.js';

// The measured documents ask for exactly what the JSON baseline returns, so the comparison measures GraphQL, not extra reads.
const RESULT_FIELDS = `__typename ... on Error { code message }`;
export const BENCH_LIKE_POST = `mutation ($postId: ID!) { likePost(postId: $postId) { ${RESULT_FIELDS} ... on LikePostSuccess { post { id likeCount viewCount } } } }`;
export const BENCH_UNLIKE_POST = `mutation ($postId: ID!) { unlikePost(postId: $postId) { ${RESULT_FIELDS} ... on LikePostSuccess { post { id likeCount viewCount } } } }`;
export const BENCH_RECORD_VIEW = `mutation ($postId: ID!) { recordView(postId: $postId) { ${RESULT_FIELDS} ... on RecordViewSuccess { post { id likeCount viewCount } } } }`;

const BASELINE_OF: Partial<Record<Variant, BaselineVariant>> = { json: 'atomic', rmw: 'rmw', occ: 'occ' };
const AUTHOR = 'bench-author';
const POSTS_PACKAGE = 'bench-posts';

interface BenchPost {
  id: string;
  oid: ObjectId;
}

/** A fresh post (and, the first time, its package) created through the API, outside the measured load. */
export async function newPost(env: BenchEnv, title: string): Promise<BenchPost> {
  const [token] = await signTokens(env, [AUTHOR]);
  const created = (await gql(env, CREATE_PACKAGE, { input: { name: POSTS_PACKAGE, summary: 'posts for the bench' } }, token)).createPackage;
  if (created.__typename !== 'CreatePackageSuccess' && created.code !== 'ALREADY_EXISTS') {
    throw new Error(`could not create the bench package: ${JSON.stringify(created)}`);
  }
  const data = await gql(env, CREATE_POST, { input: { title, body: 'bench', packageName: POSTS_PACKAGE } }, token);
  const id = data.createPost.post?.id;
  if (!id) throw new Error(`could not create a bench post: ${JSON.stringify(data.createPost)}`);
  return { id, oid: new ObjectId(id) };
}

async function readPost(env: BenchEnv, post: BenchPost): Promise<PostDoc> {
  const stored = await env.db.collection<PostDoc>('posts').findOne({ _id: post.oid });
  if (!stored) throw new Error(`post ${post.id} vanished`);
  return stored;
}

/** One like (by users[i]) or view per request, through the given variant. */
async function loadPostOp(env: BenchEnv, variant: Variant, op: 'like' | 'view', post: BenchPost, amount: number, users: string[] = []): Promise<LoadResult> {
  const tokens = op === 'like' && variant !== 'driver' ? await signTokens(env, users) : [];
  const token = op === 'like' ? (i: number) => tokens[i]! : undefined;
  if (variant === 'graphql') {
    const document = op === 'like' ? BENCH_LIKE_POST : BENCH_RECORD_VIEW;
    return graphqlLoad(env, { document: () => document, amount, variables: () => ({ postId: post.id }), token });
  }
  if (variant === 'driver') {
    return driverLoad(env, amount, async (i) => {
      if (op === 'like') await ensureUser(env.db, { id: users[i]!, name: null });
      const result = op === 'like' ? await addLike(env.db, post.oid, users[i]!) : await addView(env.db, post.oid, null);
      return { outcome: result.ok ? 'ok' : `error:${result.error.code}` };
    });
  }
  return baselineLoad(env, { variant: BASELINE_OF[variant]!, op, amount, postId: post.id, token });
}

export const likeDistinctUsers: Scenario = {
  name: 'like-distinct-users',
  description: 'likePost by N distinct users on one hot post: likeCount = distinct likers = acknowledged likes',
  async run(env) {
    const results: VariantResult[] = [];
    for (const variant of VARIANTS.filter((v) => wantsVariant(env, v))) {
      const n = variant === 'occ' ? Math.min(env.counts.optimisticRequests, env.counts.likers) : env.counts.likers;
      const post = await newPost(env, `${this.name} ${variant}`);
      // User ids differ per variant, so no variant profits from users an instance already created.
      const users = Array.from({ length: n }, (_, i) => `liker-${variant}-${i}`);
      env.log?.(`${this.name} / ${variant}: ${n} likes`);
      const load = await loadPostOp(env, variant, 'like', post, n, users);
      const stored = await readPost(env, post);
      const distinct = new Set(stored.likedBy).size;
      const checks = new Checks().equal('likeCount vs distinct likers', stored.likeCount, distinct);
      results.push(
        variantResult(this.name, variant, env.connections, load, ['ok'], {
          expected: load.outcomes.ok ?? 0,
          observed: stored.likeCount,
          duplicates: stored.likedBy.length - distinct,
        }, checks),
      );
    }
    return results;
  },
};

export const likeSameUser: Scenario = {
  name: 'like-same-user',
  description: 'likePost by one user N times at once: exactly one like',
  async run(env) {
    const n = env.counts.sameUserLikes;
    const post = await newPost(env, this.name);
    const [token] = await signTokens(env, ['repeat-liker']);
    env.log?.(`${this.name} / graphql: ${n} likes by one user`);
    const load = await graphqlLoad(env, { document: () => BENCH_LIKE_POST, amount: n, variables: () => ({ postId: post.id }), token: () => token! });
    const stored = await readPost(env, post);
    const checks = new Checks().equal('likedBy', stored.likedBy, ['repeat-liker']);
    return [
      variantResult(this.name, 'graphql', env.connections, load, ['ok'], {
        expected: 1,
        observed: stored.likeCount,
        duplicates: stored.likedBy.length - new Set(stored.likedBy).size,
      }, checks),
    ];
  },
};

export const likeUnlikeInterleaved: Scenario = {
  name: 'like-unlike-interleaved',
  description: 'N users each send like, unlike, like, then unlike (even users) or like (odd) at once: likeCount = distinct likers',
  async run(env) {
    const users = Array.from({ length: env.counts.flappingUsers }, (_, i) => `flapper-${i}`);
    const tokens = await signTokens(env, users);
    const post = await newPost(env, this.name);
    // A user's four requests are issued back to back, so they travel on different connections and race each other.
    const documentFor = (i: number) => {
      const step = i % 4;
      const user = Math.floor(i / 4);
      if (step === 1 || (step === 3 && user % 2 === 0)) return BENCH_UNLIKE_POST;
      return BENCH_LIKE_POST;
    };
    env.log?.(`${this.name} / graphql: ${users.length * 4} likes and unlikes`);
    const load = await graphqlLoad(env, {
      document: documentFor,
      amount: users.length * 4,
      variables: () => ({ postId: post.id }),
      token: (i) => tokens[Math.floor(i / 4)]!,
    });
    const stored = await readPost(env, post);
    const distinct = new Set(stored.likedBy).size;
    return [
      variantResult(this.name, 'graphql', env.connections, load, ['ok'], {
        expected: distinct,
        observed: stored.likeCount,
        duplicates: stored.likedBy.length - distinct,
      }, new Checks()),
    ];
  },
};

export const recordViews: Scenario = {
  name: 'record-view',
  description: 'recordView N times on one post: viewCount = acknowledged views',
  async run(env) {
    const results: VariantResult[] = [];
    for (const variant of VARIANTS.filter((v) => wantsVariant(env, v))) {
      const n = variant === 'occ' ? Math.min(env.counts.optimisticRequests, env.counts.views) : env.counts.views;
      const post = await newPost(env, `${this.name} ${variant}`);
      env.log?.(`${this.name} / ${variant}: ${n} views`);
      const load = await loadPostOp(env, variant, 'view', post, n);
      const stored = await readPost(env, post);
      results.push(
        variantResult(this.name, variant, env.connections, load, ['ok'], {
          expected: load.outcomes.ok ?? 0,
          observed: stored.viewCount,
          duplicates: 0,
        }, new Checks()),
      );
    }
    return results;
  },
};

/**
 * Warms every instance (JIT, connection pools) on throwaway posts: `perInstance` views and likes per instance through
 * GraphQL and through the JSON endpoint. V8 optimizes GraphQL's deep call stack only after thousands of calls per
 * process, so without this the first variant measured would mostly time unoptimized code.
 */
export async function warmUp(env: BenchEnv, perInstance: number): Promise<void> {
  const amount = perInstance * env.apiUrls.length;
  for (const variant of ['graphql', 'json'] as const) {
    await loadPostOp(env, variant, 'view', await newPost(env, `warm-up views ${variant}`), amount);
    const users = Array.from({ length: amount }, (_, i) => `warm-up-${variant}-${i}`);
    await loadPostOp(env, variant, 'like', await newPost(env, `warm-up likes ${variant}`), amount, users);
  }
}
