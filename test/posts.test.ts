// Posts over real HTTP: createPost, likePost, unlikePost, recordView and the post queries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from './helpers/api.js';
import { CREATE_PACKAGE, CREATE_POST, LIKE_POST, POST_FIELDS, RECORD_VIEW, REGISTRY_STATS, UNLIKE_POST } from './helpers/documents.js';

let api: TestApi;
let alice: string;
let bob: string;

beforeAll(async () => {
  api = await startApi('posts', {}, { transport: 'in-process' });
  alice = await api.token('alice', 'Alice');
  bob = await api.token('bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'Post.Target', summary: 'Posts are about me' } }, { token: alice });
});
afterAll(() => api.close());

async function createPost(title = 'Hello', packageName = 'post-target', token = alice) {
  return (await api.gql(CREATE_POST, { input: { title, body: 'Body text', packageName } }, { token })).data!.createPost;
}

describe('createPost', () => {
  it('creates a post about a package with zeroed counters, counted in stats and on the package', async () => {
    const before = (await api.gql(REGISTRY_STATS)).data!.registryStats.totalPosts;
    const result = await createPost('First post', 'POST_TARGET');
    expect(result.__typename).toBe('CreatePostSuccess');
    expect(result.post).toMatchObject({
      title: 'First post',
      likeCount: 0,
      viewCount: 0,
      viewerHasLiked: false,
      lastViewedAt: null,
      author: { id: 'alice', name: 'Alice' },
      package: { name: 'post-target' },
    });
    expect((await api.gql(REGISTRY_STATS)).data!.registryStats.totalPosts).toBe(before + 1);
    expect((await api.db.collection('packages').findOne({ _id: 'post-target' as never }))?.postCount).toBeGreaterThanOrEqual(1);
  });

  it('answers NOT_FOUND for an unknown package and VALIDATION for bad fields, writing nothing', async () => {
    const before = await api.db.collection('posts').countDocuments();
    expect((await createPost('x', 'missing-package')).code).toBe('NOT_FOUND');
    expect((await createPost('', 'post-target')).code).toBe('VALIDATION');
    expect((await createPost('t'.repeat(201), 'post-target')).code).toBe('VALIDATION');
    expect((await createPost('x', '{"$gt": ""}')).code).toBe('VALIDATION');
    expect(await api.db.collection('posts').countDocuments()).toBe(before);
  });

  it('requires a token', async () => {
    const response = await api.gql(CREATE_POST, { input: { title: 't', body: 'b', packageName: 'post-target' } });
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('likePost and unlikePost', () => {
  it('likes once per user, unlikes once, and shows viewerHasLiked only to the liker', async () => {
    const postId = (await createPost('Likeable')).post.id;
    const first = (await api.gql(LIKE_POST, { postId }, { token: alice })).data!.likePost;
    expect(first.post).toMatchObject({ likeCount: 1, viewerHasLiked: true });
    const repeat = (await api.gql(LIKE_POST, { postId }, { token: alice })).data!.likePost;
    expect(repeat.post).toMatchObject({ likeCount: 1, viewerHasLiked: true });

    const asBob = await api.gql(`query ($id: ID!) { post(id: $id) { likeCount viewerHasLiked } }`, { id: postId }, { token: bob });
    expect(asBob.data!.post).toEqual({ likeCount: 1, viewerHasLiked: false });
    const anonymous = await api.gql(`query ($id: ID!) { post(id: $id) { viewerHasLiked } }`, { id: postId });
    expect(anonymous.data!.post.viewerHasLiked).toBe(false);

    const unliked = (await api.gql(UNLIKE_POST, { postId }, { token: alice })).data!.unlikePost;
    expect(unliked.post).toMatchObject({ likeCount: 0, viewerHasLiked: false });
    const unlikedAgain = (await api.gql(UNLIKE_POST, { postId }, { token: alice })).data!.unlikePost;
    expect(unlikedAgain.post.likeCount).toBe(0);
    const stored = await api.db.collection('posts').findOne({ title: 'Likeable' });
    expect(stored).toMatchObject({ likeCount: 0, likedBy: [] });
  });

  it('answers NOT_FOUND for an unknown post and VALIDATION for a malformed id', async () => {
    expect((await api.gql(LIKE_POST, { postId: '0123456789abcdef01234567' }, { token: alice })).data!.likePost.code).toBe('NOT_FOUND');
    expect((await api.gql(UNLIKE_POST, { postId: '0123456789abcdef01234567' }, { token: alice })).data!.unlikePost.code).toBe('NOT_FOUND');
    expect((await api.gql(LIKE_POST, { postId: 'not-an-id' }, { token: alice })).data!.likePost.code).toBe('VALIDATION');
    expect((await api.gql(LIKE_POST, { postId: '{"$gt": ""}' }, { token: alice })).data!.likePost.code).toBe('VALIDATION');
  });

  it('requires a token', async () => {
    const postId = (await createPost('Anon like')).post.id;
    const response = await api.gql(LIKE_POST, { postId });
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await api.db.collection('posts').findOne({ title: 'Anon like' }))?.likeCount).toBe(0);
  });
});

describe('recordView', () => {
  it('counts anonymous and signed-in views and moves lastViewedAt forward', async () => {
    const postId = (await createPost('Viewed')).post.id;
    const first = (await api.gql(RECORD_VIEW, { postId })).data!.recordView;
    expect(first.post.viewCount).toBe(1);
    expect(first.post.lastViewedAt).not.toBeNull();
    const second = (await api.gql(RECORD_VIEW, { postId }, { token: bob })).data!.recordView;
    expect(second.post.viewCount).toBe(2);
    expect(Date.parse(second.post.lastViewedAt)).toBeGreaterThanOrEqual(Date.parse(first.post.lastViewedAt));
  });

  it('never moves lastViewedAt backwards, even from a future-dated value', async () => {
    const postId = (await createPost('Clock skew')).post.id;
    const future = new Date(Date.now() + 3_600_000);
    await api.db.collection('posts').updateOne({ title: 'Clock skew' }, { $set: { lastViewedAt: future } });
    const result = (await api.gql(RECORD_VIEW, { postId })).data!.recordView;
    expect(result.post.lastViewedAt).toBe(future.toISOString());
  });

  it('answers NOT_FOUND and VALIDATION without writing', async () => {
    expect((await api.gql(RECORD_VIEW, { postId: '0123456789abcdef01234567' })).data!.recordView.code).toBe('NOT_FOUND');
    expect((await api.gql(RECORD_VIEW, { postId: 'x'.repeat(10_000) })).data!.recordView.code).toBe('VALIDATION');
  });
});

describe('post queries', () => {
  it('refuses an impossible package name with BAD_USER_INPUT, while package(name) answers null as documented', async () => {
    const posts = await api.gql(`{ posts(packageName: "!!bad", first: 5) { edges { node { id } } } }`);
    expect(posts.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(posts.errors?.[0]?.message).toMatch(/Invalid argument "packageName"/);
    const pkg = await api.gql(`{ package(name: "!!bad") { name } }`);
    expect(pkg.errors).toBeUndefined();
    expect(pkg.data!.package).toBeNull();
  });

  it('lists posts newest first, filtered by package, with pagination', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'other-target', summary: 's' } }, { token: alice });
    const otherIds: string[] = [];
    for (let i = 0; i < 5; i++) otherIds.push((await createPost(`other ${i}`, 'other-target')).post.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await api.gql(`query ($after: String) { posts(packageName: "Other_Target", first: 2, after: $after) { edges { node { ${POST_FIELDS} } } pageInfo { hasNextPage endCursor } } }`, { after })).data!.posts;
      seen.push(...page.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([...otherIds].reverse());
  });

  it('returns null for unknown and malformed ids', async () => {
    expect((await api.gql(`{ post(id: "0123456789abcdef01234567") { id } }`)).data!.post).toBeNull();
    expect((await api.gql(`{ post(id: "nope") { id } }`)).data!.post).toBeNull();
  });

  it('returns the viewer', async () => {
    expect((await api.gql(`{ viewer { id name } }`, {}, { token: alice })).data!.viewer).toEqual({ id: 'alice', name: 'Alice' });
    expect((await api.gql(`{ viewer { id } }`)).data!.viewer).toBeNull();
  });
});
