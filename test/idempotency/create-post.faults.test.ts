// createPost under faults: every intent retried with its Idempotency-Key until answered makes exactly one post,
// counted once on its package, and leaves no effect pending.
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ABANDON_RATE, CONCURRENCY, INTENTS, startFaultyApi, type FaultyApi } from './faulty-api.js';
import { newRetryStats, runPool, sendUntilAnswered } from './retrying-client.js';

const CREATE_POST = `mutation ($input: CreatePostInput!) { createPost(input: $input) { __typename ... on CreatePostSuccess { post { id title } } ... on Error { code } } }`;

let faulty: FaultyApi;

beforeAll(async () => {
  faulty = await startFaultyApi('create-post-faults');
});
afterAll(() => faulty.close());

it(`makes exactly one post for each of ${INTENTS} keys through a faulty connection`, { timeout: 240_000 }, async () => {
  const db = faulty.api.db;
  const packageBefore = (await db.collection('packages').findOne({ _id: 'faulty' as never }))!;
  const ids: string[] = [];
  const stats = newRetryStats();
  await faulty.underFaults(
    'createPost',
    () =>
      runPool(INTENTS, CONCURRENCY, async (i) => {
        const input = { title: `faulty-${i}`, body: 'b', packageName: 'faulty' };
        const answer = await sendUntilAnswered(faulty.api.url, { query: CREATE_POST, variables: { input } }, `post-${i}`, stats, {
          token: faulty.author,
          abandonRate: ABANDON_RATE,
        });
        expect(answer.body.data.createPost.post.title).toBe(input.title);
        ids.push(answer.body.data.createPost.post.id);
      }),
    stats,
  );
  expect(await db.collection('posts').countDocuments({ title: /^faulty-/ })).toBe(INTENTS);
  expect(new Set(ids).size).toBe(INTENTS);
  expect(await db.collection('posts').countDocuments({ _id: { $in: ids.map((id) => new ObjectId(id)) } })).toBe(INTENTS);
  expect((await db.collection('packages').findOne({ _id: 'faulty' as never }))!.postCount).toBe(packageBefore.postCount + INTENTS);
  // Every effect ended: no post holds a pending count, no step's mark is left on the package.
  expect(await db.collection('posts').countDocuments({ 'effects.0': { $exists: true } })).toBe(0);
  expect((await db.collection('packages').findOne({ _id: 'faulty' as never }))!.effectMarks).toEqual([]);
});
