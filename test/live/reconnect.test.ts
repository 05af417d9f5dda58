// Issue 14's live-counter proof: 1,000 likes and unlikes through 4 API processes while an SSE subscriber is cut off
// 10 times and reconnects, each time to another instance, with Last-Event-ID. It must see every change in order, none
// twice, ending at the database's count. Beside it, a naive subscriber that reconnects without Last-Event-ID, under
// the same load and the same cuts, is shown to miss changes: so the test can fail.
import { MongoClient, ObjectId, type Db, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/token.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { startFleet, type ServerFleet } from '../effects/crash-processes.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { subscribe, type LiveConnection, type LiveMessage } from './sse-client.js';

const OPERATIONS = 1000;
const USERS = 40;
const INSTANCES = 4;
const FORCED_RECONNECTS = 10;
const IN_FLIGHT = 16;
const SECRET = 'live-reconnect-secret-that-is-long-enough-0123456789';
const POST_COUNTERS = 'subscription ($postId: ID!) { postCounters(postId: $postId) { likeCount } }';
const LIKE = 'mutation ($postId: ID!) { likePost(postId: $postId) { __typename } }';
const UNLIKE = 'mutation ($postId: ID!) { unlikePost(postId: $postId) { __typename } }';

interface Seen {
  id: string;
  likeCount: number;
}

let fleet: ServerFleet;
let client: MongoClient;
let db: Db;
let postId: string;
const tokens: string[] = [];
let subscribers: Subscriber[] = [];

beforeAll(async () => {
  const dbName = uniqueDbName('live_reconnect');
  client = new MongoClient(getTestMongoUri());
  db = client.db(dbName);
  await ensureIndexes(db);
  await db.collection('packages').insertOne({ _id: 'counted' as never, displayName: 'counted', summary: '', description: '', maintainers: ['a'], keywords: [], releases: [], releaseCount: 0, postCount: 1, createdAt: new Date(), lastUpdated: new Date(), version: 1 });
  const post = new ObjectId();
  postId = post.toHexString();
  await db.collection('posts').insertOne({ _id: post, title: 't', body: 'b', authorId: 'a', packageName: 'counted', likedBy: [], likeCount: 0, viewCount: 0, lastViewedAt: null, createdAt: new Date(), version: 1 });
  for (let i = 0; i < USERS; i++) tokens.push(await signToken(`user-${i}`, { secret: SECRET }));
  fleet = await startFleet('api', INSTANCES, {
    ...process.env,
    MONGODB_URI: getTestMongoUri(),
    MONGODB_DB: dbName,
    AUTH_JWT_SECRET: SECRET,
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'fatal',
    DB_TRACE: '0',
    // Short responses: besides the forced cuts, each instance ends its streams itself, as before a maxDuration.
    LIVE_STREAM_SECONDS: '3',
  });
}, 120_000);

afterAll(async () => {
  // Stopped first, so no subscriber dials an instance that is gone.
  await Promise.all(subscribers.map((s) => s.stop()));
  await fleet?.stop();
  await db?.dropDatabase();
  await client?.close();
});

/** What a subscriber saw: events with ids (in order) and snapshots, across all its connections. */
interface Subscriber {
  events: Seen[];
  snapshots: number[];
  /** The latest likeCount it was told, by an event or a snapshot. */
  last?: number;
  forced: number;
  /** Responses the server ended itself (the stream's lifetime), each followed by a reconnect. */
  serverEnded: number;
  stop(): Promise<void>;
}

/**
 * Follows postCounters through reconnects: after every `cutEvery` events it drops the connection (FORCED_RECONNECTS
 * times), waits `gapMs` (changes keep coming meanwhile) and reconnects to the next instance, with Last-Event-ID when
 * `resume` is set. A response the server ends is reconnected at once, the same way.
 */
function follow(options: { resume: boolean; cutEvery: number; gapMs: number }): Subscriber {
  const state: Subscriber = { events: [], snapshots: [], forced: 0, serverEnded: 0, stop: async () => undefined };
  let stopping = false;
  const done = (async () => {
    let instance = 0;
    while (!stopping) {
      const lastEventId = options.resume ? state.events.at(-1)?.id : undefined;
      let connection: LiveConnection;
      try {
        connection = await subscribe(fleet.urls()[instance++ % INSTANCES]!, POST_COUNTERS, { postId }, { lastEventId });
      } catch {
        // A client retries a failed connect; only the end of the test stops it.
        if (stopping) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      let pending: Promise<LiveMessage | null> | undefined;
      for (;;) {
        pending ??= connection.next();
        const message = await Promise.race([pending, new Promise<'tick'>((resolve) => setTimeout(() => resolve('tick'), 100))]);
        if (message === 'tick') {
          if (stopping) break;
          continue;
        }
        pending = undefined;
        if (message === null) {
          state.serverEnded++;
          break;
        }
        if (message.errors) throw new Error(`subscription error: ${JSON.stringify(message.errors)}`);
        const likeCount = message.data!.postCounters.likeCount as number;
        state.last = likeCount;
        if (message.id === undefined) state.snapshots.push(likeCount);
        else state.events.push({ id: message.id, likeCount });
        // Cut after every `cutEvery` events in all (a response the server ended meanwhile does not reset the count).
        if (state.events.length >= (state.forced + 1) * options.cutEvery && state.forced < FORCED_RECONNECTS) {
          state.forced++;
          connection.abort();
          await new Promise((resolve) => setTimeout(resolve, options.gapMs));
          break;
        }
      }
      connection.abort();
    }
  })();
  state.stop = async () => {
    stopping = true;
    await done;
  };
  return state;
}

/** Every change of the post's likeCount, read by a plain driver change stream that is never interrupted. */
async function oracle(): Promise<{ events: Seen[]; stop(): Promise<void> }> {
  const stream = db.watch([{ $match: { 'ns.coll': 'posts', operationType: 'update', 'documentKey._id': new ObjectId(postId) } }], { maxAwaitTimeMS: 200 });
  await stream.tryNext();
  const events: Seen[] = [];
  let stopping = false;
  const done = (async () => {
    while (!stopping) {
      // A closed client (the test failed and is cleaning up) ends the oracle.
      const change = (await stream.tryNext().catch(() => {
        stopping = true;
        return null;
      })) as Document | null;
      const likeCount = change?.updateDescription?.updatedFields?.likeCount;
      if (typeof likeCount === 'number') events.push({ id: change!._id._data as string, likeCount });
    }
  })();
  return {
    events,
    stop: async () => {
      stopping = true;
      await done;
      await stream.close();
    },
  };
}

/** OPERATIONS likes and unlikes by USERS users, spread over the instances, IN_FLIGHT at a time. */
async function likeAndUnlike(): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < OPERATIONS; i = next++) {
      const user = Math.floor(Math.random() * USERS);
      const url = fleet.urls()[i % INSTANCES]!;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[user]}` },
        body: JSON.stringify({ query: Math.random() < 0.55 ? LIKE : UNLIKE, variables: { postId } }),
      });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function finalLikeCount(): Promise<number> {
  const post = await db.collection('posts').findOne({ _id: new ObjectId(postId) });
  expect(post!.likeCount).toBe((post!.likedBy as string[]).length);
  return post!.likeCount as number;
}

describe('postCounters across reconnects and instances', () => {
  it('gives a subscriber resuming with Last-Event-ID every change once, in order; a naive one misses changes', async () => {
    subscribers = [];
    const resuming = follow({ resume: true, cutEvery: 30, gapMs: 40 });
    const naive = follow({ resume: false, cutEvery: 30, gapMs: 40 });
    subscribers.push(resuming, naive);
    // Both start from their snapshot of the post, before any change; the oracle opens after them.
    await expect.poll(() => resuming.snapshots.length + naive.snapshots.length, { timeout: 20_000 }).toBe(2);
    const truth = await oracle();
    const started = Date.now();
    await likeAndUnlike();
    const loadMs = Date.now() - started;
    const final = await finalLikeCount();
    await expect.poll(() => truth.events.at(-1)?.likeCount === final && resuming.events.at(-1)?.likeCount === final, { timeout: 20_000 }).toBe(true);
    await expect.poll(() => naive.last, { timeout: 20_000 }).toBe(final);
    await Promise.all([resuming.stop(), naive.stop(), truth.stop()]);
    console.info(
      `live reconnect: ${OPERATIONS} likes/unlikes in ${loadMs} ms through ${INSTANCES} instances, ${truth.events.length} changes; ` +
        `resuming: ${resuming.events.length} events, ${resuming.forced} forced + ${resuming.serverEnded} server-ended reconnects; ` +
        `naive: ${naive.events.length} events, ${naive.forced} forced + ${naive.serverEnded} server-ended reconnects`,
    );

    expect(resuming.forced).toBe(FORCED_RECONNECTS);
    expect(truth.events.length).toBeGreaterThan(FORCED_RECONNECTS * 30);
    // Every change, in the database's order, none twice, none missing; the last one is the database's count.
    expect(new Set(resuming.events.map((e) => e.id)).size).toBe(resuming.events.length);
    expect(resuming.events).toEqual(truth.events);
    expect(resuming.events.at(-1)!.likeCount).toBe(final);
    expect(resuming.snapshots).toEqual([0]);

    // The naive client ends at the right count (each reconnect starts from a fresh snapshot) but lost the changes
    // made while it was away: what it saw is not the history.
    expect(naive.forced).toBe(FORCED_RECONNECTS);
    const naiveIds = new Set(naive.events.map((e) => e.id));
    const missed = truth.events.filter((e) => !naiveIds.has(e.id)).length;
    expect(missed).toBeGreaterThan(0);
    expect(naive.events).not.toEqual(truth.events);
  }, 120_000);
});
