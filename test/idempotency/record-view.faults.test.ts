// recordView under faults: every intent retried with its Idempotency-Key until answered counts exactly once; next to
// it, the naive variants under the same faults count views twice, so the test is known to bite.
import { MongoClient, type ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addView } from '../../src/posts/post.ops.js';
import { ABANDON_RATE, CONCURRENCY, DRIVER_OPTIONS, INTENTS, startFaultyApi, type FaultyApi } from './faulty-api.js';
import { naiveCheckThenView, naiveUnkeyedView } from './naive-idempotency.js';
import { newRetryStats, runPool, sendUntilAnswered } from './retrying-client.js';

const RECORD_VIEW = `mutation ($postId: ID!) { recordView(postId: $postId) { __typename ... on RecordViewSuccess { post { id viewCount } } ... on Error { code } } }`;

let faulty: FaultyApi;

beforeAll(async () => {
  faulty = await startFaultyApi('record-view-faults');
});
afterAll(() => faulty.close());

async function viewCount(postId: ObjectId): Promise<number> {
  return (await faulty.api.db.collection('posts').findOne({ _id: postId }))!.viewCount;
}

it(`counts ${INTENTS} keyed anonymous views through a faulty connection exactly once each`, { timeout: 240_000 }, async () => {
  const postId = await faulty.newPost('viewed');
  const stats = newRetryStats();
  await faulty.underFaults(
    'recordView',
    () =>
      runPool(INTENTS, CONCURRENCY, async (i) => {
        const answer = await sendUntilAnswered(faulty.api.url, { query: RECORD_VIEW, variables: { postId: postId.toHexString() } }, `view-${i}`, stats, {
          abandonRate: ABANDON_RATE,
        });
        expect(answer.body.data.recordView.__typename).toBe('RecordViewSuccess');
      }),
    stats,
  );
  expect(stats.attempts).toBeGreaterThan(INTENTS);
  expect(await viewCount(postId)).toBe(INTENTS);
});

describe('naive variants under the same faults (the test can fail)', () => {
  /** The retrying client at the op level: repeat until no error; an abandoned attempt keeps running meanwhile. */
  async function untilDone(attempt: () => Promise<void>): Promise<void> {
    const abandoned: Promise<unknown>[] = [];
    for (let tries = 0; tries < 60; tries++) {
      const running = attempt();
      if (Math.random() < ABANDON_RATE) {
        abandoned.push(running.catch(() => undefined));
        continue;
      }
      try {
        await running;
        break;
      } catch {
        // retried, as the API client does
      }
    }
    await Promise.all(abandoned);
  }

  it('a key check done as read-then-write counts views twice', async () => {
    const client = new MongoClient(faulty.proxy.uri(DRIVER_OPTIONS));
    try {
      const db = client.db(faulty.api.db.databaseName);
      const postId = await faulty.newPost('naive check');
      const keys = 500;
      await faulty.underFaults('naive check-then-act', () => runPool(keys, CONCURRENCY, (i) => untilDone(() => naiveCheckThenView(db, postId, `naive-${i}`))));
      expect(await viewCount(postId)).toBeGreaterThan(keys);
    } finally {
      await client.close();
    }
  });

  it('a view write that does not record its key counts twice; the same retries through addView with the key count exactly', async () => {
    // Without the driver's retryable writes every lost reply reaches the retry loop: the harshest case for the effect.
    const client = new MongoClient(faulty.proxy.uri({ ...DRIVER_OPTIONS, retryWrites: false }));
    try {
      const db = client.db(faulty.api.db.databaseName);
      const naivePost = await faulty.newPost('naive unkeyed');
      const keyedPost = await faulty.newPost('keyed');
      const views = 600;
      await faulty.underFaults('unkeyed and keyed views, no driver retries', () =>
        runPool(views, CONCURRENCY, async (i) => {
          await untilDone(() => naiveUnkeyedView(db, naivePost));
          await untilDone(async () => {
            const result = await addView(db, keyedPost, null, `effect-${i}`);
            if (!result.ok) throw result.error;
          });
        }),
      );
      expect(await viewCount(naivePost)).toBeGreaterThan(views);
      expect(await viewCount(keyedPost)).toBe(views);
    } finally {
      await client.close();
    }
  });
});
