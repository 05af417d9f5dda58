// Posts: the Post type, post queries, and the createPost, updatePost, deletePost, likePost, unlikePost and recordView
// mutations, each one declaration run by the mutation kit.
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { ObjectId } from 'mongodb';
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import { cacheHint } from '../http/cache-control.plugin.js';
import { ConflictError, ForbiddenError, mapResult, NotFoundError, type Result } from '../errors.js';
import { defineMutation } from '../mutation-kit.js';
import { parseQueryArg } from '../validation.js';
import { assertPageSize } from '../pagination.js';
import { User } from '../users/user.schema.js';
import { Package } from '../packages/package.schema.js';
import type { PackageDoc } from '../packages/package.ops.js';
import { normalizePackageName, PackageNameSchema } from '../packages/package-name.js';
import {
  addLike,
  addView,
  createPost,
  deletePostIfVersion,
  findPost,
  findPostPage,
  findPostsByIds,
  type PostView,
  removeLike,
  updatePostIfVersion,
} from './post.ops.js';

export const Post = builder.objectRef<PostView>('Post').implement({
  // Counts move with every like and view: a short maxAge keeps a cached page close to live.
  extensions: cacheHint({ maxAge: 10 }),
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
      extensions: cacheHint({ private: true }),
      resolve: (p) => p.viewerHasLiked === true,
    }),
    lastViewedAt: t.expose('lastViewedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    version: t.exposeInt('version', { description: 'Edit version: pass it as expectedVersion to updatePost and deletePost.' }),
  }),
});

const TopLikedPost = builder.objectRef<{ post: PostView; likeCount: number }>('TopLikedPost').implement({
  fields: (t) => ({
    post: t.field({ type: Post, resolve: (entry) => entry.post }),
    likeCount: t.exposeInt('likeCount', { description: "The post's likes as the ranking counted them (its likeCount once no like is in flight)." }),
  }),
});

builder.objectField(Package, 'topLikedPosts', (t) =>
  t.field({
    type: [TopLikedPost],
    description: 'The ten most-liked posts about the package, most first (ties: oldest first); kept in the package, one read.',
    // Moves with every like, as Post's counts do.
    extensions: cacheHint({ maxAge: 10 }),
    resolve: async (p: PackageDoc, _args, ctx) => {
      const entries = p.topLikedPosts ?? [];
      if (entries.length === 0) return [];
      const byId = new Map((await findPostsByIds(ctx.db, entries.map((e) => e.postId), ctx.viewer?.id ?? null)).map((post) => [post._id.toHexString(), post]));
      // A post deleted a moment ago may still be ranked until its deletion's ranking write lands: left out.
      return entries.flatMap((e) => {
        const post = byId.get(e.postId.toHexString());
        return post ? [{ post, likeCount: e.likeCount }] : [];
      });
    },
  }),
);

const PostIdSchema = z.string().check(z.regex(/^[0-9a-f]{24}$/i, 'Post ids are 24 hexadecimal characters'));

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
      return id.success ? findPost(ctx.db, new ObjectId(id.data), ctx.viewer?.id ?? null) : null;
    },
  }),
  posts: t.connection({
    type: Post,
    description: 'Posts, newest first; about one package when packageName is given.',
    extensions: cacheHint({ maxAge: 10 }),
    args: { packageName: t.arg.string() },
    resolve: (_root, args, ctx) => {
      assertPageSize(args);
      const packageName = args.packageName == null ? undefined : parseQueryArg('packageName', PackageNameSchema, args.packageName);
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


const TitleSchema = z.string().check(z.trim(), z.minLength(1, 'Title is required'), z.maxLength(200, 'Title is at most 200 characters'));
const BodySchema = z.string().check(z.trim(), z.minLength(1, 'Body is required'), z.maxLength(20_000, 'Body is at most 20,000 characters'));
const ExpectedVersionSchema = z.int().check(z.minimum(1, 'expectedVersion starts at 1'));

const CreatePostInput = builder.inputType('CreatePostInput', {
  fields: (t) => ({
    title: t.string({ required: true, validate: TitleSchema }),
    body: t.string({ required: true, validate: BodySchema }),
    packageName: t.string({ required: true, description: 'The package the post is about.', validate: PackageNameSchema }),
  }),
});

const UpdatePostInput = builder.inputType('UpdatePostInput', {
  fields: (t) => ({
    postId: t.id({ required: true, validate: PostIdSchema }),
    expectedVersion: t.int({ required: true, description: 'The `version` the editor saw; CONFLICT if it moved on.', validate: ExpectedVersionSchema }),
    title: t.string({ validate: z.nullish(TitleSchema) }),
    body: t.string({ validate: z.nullish(BodySchema) }),
  }),
  validate: z
    .looseObject({ title: z.nullish(z.string()), body: z.nullish(z.string()) })
    .check(z.refine((input) => input.title != null || input.body != null, 'Give a title, a body or both')),
});

const DeletePostInput = builder.inputType('DeletePostInput', {
  fields: (t) => ({
    postId: t.id({ required: true, validate: PostIdSchema }),
    expectedVersion: t.int({ required: true, description: 'The `version` the author saw; CONFLICT if it moved on.', validate: ExpectedVersionSchema }),
  }),
});

const postResult = (result: Result<PostView>) => mapResult(result, (post) => ({ post }));

defineMutation('createPost', {
  auth: 'user',
  rateLimit: 'createPost',
  args: (arg) => ({ input: arg({ type: CreatePostInput, required: true }) }),
  errors: [NotFoundError],
  success: postSuccess('CreatePostSuccess'),
  run: async ({ input }, { db, viewer, effectKey }) =>
    postResult(
      await createPost(db, { title: input.title, body: input.body, authorId: viewer.id, packageName: normalizePackageName(input.packageName) }, effectKey),
    ),
});

defineMutation('updatePost', {
  description: 'Edits a post; only its author can, and only at the version they saw.',
  auth: 'user',
  rateLimit: 'updatePost',
  args: (arg) => ({ input: arg({ type: UpdatePostInput, required: true }) }),
  errors: [NotFoundError, ForbiddenError, ConflictError],
  success: postSuccess('UpdatePostSuccess'),
  run: async ({ input }, { db, viewer, effectKey }) =>
    postResult(
      await updatePostIfVersion(
        db,
        {
          postId: new ObjectId(String(input.postId)),
          viewerId: viewer.id,
          expectedVersion: input.expectedVersion,
          title: input.title ?? undefined,
          body: input.body ?? undefined,
        },
        effectKey,
      ),
    ),
});

defineMutation('deletePost', {
  description: 'Deletes a post; only its author can, and only at the version they saw.',
  auth: 'user',
  rateLimit: 'deletePost',
  args: (arg) => ({ input: arg({ type: DeletePostInput, required: true }) }),
  errors: [NotFoundError, ForbiddenError, ConflictError],
  success: builder.objectRef<{ postId: string }>('DeletePostSuccess').implement({ fields: (t) => ({ postId: t.exposeID('postId') }) }),
  run: async ({ input }, { db, viewer, effectKey }) =>
    mapResult(
      await deletePostIfVersion(db, { postId: new ObjectId(String(input.postId)), viewerId: viewer.id, expectedVersion: input.expectedVersion }, effectKey),
      ({ postId }) => ({ postId: postId.toHexString() }),
    ),
});

const LikePostSuccess = postSuccess('LikePostSuccess');

defineMutation('likePost', {
  auth: 'user',
  rateLimit: 'likePost',
  args: (arg) => ({ postId: arg.id({ required: true, validate: PostIdSchema }) }),
  errors: [NotFoundError],
  success: LikePostSuccess,
  run: async ({ postId }, { db, viewer }) => postResult(await addLike(db, new ObjectId(String(postId)), viewer.id)),
});

defineMutation('unlikePost', {
  auth: 'user',
  rateLimit: 'unlikePost',
  args: (arg) => ({ postId: arg.id({ required: true, validate: PostIdSchema }) }),
  errors: [NotFoundError],
  success: LikePostSuccess,
  run: async ({ postId }, { db, viewer }) => postResult(await removeLike(db, new ObjectId(String(postId)), viewer.id)),
});

defineMutation('recordView', {
  description: 'Counts one view; anonymous callers allowed.',
  auth: 'anyone',
  rateLimit: 'recordView',
  args: (arg) => ({ postId: arg.id({ required: true, validate: PostIdSchema }) }),
  errors: [NotFoundError],
  success: postSuccess('RecordViewSuccess'),
  run: async ({ postId }, { db, viewer, effectKey }) => postResult(await addView(db, new ObjectId(String(postId)), viewer?.id ?? null, effectKey)),
});
