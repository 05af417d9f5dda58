// Live subscriptions (GraphQL over SSE): postCounters and packageActivity, both read from this instance's one shared
// change stream (change-feed.ts) and resumable from the SSE Last-Event-ID on any instance (docs/live.md).
import { GraphQLError } from 'graphql';
import { MongoServerError, ObjectId, type ChangeStreamDocument, type Document } from 'mongodb';
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { Release } from '../packages/package.schema.js';
import { normalizePackageName, PackageNameSchema } from '../packages/package-name.js';
import { findPackage, type ReleaseDoc } from '../packages/package.ops.js';
import { Post } from '../posts/post.schema.js';
import { findPost, type PostView } from '../posts/post.ops.js';
import { parseQueryArg } from '../validation.js';
import { changeFeedOf, EVENT_ID_PATTERN, type FeedEvent } from './change-feed.js';
import { EventQueue } from './event-queue.js';
import { lastEventIdOf, markEventId } from './live-sse.plugin.js';

interface Counters {
  postId: string;
  likeCount: number;
  viewCount: number;
}

type Activity = { kind: 'release'; packageName: string; release: ReleaseDoc } | { kind: 'post'; post: PostView };

/** What a subscription's iterator yields: a value (with its event id, absent for the first snapshot) or a final error. */
type Payload<T> = { id?: string; value: T; error?: undefined } | { error: GraphQLError };

const PostIdSchema = z.string().check(z.regex(/^[0-9a-f]{24}$/i, 'Post ids are 24 hexadecimal characters'));

const PostCounters = builder.objectRef<Counters>('PostCounters').implement({
  description: "A post's counters after a change; the first event (without an SSE id) is their value when the subscription starts.",
  fields: (t) => ({
    postId: t.exposeID('postId'),
    likeCount: t.exposeInt('likeCount'),
    viewCount: t.exposeInt('viewCount'),
  }),
});

const ReleasePublished = builder.objectRef<Extract<Activity, { kind: 'release' }>>('ReleasePublished').implement({
  fields: (t) => ({
    packageName: t.exposeString('packageName'),
    release: t.field({ type: Release, resolve: (a) => a.release }),
  }),
});

const PostCreated = builder.objectRef<Extract<Activity, { kind: 'post' }>>('PostCreated').implement({
  fields: (t) => ({ post: t.field({ type: Post, resolve: (a) => a.post }) }),
});

const PackageActivity = builder.unionType('PackageActivity', {
  types: [ReleasePublished, PostCreated],
  resolveType: (a) => (a.kind === 'release' ? ReleasePublished : PostCreated),
});

builder.subscriptionType({});

builder.subscriptionFields((t) => ({
  postCounters: t.field({
    type: PostCounters,
    description: "A post's likeCount and viewCount each time one changes. Resumable: see docs/live.md.",
    args: { postId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const postId = new ObjectId(parseQueryArg('postId', PostIdSchema, String(args.postId)));
      const after = resumePoint(ctx);
      const post = await findPost(ctx.db, postId, null);
      if (!post) throw new GraphQLError(`No post with id "${postId.toHexString()}".`, { extensions: { code: 'NOT_FOUND' } });
      const state: Counters = { postId: postId.toHexString(), likeCount: post.likeCount, viewCount: post.viewCount };
      return live(ctx, after, {
        // Read after the stream is open, so no change falls between the snapshot and the first event.
        snapshot: async () => {
          const now = await findPost(ctx.db, postId, null);
          if (now) Object.assign(state, { likeCount: now.likeCount, viewCount: now.viewCount });
          return { ...state };
        },
        map: (change) => countersAfter(change, postId, state),
      });
    },
    resolve: (payload, _args, ctx) => unwrap(payload as Payload<Counters>, ctx),
  }),
  packageActivity: t.field({
    type: PackageActivity,
    description: 'Each release published and each post created about the package, as they happen. Resumable: see docs/live.md.',
    args: { name: t.arg.string({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const name = normalizePackageName(parseQueryArg('name', PackageNameSchema, args.name));
      const after = resumePoint(ctx);
      if (!(await findPackage(ctx.db, name))) throw new GraphQLError(`No package named "${name}".`, { extensions: { code: 'NOT_FOUND' } });
      return live<Activity>(ctx, after, { map: (change) => activityOf(change, name) });
    },
    resolve: (payload, _args, ctx) => unwrap(payload as Payload<Activity>, ctx),
  }),
}));

/** The Last-Event-ID the client resumes from, checked: a malformed one is the client's mistake, never a 5xx. */
function resumePoint(ctx: Context): string | undefined {
  const request = (ctx as Context & { request?: Request }).request;
  const id = request ? lastEventIdOf(request) : undefined;
  if (id !== undefined && !EVENT_ID_PATTERN.test(id)) {
    throw new GraphQLError('Last-Event-ID is not an event id this API sent.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return id;
}

function unwrap<T>(payload: Payload<T>, ctx: Context): T {
  if (payload.error) throw payload.error;
  markEventId(ctx, payload.id);
  return payload.value;
}

/** Marks a change-stream failure the client must act on; others end the response so the client reconnects. */
function typedFeedError(error: unknown): GraphQLError | undefined {
  if (!(error instanceof MongoServerError)) return undefined;
  if (error.code === 286) {
    return new GraphQLError('The event this subscription resumes from is too old to continue from: subscribe again without Last-Event-ID.', {
      extensions: { code: 'RESUME_POINT_LOST' },
    });
  }
  if (error.code === 260 || error.code === 9 || error.code === 2) {
    return new GraphQLError('Last-Event-ID is not an event id this API sent.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return undefined;
}

/** Backlog a slow client may have before its response is cut (it reconnects from its last id, losing nothing). */
const MAX_BACKLOG = 1000;

/**
 * The subscription's events from the instance's shared feed: after `after` when resuming, else a snapshot first
 * (changes arriving while it is read are held and follow it). `map` turns a change into this subscription's value,
 * null to skip it, 'end' to complete.
 */
function live<T>(
  ctx: Context,
  after: string | undefined,
  options: { snapshot?: () => Promise<T>; map: (change: ChangeStreamDocument) => T | null | 'end' },
): AsyncIterable<Payload<T>> {
  const feed = changeFeedOf(ctx.db);
  let unsubscribe = (): void => undefined;
  let ended = false;
  const queue = new EventQueue<Payload<T>>(() => {
    ended = true;
    unsubscribe();
  });
  const send = (payload: Payload<T>): void => {
    if (queue.size >= MAX_BACKLOG) return queue.end(new Error('subscriber too slow: its response is cut so it reconnects from its last event'));
    queue.push(payload);
  };
  let held: FeedEvent[] | undefined = options.snapshot && after === undefined ? [] : undefined;
  const deliver = (event: FeedEvent): void => {
    const value = options.map(event.change);
    if (value === 'end') return queue.end();
    if (value !== null) send({ id: event.id, value });
  };
  unsubscribe = feed.subscribe(after, {
    next: (event) => (held ? void held.push(event) : deliver(event)),
    fail: (error) => {
      const typed = typedFeedError(error);
      if (!typed) return queue.end(error);
      send({ error: typed });
      queue.end();
    },
  });
  // A resume replayed from the buffer runs inside subscribe(), and may already have ended the queue (a deleted post).
  if (ended) unsubscribe();
  if (held && options.snapshot) {
    const snapshot = options.snapshot;
    void (async () => {
      try {
        await feed.ready();
        send({ value: await snapshot() });
      } catch (error) {
        return queue.end(error);
      }
      const waiting = held ?? [];
      held = undefined;
      for (const event of waiting) deliver(event);
    })();
  }
  return queue;
}

/** The counters after a change of this post, or null when the change touched neither. */
function countersAfter(change: ChangeStreamDocument, postId: ObjectId, state: Counters): Counters | null | 'end' {
  if (collOf(change) !== 'posts' || !('documentKey' in change)) return null;
  if (!postId.equals(change.documentKey._id as ObjectId)) return null;
  let source: Document | undefined;
  if (change.operationType === 'update') {
    source = change.updateDescription.updatedFields;
    if (source && 'deletedAt' in source) return 'end';
  } else if (change.operationType === 'replace') {
    source = change.fullDocument;
  }
  if (!source || (typeof source.likeCount !== 'number' && typeof source.viewCount !== 'number')) return null;
  // The changed counter is exact as of this event; the other one is the last value this subscriber knew.
  if (typeof source.likeCount === 'number') state.likeCount = source.likeCount;
  if (typeof source.viewCount === 'number') state.viewCount = source.viewCount;
  return { ...state };
}

/** A new post about the package, or a release it gained (a publish adds one element to `releases`). */
function activityOf(change: ChangeStreamDocument, name: string): Activity | null {
  if (change.operationType === 'insert' && collOf(change) === 'posts') {
    const doc = change.fullDocument as Document;
    if (doc.packageName !== name || doc.deletedAt) return null;
    const { likedBy: _likers, idempotencyKey: _key, effects: _effects, recentViewKeys: _views, ...post } = doc;
    return { kind: 'post', post: { ...(post as PostView), viewerHasLiked: false } };
  }
  if (change.operationType !== 'update' || collOf(change) !== 'packages' || (change.documentKey._id as unknown) !== name) return null;
  // Both ways to publish (publishRelease, publishReleaseDraft) add 1 to releaseCount in the same write.
  const updated = change.updateDescription.updatedFields ?? {};
  if (!('releaseCount' in updated)) return null;
  // `releases` whole (re-sorted) or `releases.<i>` elements: the new one is the latest published among them.
  const candidates: ReleaseDoc[] = [];
  for (const [path, value] of Object.entries(updated)) {
    if (path === 'releases' && Array.isArray(value)) candidates.push(...(value as ReleaseDoc[]));
    else if (/^releases\.\d+$/.test(path) && value && typeof value === 'object') candidates.push(value as ReleaseDoc);
  }
  const newest = candidates.reduce<ReleaseDoc | undefined>((a, b) => (!a || b.publishedAt > a.publishedAt ? b : a), undefined);
  return newest ? { kind: 'release', packageName: name, release: newest } : null;
}

function collOf(change: ChangeStreamDocument): string | undefined {
  return 'ns' in change && 'coll' in change.ns ? change.ns.coll : undefined;
}
