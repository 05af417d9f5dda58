// Parallel createPost, likePost, unlikePost and recordView requests; invariants read from the database, next to the
// naive read-modify-write variants that lose updates under the same race.
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, CREATE_POST, LIKE_POST, RECORD_VIEW, REGISTRY_STATS, UNLIKE_POST } from '../helpers/documents.js';
import { naiveCountPackagePost, naiveLikePost, naiveRecordView } from './naive-ops.js';

const PARALLEL = 60;

let api: TestApi;
let author: string;
const tokens: string[] = [];

beforeAll(async () => {
  api = await startApi('posts-race');
  author = await api.token('author');
  for (let i = 0; i < PARALLEL; i++) tokens.push(await api.token(`liker-${i}`));
  await api.gql(CREATE_PACKAGE, { input: { name: 'raced', summary: 's' } }, { token: author });
});
afterAll(() => api.close());

async function newPost(title: string): Promise<{ id: string; oid: ObjectId }> {
  const id = (await api.gql(CREATE_POST, { input: { title, body: 'b', packageName: 'raced' } }, { token: author })).data!.createPost.post.id;
  return { id, oid: new ObjectId(id) };
}

async function readPost(oid: ObjectId) {
  return (await api.db.collection('posts').findOne({ _id: oid }))!;
}

describe('createPost under concurrency', () => {
  it(`creates ${PARALLEL} posts at once, each once, and counts every one on the package and in the totals`, async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'posted', summary: 's' } }, { token: author });
    const before = (await api.gql(REGISTRY_STATS)).data!.registryStats.totalPosts;
    const results = await Promise.all(
      tokens.map((token, i) => api.gql(CREATE_POST, { input: { title: `Post ${i}`, body: 'b', packageName: 'posted' } }, { token })),
    );
    const ids = results.map((r) => r.data!.createPost.post.id);
    expect(new Set(ids).size).toBe(PARALLEL);
    expect(await api.db.collection('posts').countDocuments({ packageName: 'posted' })).toBe(PARALLEL);
    expect((await api.db.collection('packages').findOne({ _id: 'posted' as never }))!.postCount).toBe(PARALLEL);
    expect((await api.gql(REGISTRY_STATS)).data!.registryStats.totalPosts).toBe(before + PARALLEL);
  });

  it('naive read-increment-write post counting loses counts under the same race (the test can fail)', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'naive-posted', summary: 's' } }, { token: author });
    await Promise.all(tokens.map(() => naiveCountPackagePost(api.db, 'naive-posted')));
    expect((await api.db.collection('packages').findOne({ _id: 'naive-posted' as never }))!.postCount).toBeLessThan(PARALLEL);
  });
});

describe('likePost under concurrency', () => {
  it(`counts ${PARALLEL} distinct users liking at once exactly`, async () => {
    const post = await newPost('hot');
    const results = await Promise.all(tokens.map((token) => api.gql(LIKE_POST, { postId: post.id }, { token })));
    expect(results.every((r) => r.data?.likePost.__typename === 'LikePostSuccess')).toBe(true);
    const stored = await readPost(post.oid);
    expect(stored.likeCount).toBe(PARALLEL);
    expect(new Set(stored.likedBy).size).toBe(PARALLEL);
  });

  it('counts one user liking 50 times at once as one like', async () => {
    const post = await newPost('repeat');
    await Promise.all(Array.from({ length: 50 }, () => api.gql(LIKE_POST, { postId: post.id }, { token: tokens[0] })));
    const stored = await readPost(post.oid);
    expect(stored.likeCount).toBe(1);
    expect(stored.likedBy).toEqual(['liker-0']);
  });

  it('keeps likeCount equal to the distinct likers through interleaved likes and unlikes', async () => {
    const post = await newPost('flapping');
    const requests = tokens.flatMap((token, i) =>
      [LIKE_POST, UNLIKE_POST, LIKE_POST, i % 2 === 0 ? UNLIKE_POST : LIKE_POST].map((doc) => api.gql(doc, { postId: post.id }, { token })),
    );
    await Promise.all(requests);
    const stored = await readPost(post.oid);
    expect(new Set(stored.likedBy).size).toBe(stored.likedBy.length);
    expect(stored.likeCount).toBe(stored.likedBy.length);
    expect(stored.likeCount).toBeGreaterThanOrEqual(0);
  });

  it('naive read-modify-write likePost loses likes under the same race (the test can fail)', async () => {
    const post = await newPost('naive');
    await Promise.all(tokens.map((_, i) => naiveLikePost(api.db, post.oid, `liker-${i}`)));
    const stored = await readPost(post.oid);
    expect(stored.likeCount).toBeLessThan(PARALLEL);
  });
});

describe('recordView under concurrency', () => {
  it('counts 200 simultaneous views exactly and keeps lastViewedAt', async () => {
    const post = await newPost('viewed');
    const results = await Promise.all(Array.from({ length: 200 }, () => api.gql(RECORD_VIEW, { postId: post.id })));
    expect(results.every((r) => r.data?.recordView.__typename === 'RecordViewSuccess')).toBe(true);
    const stored = await readPost(post.oid);
    expect(stored.viewCount).toBe(200);
    const latestSeen = Math.max(...results.map((r) => Date.parse(r.data!.recordView.post.lastViewedAt)));
    expect(stored.lastViewedAt.getTime()).toBe(latestSeen);
  });

  it('naive read-modify-write recordView loses views under the same race (the test can fail)', async () => {
    const post = await newPost('naive views');
    await Promise.all(Array.from({ length: 200 }, () => naiveRecordView(api.db, post.oid)));
    expect((await readPost(post.oid)).viewCount).toBeLessThan(200);
  });
});
