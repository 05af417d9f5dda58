// likePost under faults: distinct users each liking once, every intent retried with its Idempotency-Key until
// answered, leave likeCount equal to the number of users (likes are idempotent per user by construction as well).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ABANDON_RATE, CONCURRENCY, INTENTS, startFaultyApi, type FaultyApi } from './faulty-api.js';
import { newRetryStats, runPool, sendUntilAnswered } from './retrying-client.js';

const LIKE_POST = `mutation ($postId: ID!) { likePost(postId: $postId) { __typename ... on LikePostSuccess { post { id viewerHasLiked } } ... on Error { code } } }`;

let faulty: FaultyApi;

beforeAll(async () => {
  faulty = await startFaultyApi('like-post-faults');
});
afterAll(() => faulty.close());

it(`counts ${INTENTS} distinct users liking through a faulty connection exactly once each`, { timeout: 240_000 }, async () => {
  const postId = await faulty.newPost('liked');
  const tokens = await Promise.all(Array.from({ length: INTENTS }, (_, i) => faulty.api.token(`fan-${i}`)));
  const stats = newRetryStats();
  await faulty.underFaults(
    'likePost',
    () =>
      runPool(INTENTS, CONCURRENCY, async (i) => {
        const answer = await sendUntilAnswered(faulty.api.url, { query: LIKE_POST, variables: { postId: postId.toHexString() } }, `like-${i}`, stats, {
          token: tokens[i],
          abandonRate: ABANDON_RATE,
        });
        expect(answer.body.data.likePost.post.viewerHasLiked).toBe(true);
      }),
    stats,
  );
  const post = (await faulty.api.db.collection('posts').findOne({ _id: postId }))!;
  expect(post.likeCount).toBe(INTENTS);
  expect(post.likedBy).toHaveLength(INTENTS);
  expect(new Set(post.likedBy).size).toBe(INTENTS);
  expect(await faulty.api.db.collection('users').countDocuments({ _id: { $regex: '^fan-' } as never })).toBe(INTENTS);
});
