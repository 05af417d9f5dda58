// Subscriptions over SSE against the real API: postCounters and packageActivity, ids and resumption, typed errors for
// bad arguments, the security limits, one shared change stream, and responses that end before the function's limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetEnv } from '../../src/env.js';
import { changeFeedOf } from '../../src/live/change-feed.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, CREATE_POST, DELETE_POST, LIKE_POST, PUBLISH_RELEASE, RECORD_VIEW } from '../helpers/documents.js';
import { subscribe, type LiveMessage } from './sse-client.js';

const POST_COUNTERS = 'subscription ($postId: ID!) { postCounters(postId: $postId) { postId likeCount viewCount } }';
const PACKAGE_ACTIVITY = `subscription ($name: String!) { packageActivity(name: $name) {
  __typename ... on ReleasePublished { packageName release { version } } ... on PostCreated { post { id title } } } }`;

let api: TestApi;
let alice: string;
let postId: string;

beforeAll(async () => {
  api = await startApi('live', { LIVE_STREAM_SECONDS: '4' });
  alice = await api.token('alice', 'Alice');
  await api.gql(CREATE_PACKAGE, { input: { name: 'live-pkg', summary: 'watched' } }, { token: alice });
  postId = (await api.gql(CREATE_POST, { input: { title: 'Live', body: 'b', packageName: 'live-pkg' } }, { token: alice })).data!.createPost.post.id;
});
afterAll(() => api?.close());

const like = async (user: string) => (await api.gql(LIKE_POST, { postId }, { token: await api.token(user) })).data!.likePost;

async function expectNext(connection: { next(): Promise<LiveMessage | null> }): Promise<LiveMessage> {
  const message = await connection.next();
  expect(message).not.toBeNull();
  return message!;
}

describe('postCounters', () => {
  it('starts with the counters as they are, then streams each change with its resume token as the SSE id', async () => {
    const live = await subscribe(api.url, POST_COUNTERS, { postId });
    expect(live.status).toBe(200);
    const snapshot = await expectNext(live);
    expect(snapshot.id).toBeUndefined();
    expect(snapshot.data!.postCounters).toEqual({ postId, likeCount: 0, viewCount: 0 });
    await like('u1');
    await api.gql(RECORD_VIEW, { postId });
    const first = await expectNext(live);
    const second = await expectNext(live);
    expect(first.data!.postCounters).toEqual({ postId, likeCount: 1, viewCount: 0 });
    expect(second.data!.postCounters).toEqual({ postId, likeCount: 1, viewCount: 1 });
    expect(first.id).toMatch(/^[0-9a-f]+$/i);
    expect(second.id).not.toBe(first.id);
    expect(first).not.toHaveProperty('extensions');
    live.abort();
  });

  it('resumes after the Last-Event-ID it is given: what happened while disconnected, once, in order', async () => {
    const first = await subscribe(api.url, POST_COUNTERS, { postId });
    await expectNext(first);
    await like('r1');
    const seen = await expectNext(first);
    first.abort();
    await like('r2');
    await like('r3');
    const resumed = await subscribe(api.url, POST_COUNTERS, { postId }, { lastEventId: seen.id });
    const a = await expectNext(resumed);
    const b = await expectNext(resumed);
    expect([a.data!.postCounters.likeCount, b.data!.postCounters.likeCount]).toEqual([seen.data!.postCounters.likeCount + 1, seen.data!.postCounters.likeCount + 2]);
    expect(a.id).toBeDefined();
    await like('r4');
    expect((await expectNext(resumed)).data!.postCounters.likeCount).toBe(seen.data!.postCounters.likeCount + 3);
    resumed.abort();
  });

  it('completes when the post is deleted', async () => {
    const doomed = (await api.gql(CREATE_POST, { input: { title: 'Doomed', body: 'b', packageName: 'live-pkg' } }, { token: alice })).data!.createPost.post;
    const live = await subscribe(api.url, POST_COUNTERS, { postId: doomed.id });
    await expectNext(live);
    const deleted = await api.gql(DELETE_POST, { input: { postId: doomed.id, expectedVersion: 1 } }, { token: alice });
    expect(deleted.data!.deletePost.__typename).toBe('DeletePostSuccess');
    expect(await live.next()).toBeNull();
    expect(live.completed).toBe(true);
  });

  it('answers bad arguments with typed errors in a 200 response, never a 5xx', async () => {
    const cases: [Record<string, unknown>, Record<string, string>, string][] = [
      [{ postId: 'not-an-id' }, {}, 'BAD_USER_INPUT'],
      [{ postId: '0123456789abcdef01234567' }, {}, 'NOT_FOUND'],
      [{ postId }, { 'last-event-id': 'not hex {"$gt":1}' }, 'BAD_USER_INPUT'],
      [{ postId }, { 'last-event-id': '82ffff' }, 'BAD_USER_INPUT'],
    ];
    for (const [variables, headers, code] of cases) {
      const live = await subscribe(api.url, POST_COUNTERS, variables, { headers });
      expect(live.status).toBe(200);
      const message = await expectNext(live);
      expect(message.errors?.[0]?.extensions?.code).toBe(code);
      live.abort();
    }
  });
});

describe('packageActivity', () => {
  it('streams releases published and posts created about the package, and nothing about other packages', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'other-pkg', summary: 'not watched' } }, { token: alice });
    const live = await subscribe(api.url, PACKAGE_ACTIVITY, { name: 'Live_Pkg' });
    expect(live.status).toBe(200);
    // No snapshot to wait for: the changes below must come after the instance's stream is open.
    await expect.poll(() => changeFeedOf(api.db).subscriberCount).toBeGreaterThan(0);
    await changeFeedOf(api.db).ready();
    await api.gql(PUBLISH_RELEASE, { input: { packageName: 'other-pkg', version: '9.0.0', sizeBytes: 1 } }, { token: alice });
    await api.gql(PUBLISH_RELEASE, { input: { packageName: 'live-pkg', version: '1.0.0', sizeBytes: 10 } }, { token: alice });
    await api.gql(PUBLISH_RELEASE, { input: { packageName: 'live-pkg', version: '0.9.0', sizeBytes: 10 } }, { token: alice });
    await api.gql(CREATE_POST, { input: { title: 'Elsewhere', body: 'b', packageName: 'other-pkg' } }, { token: alice });
    await api.gql(CREATE_POST, { input: { title: 'News', body: 'b', packageName: 'live-pkg' } }, { token: alice });
    const events = [await expectNext(live), await expectNext(live), await expectNext(live)].map((m) => m.data!.packageActivity);
    expect(events).toEqual([
      { __typename: 'ReleasePublished', packageName: 'live-pkg', release: { version: '1.0.0' } },
      { __typename: 'ReleasePublished', packageName: 'live-pkg', release: { version: '0.9.0' } },
      { __typename: 'PostCreated', post: { id: expect.any(String), title: 'News' } },
    ]);
    live.abort();
  });

  it('refuses an invalid or unknown package name with a typed error', async () => {
    for (const [name, code] of [
      ['{"$gt": ""}', 'BAD_USER_INPUT'],
      ['no-such-package', 'NOT_FOUND'],
    ]) {
      const live = await subscribe(api.url, PACKAGE_ACTIVITY, { name });
      expect((await expectNext(live)).errors?.[0]?.extensions?.code).toBe(code);
      live.abort();
    }
  });
});

describe('the live transport', () => {
  it('reads every subscription of the instance from one shared change stream', async () => {
    const feed = changeFeedOf(api.db);
    const before = { ...feed.opens };
    const subscribers = await Promise.all(Array.from({ length: 5 }, () => subscribe(api.url, POST_COUNTERS, { postId })));
    const activity = await subscribe(api.url, PACKAGE_ACTIVITY, { name: 'live-pkg' });
    for (const s of subscribers) await expectNext(s);
    await like('fan');
    for (const s of subscribers) expect((await expectNext(s)).id).toBeDefined();
    expect(feed.opens.shared - before.shared).toBeLessThanOrEqual(1);
    expect(feed.opens.catchUp).toBe(before.catchUp);
    for (const s of [...subscribers, activity]) s.abort();
    // The last subscriber gone, the stream closes.
    await expect.poll(() => feed.subscriberCount).toBe(0);
  });

  it('ends each response before the function may be stopped, without "complete", so the client reconnects', async () => {
    const started = Date.now();
    const live = await subscribe(api.url, POST_COUNTERS, { postId });
    await expectNext(live);
    expect(await live.next()).toBeNull();
    expect(live.completed).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('refuses a page size over the limit passed as a variable, as queries do', async () => {
    const sponsors = `subscription ($name: String!, $n: Int) { packageActivity(name: $name) {
      ... on PostCreated { post { package { sponsors(first: $n) { pageInfo { hasNextPage } } } } } } }`;
    const live = await subscribe(api.url, sponsors, { name: 'live-pkg', n: 101 });
    const message = await expectNext(live);
    expect(message.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(message.errors?.[0]?.message).toMatch(/"first" must be between 0 and 100/);
    live.abort();
  });

  it('keeps the depth and cost limits for subscriptions too', async () => {
    for (const [variable, value, message] of [
      ['MAX_DEPTH', '2', /depth/i],
      ['MAX_COST', '5', /cost/i],
    ] as const) {
      process.env[variable] = value;
      resetEnv();
      try {
        const live = await subscribe(api.url, PACKAGE_ACTIVITY, { name: 'live-pkg' });
        expect((await expectNext(live)).errors?.[0]?.message).toMatch(message);
        live.abort();
      } finally {
        delete process.env[variable];
        resetEnv();
      }
    }
  });
});
