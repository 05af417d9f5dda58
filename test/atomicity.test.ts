// Through DB_TRACE (the driver's command monitoring), every mutation changes its document with exactly one
// write and reads it, if at all, only after that write, to explain a refusal. The two that span documents (createPost,
// deletePost) write their own document first, recording the effect, and then run its guarded steps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type GqlResponse, type TestApi } from './helpers/api.js';
import { ADD_KEYWORDS, CREATE_PACKAGE, CREATE_POST, DELETE_POST, LIKE_POST, PUBLISH_RELEASE, RECORD_VIEW, UNLIKE_POST, UPDATE_PACKAGE } from './helpers/documents.js';

const WRITES = new Set(['insert', 'update', 'findAndModify', 'delete']);

let api: TestApi;
let token: string;
let other: string;
let postId: string;

beforeAll(async () => {
  api = await startApi('atomicity');
  token = await api.token('maintainer');
  other = await api.token('someone-else');
  await api.gql(CREATE_PACKAGE, { input: { name: 'traced', summary: 's' } }, { token });
  postId = (await api.gql(CREATE_POST, { input: { title: 't', body: 'b', packageName: 'traced' } }, { token })).data!.createPost.post.id;
});
afterAll(() => api.close());

function opsOn(response: GqlResponse, collection: string): string[] {
  const ops = response.extensions?.dbOps;
  expect(ops, 'DB_TRACE must report dbOps').toBeDefined();
  return ops!.filter((op) => op.collection === collection).map((op) => op.command);
}

/** The first command on the collection is a write, and there is exactly one write to it. */
function expectOneWriteFirst(response: GqlResponse, collection: string): void {
  const commands = opsOn(response, collection);
  expect(commands.length).toBeGreaterThan(0);
  expect(WRITES.has(commands[0]!), `first command on ${collection} was ${commands[0]}`).toBe(true);
  expect(commands.filter((c) => WRITES.has(c))).toHaveLength(1);
}

describe('every mutation is one write with no read before it', () => {
  it.each([
    ['createPackage', 'packages', () => api.gql(CREATE_PACKAGE, { input: { name: 'traced-2', summary: 's' } }, { token })],
    ['publishRelease', 'packages', () => api.gql(PUBLISH_RELEASE, { input: { packageName: 'traced', version: '1.0.0', sizeBytes: 1 } }, { token })],
    ['updatePackage', 'packages', () => api.gql(UPDATE_PACKAGE, { input: { name: 'traced', expectedVersion: 1, summary: 'x' } }, { token })],
    ['addKeywords', 'packages', () => api.gql(ADD_KEYWORDS, { input: { packageName: 'traced', keywords: ['a', 'b'] } }, { token })],
    ['likePost', 'posts', () => api.gql(LIKE_POST, { postId }, { token })],
    ['unlikePost', 'posts', () => api.gql(UNLIKE_POST, { postId }, { token })],
    ['recordView', 'posts', () => api.gql(RECORD_VIEW, { postId })],
  ])('%s writes %s once, first', async (_name, collection, send) => {
    const response = await send();
    expect(response.errors).toBeUndefined();
    expectOneWriteFirst(response, collection);
  });

  it('addKeywords writes nothing but the package', async () => {
    const response = await api.gql(ADD_KEYWORDS, { input: { packageName: 'traced', keywords: ['c', 'd', 'e'] } }, { token });
    expect(response.extensions!.dbOps!.filter((op) => op.collection !== 'users').map((op) => `${op.command} ${op.collection}`)).toEqual(['findAndModify packages']);
  });
});

describe('a post counted on its package: the post first, then the effect steps, none before it', () => {
  it('createPost inserts the post with its effect, applies +1 on the package, acknowledges, cleans up, ends', async () => {
    const response = await api.gql(CREATE_POST, { input: { title: 't', body: 'b', packageName: 'traced' } }, { token });
    expect(response.data!.createPost.__typename).toBe('CreatePostSuccess');
    const writes = response.extensions!.dbOps!.filter((op) => op.collection !== 'users').map((op) => `${op.command} ${op.collection}`);
    // The last find is the dataloader resolving the response's `package { name }`.
    expect(writes).toEqual(['insert posts', 'update packages', 'update posts', 'update packages', 'update posts', 'find packages']);
  });

  it('deletePost tombstones the post with its effect first, then applies -1 on the package the same way', async () => {
    const created = (await api.gql(CREATE_POST, { input: { title: 't', body: 'b', packageName: 'traced' } }, { token })).data!.createPost.post;
    const response = await api.gql(DELETE_POST, { input: { postId: created.id, expectedVersion: 1 } }, { token });
    expect(response.data!.deletePost.__typename).toBe('DeletePostSuccess');
    const writes = response.extensions!.dbOps!.filter((op) => op.collection !== 'users').map((op) => `${op.command} ${op.collection}`);
    expect(writes).toEqual(['findAndModify posts', 'update packages', 'update posts', 'update packages', 'update posts']);
  });
});

describe("a like moves its package's ranking after the post", () => {
  it('likePost: the post first, then one pipeline write of the ranking, then the check read of the posts index', async () => {
    const created = (await api.gql(CREATE_POST, { input: { title: 't', body: 'b', packageName: 'traced' } }, { token })).data!.createPost.post;
    const response = await api.gql(LIKE_POST, { postId: created.id }, { token: other });
    const ops = response.extensions!.dbOps!.filter((op) => op.collection !== 'users').map((op) => `${op.command} ${op.collection}`);
    // The last find is the dataloader resolving the response's `package { name }`.
    expect(ops).toEqual(['findAndModify posts', 'findAndModify packages', 'find posts', 'find packages']);
  });
});

describe('a refused write is explained by a read after it', () => {
  it.each([
    ['FORBIDDEN', () => api.gql(PUBLISH_RELEASE, { input: { packageName: 'traced', version: '2.0.0', sizeBytes: 1 } }, { token: other })],
    ['CONFLICT', () => api.gql(PUBLISH_RELEASE, { input: { packageName: 'traced', version: '1.0.0', sizeBytes: 1 } }, { token })],
    ['NOT_FOUND', () => api.gql(UPDATE_PACKAGE, { input: { name: 'missing', expectedVersion: 1, summary: 'x' } }, { token })],
  ])('%s: findAndModify, then find', async (code, send) => {
    const response = await send();
    const result = Object.values(response.data!)[0] as { code: string };
    expect(result.code).toBe(code);
    expect(opsOn(response, 'packages')).toEqual(['findAndModify', 'find']);
  });

  it('VALIDATION touches no collection at all', async () => {
    const response = await api.gql(PUBLISH_RELEASE, { input: { packageName: 'traced', version: 'nope', sizeBytes: 1 } }, { token });
    expect(response.data!.publishRelease.code).toBe('VALIDATION');
    expect(response.extensions?.dbOps).toEqual([]);
  });
});
