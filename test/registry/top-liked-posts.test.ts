// package { topLikedPosts } and topPackages(by: LIKES): the ranking follows likes, unlikes and deletions (a post that
// drops is replaced by the next one, which the ranking did not hold), late writes never take a count back, a like cut
// short before its ranking write is finished by its retry or by repair, and old documents read and migrate.
import { MongoClient, ObjectId, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repairRegistry } from '../../src/effects/repair.js';
import { addLike, removeLike } from '../../src/posts/post.ops.js';
import { recountTopLikedPosts, TOP_LIKED_POSTS, writeRankingEntry } from '../../src/posts/top-liked-posts.ops.js';
import { verifyRegistry } from '../../src/stats/verify.ops.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { getTestMongoUri } from '../helpers/db.js';
import { CREATE_PACKAGE, CREATE_POST, DELETE_POST, LIKE_POST, UNLIKE_POST } from '../helpers/documents.js';
import { Stopped, stoppingAfter } from '../helpers/stopping-db.js';
import { TOP_LIKED_POSTS as TOP_LIKED_POSTS_QUERY, TOP_PACKAGES } from './documents.js';

let api: TestApi;
let client: MongoClient;
let db: Db;
let author: string;
const likers: string[] = [];

beforeAll(async () => {
  api = await startApi('top-liked-posts', {}, { transport: 'in-process' });
  // The ops are also called straight, on their own client, as a cut-short function would.
  client = new MongoClient(getTestMongoUri());
  db = client.db(api.db.databaseName);
  author = await api.token('author');
  for (let i = 0; i < 12; i++) likers.push(await api.token(`liker-${i}`));
});
afterAll(async () => {
  await client.close();
  await api.close();
});

async function newPackage(name: string): Promise<void> {
  await api.gql(CREATE_PACKAGE, { input: { name, summary: 's' } }, { token: author });
}

async function newPost(packageName: string): Promise<string> {
  return (await api.gql(CREATE_POST, { input: { title: 't', body: 'b', packageName } }, { token: author })).data!.createPost.post.id;
}

/** Gives the post `likes` likes, from likers 0..likes-1. */
async function likeTimes(postId: string, likes: number): Promise<void> {
  for (let i = 0; i < likes; i++) await api.gql(LIKE_POST, { postId }, { token: likers[i] });
}

async function ranking(name: string): Promise<[string, number][]> {
  const response = await api.gql(TOP_LIKED_POSTS_QUERY, { name });
  return response.data!.package.topLikedPosts.map((e: { likeCount: number; post: { id: string; likeCount: number } }) => {
    expect(e.post.likeCount).toBe(e.likeCount);
    return [e.post.id, e.likeCount];
  });
}

async function expectVerified(name: string): Promise<void> {
  const { differences } = await verifyRegistry(db);
  expect(differences.filter((d) => d.where === `package ${name}`)).toEqual([]);
}

describe('package { topLikedPosts }', () => {
  it('ranks the ten most-liked posts; an unliked post that drops is replaced by the eleventh, which it did not hold', async () => {
    await newPackage('ranked');
    const ids: string[] = [];
    // 12 posts with 1..12 likes: the ranking holds 12..3.
    for (let i = 0; i < 12; i++) ids.push(await newPost('ranked'));
    for (let i = 0; i < 12; i++) await likeTimes(ids[i]!, i + 1);
    const expected = ids.map((id, i) => [id, i + 1] as [string, number]).reverse().slice(0, TOP_LIKED_POSTS);
    expect(await ranking('ranked')).toEqual(expected);
    // The post with 3 likes loses 2: the post with 2 likes (never held) takes the last place, tied posts oldest first.
    await api.gql(UNLIKE_POST, { postId: ids[2] }, { token: likers[0] });
    await api.gql(UNLIKE_POST, { postId: ids[2] }, { token: likers[1] });
    const after = await ranking('ranked');
    expect(after.map(([, likes]) => likes)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 2]);
    expect(after[9]![0]).toBe(ids[1]);
    await expectVerified('ranked');
  });

  it('a deleted post leaves the ranking, and the next one takes its place', async () => {
    await newPackage('deleting');
    const ids = [await newPost('deleting'), await newPost('deleting')];
    await likeTimes(ids[0]!, 3);
    await likeTimes(ids[1]!, 1);
    await api.gql(DELETE_POST, { input: { postId: ids[0], expectedVersion: 1 } }, { token: author });
    expect(await ranking('deleting')).toEqual([[ids[1], 1]]);
    await expectVerified('deleting');
  });

  it('a write that arrives late (an older seq) never takes a count back, and is idempotent', async () => {
    await newPackage('late');
    const id = await newPost('late');
    await likeTimes(id, 3);
    const postId = new ObjectId(id);
    await writeRankingEntry(db, 'late', { postId, likeCount: 1, seq: 1 });
    await writeRankingEntry(db, 'late', { postId, likeCount: 3, seq: 3 });
    expect(await ranking('late')).toEqual([[id, 3]]);
    expect((await db.collection('packages').findOne({ _id: 'late' as never }))!.topLikedPostsLikes).toBe(3);
  });

  it('topPackages(by: LIKES) reads packages in the order of their ranked likes', async () => {
    for (const [name, likes] of [['liked-most', 9], ['liked-less', 4]] as const) {
      await newPackage(name);
      await likeTimes(await newPost(name), likes);
    }
    const top = (await api.gql(TOP_PACKAGES, { by: 'LIKES', first: 4 })).data!.topPackages.map((p: { name: string }) => p.name);
    // 'ranked' holds 12+11+...+4+2 likes, 'liked-most' 9, 'liked-less' 4, 'late' 3.
    expect(top).toEqual(['ranked', 'liked-most', 'liked-less', 'late']);
  });
});

describe('a like cut short before its ranking write', () => {
  it('is finished by the retry of the like (which changes nothing else)', async () => {
    await newPackage('cut-retry');
    const id = new ObjectId(await newPost('cut-retry'));
    await expect(addLike(stoppingAfter(db, 1), id, 'liker-0')).rejects.toThrow(Stopped);
    expect((await db.collection('posts').findOne({ _id: id }))!.likeCount).toBe(1);
    const { differences } = await verifyRegistry(db);
    expect(differences.find((d) => d.where === 'package cut-retry')).toMatchObject({ kept: 0, recounted: 1 });
    expect((await addLike(db, id, 'liker-0')).ok).toBe(true);
    expect((await db.collection('posts').findOne({ _id: id }))!.likeCount).toBe(1);
    expect(await recountTopLikedPosts(db, 'cut-retry')).toMatchObject([{ postId: id, likeCount: 1 }]);
    await expectVerified('cut-retry');
  });

  it('is finished by repair; an unlike cut short likewise', async () => {
    await newPackage('cut-repair');
    const id = new ObjectId(await newPost('cut-repair'));
    await expect(addLike(stoppingAfter(db, 1), id, 'liker-0')).rejects.toThrow(Stopped);
    await expect(addLike(stoppingAfter(db, 1), id, 'liker-1')).rejects.toThrow(Stopped);
    const report = await repairRegistry(db, 0);
    expect(report.rankingsCorrected).toBeGreaterThanOrEqual(1);
    expect(await ranking('cut-repair')).toEqual([[id.toHexString(), 2]]);
    await expect(removeLike(stoppingAfter(db, 1), id, 'liker-1')).rejects.toThrow(Stopped);
    await repairRegistry(db, 0);
    expect(await ranking('cut-repair')).toEqual([[id.toHexString(), 1]]);
    await expectVerified('cut-repair');
    // Nothing left to correct: a second run writes nothing.
    expect((await repairRegistry(db, 0)).rankingsCorrected).toBe(0);
  });

  it('naive: a retry that ranks only when its own write changed the post leaves the ranking behind (the test can fail)', async () => {
    await newPackage('cut-naive');
    const id = new ObjectId(await newPost('cut-naive'));
    await expect(addLike(stoppingAfter(db, 1), id, 'liker-0')).rejects.toThrow(Stopped);
    // The retry's post write matches nothing (the like is there), so such a retry writes no ranking.
    const retried = await db.collection('posts').updateOne({ _id: id, likedBy: { $ne: 'liker-0' } }, { $push: { likedBy: 'liker-0' }, $inc: { likeCount: 1 } } as never);
    expect(retried.modifiedCount).toBe(0);
    expect((await db.collection('packages').findOne({ _id: 'cut-naive' as never }))!.topLikedPosts).toEqual([]);
    const { differences } = await verifyRegistry(db);
    expect(differences.find((d) => d.where === 'package cut-naive')).toMatchObject({ kept: 0, recounted: 1 });
    await repairRegistry(db, 0);
    await expectVerified('cut-naive');
  });
});

describe('documents written before rankings existed', () => {
  it('read as an empty ranking, and the migration (or repair) writes theirs once', async () => {
    await db.collection('packages').insertOne({
      _id: 'old-ranked' as never,
      displayName: 'old-ranked',
      summary: 's',
      description: '',
      maintainers: ['author'],
      keywords: [],
      releases: [],
      releaseCount: 0,
      postCount: 1,
      version: 1,
      createdAt: new Date(),
      lastUpdated: new Date(),
    });
    const postId = new ObjectId();
    await db.collection('posts').insertOne({
      _id: postId,
      title: 't',
      body: 'b',
      authorId: 'author',
      packageName: 'old-ranked',
      likedBy: ['a', 'b'],
      likeCount: 2,
      viewCount: 0,
      lastViewedAt: null,
      createdAt: new Date(),
      version: 1,
    });
    expect(await ranking('old-ranked')).toEqual([]);
    const { migrateTopLikedPosts } = await import('../../scripts/migrations/top-liked-posts.js');
    expect(await migrateTopLikedPosts(db)).toBeGreaterThanOrEqual(1);
    expect(await ranking('old-ranked')).toEqual([[postId.toHexString(), 2]]);
    expect((await db.collection('packages').findOne({ _id: 'old-ranked' as never }))!.topLikedPostsLikes).toBe(2);
    expect(await migrateTopLikedPosts(db)).toBe(0);
    await expectVerified('old-ranked');
  });
});
