// Posts: the Post type, post queries, and the createPost, updatePost, deletePost, likePost, unlikePost and recordView mutations.
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { ObjectId } from 'mongodb';
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import { ConflictError, ForbiddenError, NotFoundError, RateLimitedError, unwrap, ValidationError } from '../errors.js';
import { parseInput } from '../validation.js';
import { assertPageSize } from '../pagination.js';
import { User } from '../users/user.schema.js';
import { ensureUser } from '../users/user.ops.js';
import { incrementStat } from '../stats/stats.ops.js';
import { Package } from '../packages/package.schema.js';
import { countPackagePost, uncountPackagePost } from '../packages/package.ops.js';
import { enforceRateLimit } from '../security/rate-limit.js';
import { normalizePackageName, PackageNameSchema } from '../packages/package-name.js';
import {
  addLike,
  addView,
  deletePostIfVersion,
  findPost,
  findPostPage,
  insertPost,
  type PostView,
  removeLike,
  updatePostIfVersion,
} from './post.ops.js';

export const Post = builder.objectRef<PostView>('Post').implement({
  fields: (t) => ({
    id: t.id({ resolve: (p) => p._id.toHexString() }),
    title: t.exposeString('title'),
    body: t.exposeString('body'),
    author: t.field({ type: User, resolve: (p) => p.authorId }),
    package: t.field({ type: Package, nullable: true, resolve: (p) => p.packageName }),
    likeCount: t.exposeInt('likeCount'),
    viewCount: t.exposeInt('viewCount'),
    viewerHasLiked: t.boolean({
      description: 'Whether the signed-in viewer likes this post; always false for anonymous readers.',
      resolve: (p) => p.viewerHasLiked === true,
    }),
    lastViewedAt: t.expose('lastViewedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    version: t.exposeInt('version', { description: 'Edit version: pass it as expectedVersion to updatePost and deletePost.' }),
  }),
});

const PostIdSchema = z.pipe(
  z.string().check(z.regex(/^[0-9a-f]{24}$/i, 'Post ids are 24 hexadecimal characters')),
  z.transform((id: string) => new ObjectId(id)),
);

function parsePostCursor(cursor: string): ObjectId {
  if (!/^[0-9a-f]{24}$/i.test(cursor)) {
    throw new GraphQLError('The cursor is not one this API returned.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return new ObjectId(cursor);
}

builder.queryFields((t) => ({
  post: t.field({
    type: Post,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const id = PostIdSchema.safeParse(String(args.id));
      return id.success ? findPost(ctx.db, id.data, ctx.viewer?.id ?? null) : null;
    },
  }),
  posts: t.connection({
    type: Post,
    description: 'Posts, newest first; about one package when packageName is given.',
    args: { packageName: t.arg.string() },
    resolve: (_root, args, ctx) => {
      assertPageSize(args);
      const packageName = args.packageName == null ? undefined : parseInput(PackageNameSchema, args.packageName);
      return resolveCursorConnection(
        { args, toCursor: (p: PostView) => p._id.toHexString() },
        ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
          findPostPage(ctx.db, {
            packageName: packageName === undefined ? undefined : normalizePackageName(packageName),
            after: after === undefined ? undefined : parsePostCursor(after),
            before: before === undefined ? undefined : parsePostCursor(before),
            limit,
            inverted,
            viewerId: ctx.viewer?.id ?? null,
          }),
      );
    },
  }),
}));

function postSuccess(name: string) {
  return builder.objectRef<{ post: PostView }>(name).implement({
    fields: (t) => ({ post: t.field({ type: Post, resolve: (r) => r.post }) }),
  });
}

const CreatePostSuccess = postSuccess('CreatePostSuccess');
const LikePostSuccess = postSuccess('LikePostSuccess');
const RecordViewSuccess = postSuccess('RecordViewSuccess');
const UpdatePostSuccess = postSuccess('UpdatePostSuccess');
const DeletePostSuccess = builder.objectRef<{ postId: string }>('DeletePostSuccess').implement({
  fields: (t) => ({ postId: t.exposeID('postId') }),
});

const CreatePostInput = builder.inputType('CreatePostInput', {
  fields: (t) => ({
    title: t.string({ required: true }),
    body: t.string({ required: true }),
    packageName: t.string({ required: true, description: 'The package the post is about.' }),
  }),
});
const CreatePostInputSchema = z.object({
  title: z.string().check(z.trim(), z.minLength(1, 'Title is required'), z.maxLength(200, 'Title is at most 200 characters')),
  body: z.string().check(z.trim(), z.minLength(1, 'Body is required'), z.maxLength(20_000, 'Body is at most 20,000 characters')),
  packageName: PackageNameSchema,
});

const ExpectedVersionSchema = z.int().check(z.minimum(1, 'expectedVersion starts at 1'));

const UpdatePostInput = builder.inputType('UpdatePostInput', {
  fields: (t) => ({
    postId: t.id({ required: true }),
    expectedVersion: t.int({ required: true, description: 'The `version` the editor saw; CONFLICT if it moved on.' }),
    title: t.string(),
    body: t.string(),
  }),
});
const UpdatePostInputSchema = z
  .object({
    postId: PostIdSchema,
    expectedVersion: ExpectedVersionSchema,
    title: z.nullish(CreatePostInputSchema.shape.title),
    body: z.nullish(CreatePostInputSchema.shape.body),
  })
  .check(z.refine((input) => input.title != null || input.body != null, 'Give a title, a body or both'));

const DeletePostInput = builder.inputType('DeletePostInput', {
  fields: (t) => ({
    postId: t.id({ required: true }),
    expectedVersion: t.int({ required: true, description: 'The `version` the author saw; CONFLICT if it moved on.' }),
  }),
});
const DeletePostInputSchema = z.object({ postId: PostIdSchema, expectedVersion: ExpectedVersionSchema });

builder.mutationFields((t) => ({
  createPost: t.field({
    type: CreatePostSuccess,
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreatePostInput, required: true }) },
    errors: { types: [ValidationError, NotFoundError, RateLimitedError], union: { name: 'CreatePostResult' } },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'createPost');
      const input = parseInput(CreatePostInputSchema, args.input);
      const packageName = normalizePackageName(input.packageName);
      await ensureUser(ctx.db, ctx.viewer!);
      // Counting the post on its package is the write that proves the package exists; no read comes first. With an
      // Idempotency-Key each step is safe to repeat when a retry re-executes after a crash: the count records the key
      // (counted once), the insert carries it under a unique index (one post), and the total moves only when this
      // execution inserted the post. Kept in this order so a missing package never leaves an orphan post.
      unwrap(await countPackagePost(ctx.db, packageName, ctx.idempotencyKey));
      const { post, created } = await insertPost(
        ctx.db,
        { title: input.title, body: input.body, authorId: ctx.viewer!.id, packageName },
        ctx.idempotencyKey,
      );
      if (created) await incrementStat(ctx.db, 'totalPosts');
      return { post };
    },
  }),
  updatePost: t.field({
    type: UpdatePostSuccess,
    description: 'Edits a post; only its author can, and only at the version they saw.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpdatePostInput, required: true }) },
    errors: {
      types: [ValidationError, NotFoundError, ForbiddenError, ConflictError, RateLimitedError],
      union: { name: 'UpdatePostResult' },
    },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'updatePost');
      const input = parseInput(UpdatePostInputSchema, { ...args.input, postId: String(args.input.postId) });
      await ensureUser(ctx.db, ctx.viewer!);
      // Authorship is part of the write's filter, not a check before it: no read can go stale between the two.
      const post = unwrap(
        await updatePostIfVersion(
          ctx.db,
          {
            postId: input.postId,
            viewerId: ctx.viewer!.id,
            expectedVersion: input.expectedVersion,
            title: input.title ?? undefined,
            body: input.body ?? undefined,
          },
          ctx.idempotencyKey,
        ),
      );
      return { post };
    },
  }),
  deletePost: t.field({
    type: DeletePostSuccess,
    description: 'Deletes a post; only its author can, and only at the version they saw.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: DeletePostInput, required: true }) },
    errors: {
      types: [ValidationError, NotFoundError, ForbiddenError, ConflictError, RateLimitedError],
      union: { name: 'DeletePostResult' },
    },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'deletePost');
      const input = parseInput(DeletePostInputSchema, { ...args.input, postId: String(args.input.postId) });
      await ensureUser(ctx.db, ctx.viewer!);
      const { packageName } = unwrap(
        await deletePostIfVersion(ctx.db, { postId: input.postId, viewerId: ctx.viewer!.id, expectedVersion: input.expectedVersion }),
      );
      // Only the call that deleted the post gets here, so each deletion is uncounted exactly once.
      await uncountPackagePost(ctx.db, packageName);
      await incrementStat(ctx.db, 'totalPosts', -1);
      return { postId: input.postId.toHexString() };
    },
  }),
  likePost: t.field({
    type: LikePostSuccess,
    authScopes: { authenticated: true },
    args: { postId: t.arg.id({ required: true }) },
    errors: { types: [ValidationError, NotFoundError, RateLimitedError], union: { name: 'LikePostResult' } },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'likePost');
      const postId = parseInput(PostIdSchema, String(args.postId));
      await ensureUser(ctx.db, ctx.viewer!);
      return { post: unwrap(await addLike(ctx.db, postId, ctx.viewer!.id)) };
    },
  }),
  unlikePost: t.field({
    type: LikePostSuccess,
    authScopes: { authenticated: true },
    args: { postId: t.arg.id({ required: true }) },
    errors: { types: [ValidationError, NotFoundError, RateLimitedError], union: { name: 'UnlikePostResult' } },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'unlikePost');
      const postId = parseInput(PostIdSchema, String(args.postId));
      await ensureUser(ctx.db, ctx.viewer!);
      return { post: unwrap(await removeLike(ctx.db, postId, ctx.viewer!.id)) };
    },
  }),
  recordView: t.field({
    type: RecordViewSuccess,
    description: 'Counts one view; anonymous callers allowed.',
    args: { postId: t.arg.id({ required: true }) },
    errors: { types: [ValidationError, NotFoundError, RateLimitedError], union: { name: 'RecordViewResult' } },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'recordView');
      const postId = parseInput(PostIdSchema, String(args.postId));
      return { post: unwrap(await addView(ctx.db, postId, ctx.viewer?.id ?? null, ctx.idempotencyKey)) };
    },
  }),
}));
