// Change streams through the real driver's watch(): event shapes, updateLookup, resuming, awaitData, invalidate on
// drop. Nothing here assumes the embedded database: the same file passes against a MongoDB replica set.
import { Timestamp, type Document, type ResumeToken } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChangeStreams } from '../../src/embedded-db/change-stream.js';
import { Store } from '../../src/embedded-db/store.js';
import { useTestDb } from '../helpers/db.js';

const { db } = useTestDb('change_streams');

beforeAll(async () => {
  await db.createCollection('warmup');
});

/** The next `n` events of a stream (each next() waits through as many empty awaitData batches as it takes). */
async function take(stream: { next(): Promise<unknown> }, n: number): Promise<Document[]> {
  const out: Document[] = [];
  while (out.length < n) out.push((await stream.next()) as Document);
  return out;
}

describe('change streams', () => {
  it('report inserts, updates, replaces and deletes in order, with their resume tokens and update descriptions', async () => {
    const coll = db.collection<Document>('shapes');
    await db.createCollection('shapes');
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    // The stream is open (its aggregate answered) once the first empty batch is back.
    expect(await stream.tryNext()).toBeNull();
    await coll.insertOne({ _id: 1 as never, a: 1, tags: ['x'], gone: true, nested: { n: 1, m: 2 } });
    await coll.updateOne({ _id: 1 as never }, { $set: { a: 2, 'nested.n': 5 }, $push: { tags: 'y' }, $unset: { gone: '' } } as Document);
    await coll.replaceOne({ _id: 1 as never }, { b: 1 });
    await coll.deleteOne({ _id: 1 as never });
    const [ins, upd, rep, del] = await take(stream, 4);
    expect(ins).toMatchObject({
      operationType: 'insert',
      ns: { db: db.databaseName, coll: 'shapes' },
      documentKey: { _id: 1 },
      fullDocument: { _id: 1, a: 1, tags: ['x'], gone: true, nested: { n: 1, m: 2 } },
    });
    expect(ins!.clusterTime).toBeInstanceOf(Timestamp);
    expect(upd).toMatchObject({
      operationType: 'update',
      documentKey: { _id: 1 },
      updateDescription: { updatedFields: { a: 2, 'nested.n': 5, 'tags.1': 'y' }, removedFields: ['gone'], truncatedArrays: [] },
    });
    expect(upd).not.toHaveProperty('fullDocument');
    expect(rep).toMatchObject({ operationType: 'replace', documentKey: { _id: 1 }, fullDocument: { _id: 1, b: 1 } });
    expect(del).toMatchObject({ operationType: 'delete', documentKey: { _id: 1 } });
    expect(del).not.toHaveProperty('fullDocument');
    // Each event has its own token (a server may cache a later one as its high-water mark, so no more is asserted).
    const ids = [ins, upd, rep, del].map((e) => JSON.stringify(e!._id));
    expect(new Set(ids).size).toBe(4);
    await stream.close();
  });

  it('look up the current document of an update with fullDocument: "updateLookup"', async () => {
    const coll = db.collection<Document>('lookup');
    await coll.insertOne({ _id: 'p' as never, likes: 0 });
    const stream = coll.watch([], { fullDocument: 'updateLookup', maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await coll.updateOne({ _id: 'p' as never }, { $inc: { likes: 1 } });
    const [event] = await take(stream, 1);
    expect(event).toMatchObject({ operationType: 'update', updateDescription: { updatedFields: { likes: 1 } }, fullDocument: { _id: 'p', likes: 1 } });
    await stream.close();
  });

  it('filter and reshape events with $match and $project after $changeStream', async () => {
    const coll = db.collection<Document>('filtered');
    await db.createCollection('filtered');
    const stream = coll.watch([{ $match: { operationType: 'insert', 'fullDocument.keep': true } }, { $project: { 'fullDocument.n': 1, operationType: 1 } }], {
      maxAwaitTimeMS: 100,
    });
    await stream.tryNext();
    await coll.insertMany([
      { n: 1, keep: false },
      { n: 2, keep: true },
      { n: 3, keep: false },
      { n: 4, keep: true },
    ]);
    const events = await take(stream, 2);
    expect(events.map((e) => ({ op: e.operationType, n: e.fullDocument.n }))).toEqual([
      { op: 'insert', n: 2 },
      { op: 'insert', n: 4 },
    ]);
    expect(events[0]).not.toHaveProperty('ns');
    await stream.close();
  });

  it('resume after a token with resumeAfter, without a gap or a repeat', async () => {
    const coll = db.collection<Document>('resume');
    await db.createCollection('resume');
    const first = coll.watch([], { maxAwaitTimeMS: 100 });
    await first.tryNext();
    await coll.insertMany([1, 2, 3, 4, 5].map((n) => ({ n })));
    const events = await take(first, 5);
    await first.close();
    const resumed = coll.watch([], { resumeAfter: events[1]!._id, maxAwaitTimeMS: 100 });
    const rest = await take(resumed, 3);
    expect(rest.map((e) => e.fullDocument.n)).toEqual([3, 4, 5]);
    expect(rest.map((e) => e._id)).toEqual(events.slice(2).map((e) => e._id));
    await resumed.close();
  });

  it('wait for events in getMore up to maxAwaitTimeMS, then answer an empty batch that still moves the resume token', async () => {
    const coll = db.collection<Document>('await');
    await db.createCollection('await');
    const stream = coll.watch([], { maxAwaitTimeMS: 300 });
    expect(await stream.tryNext()).toBeNull();
    const started = Date.now();
    expect(await stream.tryNext()).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const idle: ResumeToken = stream.resumeToken;
    expect(idle).toBeTruthy();
    // A write while a getMore waits ends the wait with the event.
    const waiting = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const writeAt = Date.now();
    await coll.insertOne({ late: true });
    const event = (await waiting) as Document;
    expect(event.fullDocument.late).toBe(true);
    expect(Date.now() - writeAt).toBeLessThan(250);
    // Resuming from the token of an empty batch sees exactly what came after it.
    const fromIdle = coll.watch([], { resumeAfter: idle, maxAwaitTimeMS: 100 });
    const [again] = await take(fromIdle, 1);
    expect(again!._id).toEqual(event._id);
    await fromIdle.close();
    await stream.close();
  });

  it('end with invalidate when the collection is dropped, and continue past it with startAfter', async () => {
    const coll = db.collection<Document>('dropped');
    await coll.insertOne({ before: true });
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await coll.insertOne({ n: 1 });
    await coll.drop();
    const [ins, drop, invalidate] = await take(stream, 3);
    expect(ins!.operationType).toBe('insert');
    expect(drop).toMatchObject({ operationType: 'drop', ns: { db: db.databaseName, coll: 'dropped' } });
    expect(invalidate!.operationType).toBe('invalidate');
    await expect(stream.next()).rejects.toThrow();
    expect(stream.closed).toBe(true);
    await coll.insertOne({ n: 2 });
    const after = coll.watch([], { startAfter: invalidate!._id, maxAwaitTimeMS: 100 });
    const [next] = await take(after, 1);
    expect(next).toMatchObject({ operationType: 'insert', fullDocument: { n: 2 } });
    await after.close();
  });

  it('watch a whole database: every collection, each event naming its namespace', async () => {
    const stream = db.watch([], { maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await db.collection('db_a').insertOne({ a: 1 });
    await db.collection('db_b').insertOne({ b: 1 });
    const events = await take(stream, 2);
    expect(events.map((e) => e.ns.coll)).toEqual(['db_a', 'db_b']);
    await stream.close();
  });

  it('let many streams on one collection each see every event', async () => {
    const coll = db.collection<Document>('fan');
    await db.createCollection('fan');
    const streams = Array.from({ length: 5 }, () => coll.watch([], { maxAwaitTimeMS: 100 }));
    await Promise.all(streams.map((s) => s.tryNext()));
    await coll.insertMany(Array.from({ length: 20 }, (_, n) => ({ n })));
    for (const s of streams) {
      const events = await take(s, 20);
      expect(events.map((e) => e.fullDocument.n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
      await s.close();
    }
  });
});

describe('the embedded change history', () => {
  it('refuses a resume point older than the history it keeps with ChangeStreamHistoryLost (286)', () => {
    const store = new Store();
    const streams = new ChangeStreams(store, 3);
    const coll = store.ensureCollection('h', 'c');
    const open = (spec: Document): Document => streams.open({ aggregate: 'c', pipeline: [{ $changeStream: spec }], cursor: {} }, 'h');
    const first = open({});
    coll.insert({ _id: 1 });
    const token = ((streams.getMore(first.cursor.id.toNumber(), 'h.c', undefined, 1).cursor as Document).nextBatch as Document[])[0]!._id;
    expect(open({ resumeAfter: token }).ok).toBe(1);
    for (let i = 2; i <= 5; i++) coll.insert({ _id: i });
    expect(() => open({ resumeAfter: token })).toThrow(expect.objectContaining({ code: 286 }));
    // A cursor that fell behind the history fails its next getMore the same way.
    expect(() => streams.getMore(first.cursor.id.toNumber(), 'h.c', undefined, 1)).toThrow(expect.objectContaining({ code: 286 }));
  });
});
