// Index management and unique enforcement: E11000 details, sparse/partial/compound indexes, ordered vs unordered batches.
import { MongoBulkWriteError, MongoServerError, type Collection, type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { useTestDb } from '../helpers/db.js';

const { db } = useTestDb('indexes');
let n = 0;
const fresh = (): Collection<Document> => db.collection(`i${n++}`);

async function rejects<T extends Error>(p: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await p;
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('index management', () => {
  it('creates, lists and drops indexes with their options', async () => {
    const c = fresh();
    await c.insertOne({ a: 1 });
    expect(await c.createIndex({ a: 1, b: -1 }, { unique: true, name: 'ab' })).toBe('ab');
    expect(await c.createIndex({ s: 1 }, { sparse: true })).toBe('s_1');
    expect(await c.createIndex({ p: 1 }, { unique: true, partialFilterExpression: { p: { $exists: true } } })).toBe('p_1');
    expect(await c.createIndex({ at: 1 }, { expireAfterSeconds: 3600 })).toBe('at_1');
    expect(await c.createIndex({ s: 1 }, { sparse: true })).toBe('s_1');
    const list = await c.listIndexes().toArray();
    expect(list.map((i) => i.name)).toEqual(['_id_', 'ab', 's_1', 'p_1', 'at_1']);
    expect(list.find((i) => i.name === 'ab')).toMatchObject({ key: { a: 1, b: -1 }, unique: true });
    expect(list.find((i) => i.name === 's_1')).toMatchObject({ sparse: true });
    expect(list.find((i) => i.name === 'p_1')).toMatchObject({ partialFilterExpression: { p: { $exists: true } } });
    expect(list.find((i) => i.name === 'at_1')).toMatchObject({ expireAfterSeconds: 3600 });
    await c.dropIndex('s_1');
    expect((await c.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_', 'ab', 'p_1', 'at_1']);
    await c.dropIndexes();
    expect((await c.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_']);
  });

  it('refuses a unique index over existing duplicates and leaves no index behind', async () => {
    const c = fresh();
    await c.insertMany([{ k: 1 }, { k: 1 }]);
    const err = await rejects(c.createIndex({ k: 1 }, { unique: true }), MongoServerError);
    expect(err.code).toBe(11000);
    expect((await c.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_']);
  });

  it('refuses the same name for a different key', async () => {
    const c = fresh();
    await c.createIndex({ a: 1 }, { name: 'x' });
    const err = await rejects(c.createIndex({ b: 1 }, { name: 'x' }), MongoServerError);
    expect([85, 86]).toContain(err.code);
  });
});

describe('unique enforcement', () => {
  it('E11000 on insert carries keyPattern and keyValue', async () => {
    const c = fresh();
    await c.createIndex({ email: 1 }, { unique: true });
    await c.insertOne({ email: 'a@x' });
    const err = await rejects(c.insertOne({ email: 'a@x' }), MongoServerError);
    expect(err.code).toBe(11000);
    expect(err.message).toMatch(/E11000 duplicate key error collection: .*\.i\d+ index: email_1 dup key: \{ email: "a@x" \}/);
    expect(err.keyPattern).toEqual({ email: 1 });
    expect(err.keyValue).toEqual({ email: 'a@x' });
  });

  it('duplicate _id is E11000 on the _id_ index', async () => {
    const c = fresh();
    await c.insertOne({ _id: 'same' as never });
    const err = await rejects(c.insertOne({ _id: 'same' as never }), MongoServerError);
    expect(err.code).toBe(11000);
    expect(err.keyPattern).toEqual({ _id: 1 });
    expect(err.keyValue).toEqual({ _id: 'same' });
  });

  it('enforces on update and leaves the document unchanged', async () => {
    const c = fresh();
    await c.createIndex({ handle: 1 }, { unique: true });
    await c.insertMany([{ _id: 1 as never, handle: 'a' }, { _id: 2 as never, handle: 'b' }]);
    const err = await rejects(c.updateOne({ _id: 2 as never }, { $set: { handle: 'a' } }), MongoServerError);
    expect(err.code).toBe(11000);
    expect(await c.findOne({ _id: 2 as never })).toEqual({ _id: 2, handle: 'b' });
    // Moving a key away frees it for another document.
    await c.updateOne({ _id: 1 as never }, { $set: { handle: 'z' } });
    await c.updateOne({ _id: 2 as never }, { $set: { handle: 'a' } });
    expect(await c.findOne({ handle: 'a' })).toEqual({ _id: 2, handle: 'a' });
  });

  it('compound unique keys are unique only as a combination', async () => {
    const c = fresh();
    await c.createIndex({ pkg: 1, version: 1 }, { unique: true });
    await c.insertMany([{ pkg: 'a', version: '1' }, { pkg: 'a', version: '2' }, { pkg: 'b', version: '1' }]);
    const err = await rejects(c.insertOne({ pkg: 'a', version: '2' }), MongoServerError);
    expect(err.keyValue).toEqual({ pkg: 'a', version: '2' });
    expect(await c.findOne({ pkg: 'b', version: '1' })).toMatchObject({ pkg: 'b', version: '1' });
  });

  it('sparse and partial unique indexes skip documents outside them', async () => {
    const c = fresh();
    await c.createIndex({ s: 1 }, { unique: true, sparse: true });
    await c.createIndex({ p: 1 }, { unique: true, partialFilterExpression: { live: true } });
    await c.insertMany([{ x: 1 }, { x: 2 }, { p: 1, live: false }, { p: 1, live: false }, { p: 1, live: true }]);
    expect((await rejects(c.insertOne({ p: 1, live: true }), MongoServerError)).code).toBe(11000);
    expect(await c.countDocuments()).toBe(5);
  });

  it('missing fields collide as null on a non-sparse unique index', async () => {
    const c = fresh();
    await c.createIndex({ u: 1 }, { unique: true });
    await c.insertOne({ other: 1 });
    expect((await rejects(c.insertOne({ other: 2 }), MongoServerError)).code).toBe(11000);
  });

  it('multikey unique indexes index every array element', async () => {
    const c = fresh();
    await c.createIndex({ tags: 1 }, { unique: true });
    await c.insertOne({ tags: ['a', 'b'] });
    expect((await rejects(c.insertOne({ tags: ['c', 'b'] }), MongoServerError)).code).toBe(11000);
    await c.insertOne({ tags: ['c'] });
    expect(await c.findOne({ tags: 'c' })).toMatchObject({ tags: ['c'] });
  });
});

describe('ordered and unordered batches', () => {
  it('ordered inserts stop at the first error', async () => {
    const c = fresh();
    const err = await rejects(c.insertMany([{ _id: 1 }, { _id: 1 }, { _id: 2 }] as never[], { ordered: true }), MongoBulkWriteError);
    expect(err.writeErrors).toHaveLength(1);
    expect(err.result.insertedCount).toBe(1);
    expect(await c.countDocuments()).toBe(1);
  });

  it('unordered inserts continue and report every error with its index', async () => {
    const c = fresh();
    const err = await rejects(c.insertMany([{ _id: 1 }, { _id: 1 }, { _id: 2 }, { _id: 2 }, { _id: 3 }] as never[], { ordered: false }), MongoBulkWriteError);
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    expect(errors.map((e) => e.index).sort()).toEqual([1, 3]);
    expect(errors.every((e) => e.code === 11000)).toBe(true);
    expect(await c.countDocuments()).toBe(3);
  });

  it('bulkWrite updates report matched/modified/upserted and per-statement errors', async () => {
    const c = fresh();
    await c.createIndex({ k: 1 }, { unique: true });
    await c.insertMany([{ k: 'a', v: 0 }, { k: 'b', v: 0 }]);
    const err = await rejects(
      c.bulkWrite(
        [
          { updateOne: { filter: { k: 'a' }, update: { $inc: { v: 1 } } } },
          { updateOne: { filter: { k: 'b' }, update: { $set: { k: 'a' } } } },
          { updateOne: { filter: { k: 'c' }, update: { $set: { v: 5 } }, upsert: true } },
          { deleteOne: { filter: { k: 'zz' } } },
        ],
        { ordered: false },
      ),
      MongoBulkWriteError,
    );
    expect(err.writeErrors).toBeDefined();
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    expect(errors.map((e) => e.index)).toEqual([1]);
    expect(err.result.matchedCount).toBe(1);
    expect(err.result.modifiedCount).toBe(1);
    expect(err.result.upsertedCount).toBe(1);
    expect(await c.findOne({ k: 'c' })).toMatchObject({ v: 5 });
    expect(await c.findOne({ k: 'b' })).toMatchObject({ v: 0 });
  });

  it('ordered updates stop at the first failing statement', async () => {
    const c = fresh();
    await c.insertMany([{ _id: 1 as never, s: 'x' }, { _id: 2 as never, n: 1 }]);
    const err = await rejects(
      c.bulkWrite([
        { updateOne: { filter: { _id: 2 as never }, update: { $inc: { n: 1 } } } },
        { updateOne: { filter: { _id: 1 as never }, update: { $inc: { s: 1 } } } },
        { updateOne: { filter: { _id: 2 as never }, update: { $inc: { n: 1 } } } },
      ]),
      MongoBulkWriteError,
    );
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    expect(errors.map((e) => [e.index, e.code])).toEqual([[1, 14]]);
    expect((await c.findOne({ _id: 2 as never }))!.n).toBe(2);
  });
});
