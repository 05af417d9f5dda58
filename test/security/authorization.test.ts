// Authorization lives in the write's filter (maintainers, authors), so a refused call changes nothing, and the
// read that explains it comes after the write. Checked against the database, and under 50 concurrent editors.
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { ADD_KEYWORDS, CREATE_PACKAGE, CREATE_POST, DELETE_POST, LIKE_POST, PUBLISH_RELEASE, REGISTRY_STATS, UNLIKE_POST, UPDATE_PACKAGE, UPDATE_POST } from '../helpers/documents.js';

let api: TestApi;
let alice: string;
let bob: string;

beforeAll(async () => {
  api = await startApi('authorization', {}, { transport: 'in-process' });
  alice = await api.token('alice');
  bob = await api.token('bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'package-a', summary: 'Alice maintains it' } }, { token: alice });
  await api.gql(CREATE_PACKAGE, { input: { name: 'package-b', summary: 'Bob maintains it' } }, { token: bob });
});
afterAll(() => api.close());

async function createPost(token: string, title = 'A post') {
  const result = (await api.gql(CREATE_POST, { input: { title, body: 'Body', packageName: 'package-a' } }, { token })).data!.createPost;
  return { id: result.post.id as string, oid: new ObjectId(result.post.id as string) };
}

const packageDoc = (name: string) => api.db.collection('packages').findOne({ _id: name as never });
const postDoc = (oid: ObjectId) => api.db.collection('posts').findOne({ _id: oid });
const stats = async () => (await api.gql(REGISTRY_STATS)).data!.registryStats as { totalPackages: number; totalReleases: number; totalPosts: number };

describe('maintainers', () => {
  it('a maintainer of package A cannot publish to, edit or add keywords to package B; B stays as it was', async () => {
    const before = { pkg: await packageDoc('package-b'), stats: await stats(), keywordPackages: await api.db.collection('packages').countDocuments({ keywords: 'sneaky' }) };
    const publish = await api.gql(PUBLISH_RELEASE, { input: { packageName: 'package-b', version: '1.0.0', sizeBytes: 1 } }, { token: alice });
    expect(publish.data!.publishRelease.code).toBe('FORBIDDEN');
    const update = await api.gql(UPDATE_PACKAGE, { input: { name: 'package-b', expectedVersion: 1, summary: 'hijacked' } }, { token: alice });
    expect(update.data!.updatePackage.code).toBe('FORBIDDEN');
    const keywords = await api.gql(ADD_KEYWORDS, { input: { packageName: 'package-b', keywords: ['spam'] } }, { token: alice });
    expect(keywords.data!.addKeywords.code).toBe('FORBIDDEN');
    expect({ pkg: await packageDoc('package-b'), stats: await stats(), keywordPackages: await api.db.collection('packages').countDocuments({ keywords: 'sneaky' }) }).toEqual(before);
    // ...while publishing to A works.
    const own = await api.gql(PUBLISH_RELEASE, { input: { packageName: 'package-a', version: '1.0.0', sizeBytes: 1 } }, { token: alice });
    expect(own.data!.publishRelease.__typename).toBe('PublishReleaseSuccess');
  });

  it('the refusal is decided by the write, and explained by a read after it', async () => {
    const publish = await api.gql(PUBLISH_RELEASE, { input: { packageName: 'package-b', version: '2.0.0', sizeBytes: 1 } }, { token: alice });
    const onPackages = publish.extensions!.dbOps!.filter((op) => op.collection === 'packages').map((op) => op.command);
    expect(onPackages).toEqual(['findAndModify', 'find']);
  });
});

describe('likes', () => {
  it('no mutation takes a user argument, so nobody can unlike on behalf of another; the other like stays', async () => {
    for (const name of ['likePost', 'unlikePost']) {
      expect(schema.getMutationType()!.getFields()[name]!.args.map((a) => a.name)).toEqual(['postId']);
    }
    const post = await createPost(alice);
    expect((await api.gql(LIKE_POST, { postId: post.id }, { token: bob })).data!.likePost.post).toMatchObject({ likeCount: 1, viewerHasLiked: true });
    const unlike = (await api.gql(UNLIKE_POST, { postId: post.id }, { token: alice })).data!.unlikePost;
    expect(unlike.post).toMatchObject({ likeCount: 1, viewerHasLiked: false });
    const stored = await postDoc(post.oid);
    expect(stored).toMatchObject({ likedBy: ['bob'], likeCount: 1 });
  });

  it('a post reveals only whether the viewer likes it, never who else does', async () => {
    const postType = schema.getType('Post') as { getFields(): Record<string, unknown> };
    expect(Object.keys(postType.getFields())).not.toContain('likedBy');
    const post = await createPost(alice);
    await api.gql(LIKE_POST, { postId: post.id }, { token: bob });
    const asAlice = await api.gql('query ($id: ID!) { post(id: $id) { likeCount viewerHasLiked } }', { id: post.id }, { token: alice });
    expect(asAlice.data!.post).toEqual({ likeCount: 1, viewerHasLiked: false });
  });
});

describe('updatePost and deletePost: only the author, only at the version seen', () => {
  it('refuses other users with FORBIDDEN and changes nothing', async () => {
    const post = await createPost(alice);
    const before = { post: await postDoc(post.oid), pkg: await packageDoc('package-a'), stats: await stats() };
    const update = await api.gql(UPDATE_POST, { input: { postId: post.id, expectedVersion: 1, title: 'Defaced' } }, { token: bob });
    expect(update.data!.updatePost).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const remove = await api.gql(DELETE_POST, { input: { postId: post.id, expectedVersion: 1 } }, { token: bob });
    expect(remove.data!.deletePost).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    expect({ post: await postDoc(post.oid), pkg: await packageDoc('package-a'), stats: await stats() }).toEqual(before);
    expect(remove.extensions!.dbOps!.filter((op) => op.collection === 'posts').map((op) => op.command)).toEqual(['findAndModify', 'find']);
  });

  it('requires a token', async () => {
    const post = await createPost(alice);
    const response = await api.gql(UPDATE_POST, { input: { postId: post.id, expectedVersion: 1, title: 'x' } });
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('lets the author edit, bumping the version with one write; a stale version gets CONFLICT with currentVersion', async () => {
    const post = await createPost(alice);
    const edited = await api.gql(UPDATE_POST, { input: { postId: post.id, expectedVersion: 1, body: 'Better body' } }, { token: alice });
    expect(edited.data!.updatePost).toMatchObject({ __typename: 'UpdatePostSuccess', post: { title: 'A post', body: 'Better body', version: 2 } });
    expect(edited.extensions!.dbOps!.filter((op) => op.collection === 'posts').map((op) => op.command)).toEqual(['findAndModify']);
    const stale = await api.gql(UPDATE_POST, { input: { postId: post.id, expectedVersion: 1, title: 'Late' } }, { token: alice });
    expect(stale.data!.updatePost).toMatchObject({ code: 'CONFLICT', currentVersion: 2 });
    const staleDelete = await api.gql(DELETE_POST, { input: { postId: post.id, expectedVersion: 1 } }, { token: alice });
    expect(staleDelete.data!.deletePost).toMatchObject({ code: 'CONFLICT', currentVersion: 2 });
    expect(await postDoc(post.oid)).toMatchObject({ title: 'A post', body: 'Better body', version: 2 });
  });

  it('answers NOT_FOUND and VALIDATION without writing', async () => {
    const missing = new ObjectId().toHexString();
    expect((await api.gql(UPDATE_POST, { input: { postId: missing, expectedVersion: 1, title: 'x' } }, { token: alice })).data!.updatePost.code).toBe('NOT_FOUND');
    expect((await api.gql(DELETE_POST, { input: { postId: missing, expectedVersion: 1 } }, { token: alice })).data!.deletePost.code).toBe('NOT_FOUND');
    const post = await createPost(alice);
    for (const input of [
      { postId: post.id, expectedVersion: 1 },
      { postId: post.id, expectedVersion: 0, title: 'x' },
      { postId: post.id, expectedVersion: 1, title: ' ' },
      { postId: 'not-an-id', expectedVersion: 1, title: 'x' },
    ]) {
      const response = await api.gql(UPDATE_POST, { input }, { token: alice });
      expect(response.data!.updatePost.code, JSON.stringify(input)).toBe('VALIDATION');
      expect(response.extensions?.dbOps).toEqual([]);
    }
  });

  it('deletes once, and moves totalPosts and the package postCount down by exactly one', async () => {
    const post = await createPost(alice);
    const before = { total: (await stats())!.totalPosts, count: (await packageDoc('package-a'))!.postCount };
    const deletions = await Promise.all(
      Array.from({ length: 50 }, () => api.gql(DELETE_POST, { input: { postId: post.id, expectedVersion: 1 } }, { token: alice })),
    );
    const outcomes = deletions.map((r) => r.data!.deletePost.__typename);
    expect(outcomes.filter((t) => t === 'DeletePostSuccess')).toHaveLength(1);
    expect(outcomes.filter((t) => t === 'NotFoundError')).toHaveLength(49);
    expect(deletions.find((r) => r.data!.deletePost.postId)!.data!.deletePost.postId).toBe(post.id);
    // A tombstone until purged: gone for every reader, kept to answer a retried deletion.
    expect(await postDoc(post.oid)).toMatchObject({ deletedAt: expect.any(Date) });
    expect((await api.gql(`query ($id: ID!) { post(id: $id) { id } }`, { id: post.id })).data!.post).toBeNull();
    expect((await stats())!.totalPosts).toBe(before.total - 1);
    expect((await packageDoc('package-a'))!.postCount).toBe(before.count - 1);
  });

  it('lets exactly one of 50 concurrent editors holding the same version win', async () => {
    const post = await createPost(alice, 'Contested');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => api.gql(UPDATE_POST, { input: { postId: post.id, expectedVersion: 1, title: `Edit ${i}` } }, { token: alice })),
    );
    const winners = results.filter((r) => r.data!.updatePost.__typename === 'UpdatePostSuccess');
    expect(winners).toHaveLength(1);
    const losers = results.filter((r) => r.data!.updatePost.__typename !== 'UpdatePostSuccess');
    expect(losers.every((r) => r.data!.updatePost.code === 'CONFLICT' && r.data!.updatePost.currentVersion === 2)).toBe(true);
    const stored = await postDoc(post.oid);
    expect(stored).toMatchObject({ version: 2, title: winners[0]!.data!.updatePost.post.title });
  });
});
