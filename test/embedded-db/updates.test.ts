// Update semantics through the driver: operators, pipelines, upserts, findAndModify and the errors mongod reports.
import { ObjectId, type Collection, type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { serverError, useTestDb } from '../helpers/db.js';

const { db } = useTestDb('updates');
let n = 0;
const fresh = (): Collection<Document> => db.collection(`c${n++}`);

describe('update operators', () => {
  it('$push with $each/$sort/$slice/$position, $addToSet, $pull, $pop', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never, a: [5, 1], s: ['x'], p: [1, 2, 3, 2], q: [1, 2, 3] });
    await c.updateOne({ _id: 1 as never }, { $push: { a: { $each: [4, 9, 2], $sort: -1, $slice: 3 } } } as never);
    await c.updateOne({ _id: 1 as never }, { $push: { s: { $each: ['first'], $position: 0 } }, $addToSet: { q: { $each: [3, 4] } } } as never);
    await c.updateOne({ _id: 1 as never }, { $pull: { p: 2 }, $pop: { a: 1 } } as never);
    expect(await c.findOne({ _id: 1 as never })).toEqual({ _id: 1, a: [9, 5], s: ['first', 'x'], p: [1, 3], q: [1, 2, 3, 4] });
  });

  it('$set/$unset/$inc/$mul/$min/$max/$rename/$currentDate', async () => {
    const c = fresh();
    const before = Date.now();
    await c.insertOne({ _id: 2 as never, a: 1, b: 2, lo: 5, hi: 5, old: 'x', nested: { k: 1 } });
    const r = await c.updateOne(
      { _id: 2 as never },
      { $set: { 'nested.k': 2, fresh: true }, $unset: { b: '' }, $inc: { a: 2 }, $mul: { lo: 3 }, $max: { hi: 10 }, $rename: { old: 'renamed' }, $currentDate: { at: true } },
    );
    expect(r.modifiedCount).toBe(1);
    const doc = await c.findOne({ _id: 2 as never });
    expect(doc).toMatchObject({ a: 3, lo: 15, hi: 10, renamed: 'x', nested: { k: 2 }, fresh: true });
    expect(doc).not.toHaveProperty('b');
    expect(doc).not.toHaveProperty('old');
    expect(doc!.at).toBeInstanceOf(Date);
    expect((doc!.at as Date).getTime()).toBeGreaterThanOrEqual(before - 5000);
    await c.updateOne({ _id: 2 as never }, { $min: { lo: 1 } });
    expect((await c.findOne({ _id: 2 as never }))!.lo).toBe(1);
  });

  it('positional $ and arrayFilters', async () => {
    const c = fresh();
    await c.insertOne({ _id: 3 as never, items: [{ k: 'a', v: 1 }, { k: 'b', v: 1 }], grades: [80, 95, 100] });
    await c.updateOne({ _id: 3 as never, 'items.k': 'b' }, { $set: { 'items.$.v': 7 } });
    await c.updateOne({ _id: 3 as never }, { $inc: { 'grades.$[g]': 1 } }, { arrayFilters: [{ g: { $gte: 95 } }] });
    expect(await c.findOne({ _id: 3 as never })).toEqual({ _id: 3, items: [{ k: 'a', v: 1 }, { k: 'b', v: 7 }], grades: [80, 96, 101] });
  });

  it('several fields under one positional or filtered element in one operator', async () => {
    const c = fresh();
    await c.insertOne({ _id: 4 as never, a: [{ k: 1 }, { k: 2 }, { k: 2 }], items: [{ k: 'a' }, { k: 'b' }] });
    const r = await c.updateOne(
      { _id: 4 as never, 'items.k': 'b' },
      { $set: { 'a.$[e].x': 1, 'a.$[e].y': 2, top: true, 'items.$.v': 7, 'items.$.w': 8 }, $inc: { 'a.$[].n': 1, 'a.$[e].m': 5 } },
      { arrayFilters: [{ 'e.k': 2 }] },
    );
    expect(r.modifiedCount).toBe(1);
    expect(await c.findOne({ _id: 4 as never })).toEqual({
      _id: 4,
      a: [
        { k: 1, n: 1 },
        { k: 2, x: 1, y: 2, n: 1, m: 5 },
        { k: 2, x: 1, y: 2, n: 1, m: 5 },
      ],
      items: [{ k: 'a' }, { k: 'b', v: 7, w: 8 }],
      top: true,
    });
    // The same element field twice is still a conflict (40), as in mongod.
    const err = await serverError(c.updateOne({ _id: 4 as never }, { $set: { 'a.$[e].x': 1 }, $inc: { 'a.$[e].x': 1 } }, { arrayFilters: [{ 'e.k': 2 }] }));
    expect(err.code).toBe(40);
  });

  it('$min and $max compare in BSON order across types, and set a missing field', async () => {
    const c = fresh();
    await c.insertOne({ _id: 5 as never, n: 5, d: new Date(1000), s: 'b' });
    await c.updateOne({ _id: 5 as never }, { $max: { n: 'a', fresh: 1 }, $min: { d: 7, s: 'B' } } as Document);
    expect(await c.findOne({ _id: 5 as never })).toEqual({ _id: 5, n: 'a', d: 7, s: 'B', fresh: 1 });
    expect((await c.updateOne({ _id: 5 as never }, { $max: { n: 9 }, $min: { s: 'b' } } as Document)).modifiedCount).toBe(0);
  });

  it('counts only real modifications', async () => {
    const c = fresh();
    await c.insertMany([{ g: 1, v: 1 }, { g: 1, v: 2 }, { g: 1, v: 1 }]);
    const r = await c.updateMany({ g: 1 }, { $set: { v: 1 } });
    expect(r.matchedCount).toBe(3);
    expect(r.modifiedCount).toBe(1);
    const none = await c.updateMany({ g: 2 }, { $set: { v: 1 } });
    expect(none.matchedCount).toBe(0);
    expect(none.modifiedCount).toBe(0);
  });

  it('pipeline updates with $set/$unset/$replaceWith, $sortArray and $$NOW', async () => {
    const c = fresh();
    await c.insertOne({ _id: 4 as never, xs: [3, 1, 2], drop: 1, keep: 'k' });
    await c.updateOne({ _id: 4 as never }, [{ $set: { sorted: { $sortArray: { input: '$xs', sortBy: 1 } }, at: '$$NOW' } }, { $unset: 'drop' }]);
    const doc = await c.findOne({ _id: 4 as never });
    expect(doc).toMatchObject({ sorted: [1, 2, 3], keep: 'k' });
    expect(doc!.at).toBeInstanceOf(Date);
    expect(doc).not.toHaveProperty('drop');
    await c.updateOne({ _id: 4 as never }, [{ $replaceWith: { only: '$keep' } }]);
    expect(await c.findOne({ _id: 4 as never })).toEqual({ _id: 4, only: 'k' });
  });

  it('$max/$min expressions skip missing and null operands', async () => {
    const c = fresh();
    await c.insertOne({ _id: 5 as never, lo: null });
    await c.updateOne({ _id: 5 as never }, [
      { $set: { viewedAt: { $max: ['$viewedAt', '$$NOW'] }, low: { $min: ['$lo', 7, 3] }, views: { $add: [{ $ifNull: ['$views', 0] }, 1] } } },
    ]);
    const doc = await c.findOne({ _id: 5 as never });
    expect(doc!.viewedAt).toBeInstanceOf(Date);
    expect(doc).toMatchObject({ low: 3, views: 1 });
    const grouped = await c.aggregate([{ $group: { _id: null, mn: { $min: '$lo' }, mx: { $max: '$views' } } }]).toArray();
    expect(grouped).toEqual([{ _id: null, mn: null, mx: 1 }]);
  });

  it('replaceOne keeps _id and reports changes', async () => {
    const c = fresh();
    const { insertedId } = await c.insertOne({ a: 1 });
    const r = await c.replaceOne({ _id: insertedId }, { b: 2 });
    expect(r.modifiedCount).toBe(1);
    expect(await c.findOne({ _id: insertedId })).toEqual({ _id: insertedId, b: 2 });
    const same = await c.replaceOne({ _id: insertedId }, { b: 2 });
    expect(same.modifiedCount).toBe(0);
  });
});

describe('upserts', () => {
  it('builds the document from equality fields ($eq, dotted paths) and $setOnInsert', async () => {
    const c = fresh();
    const r = await c.updateOne(
      { name: 'n', 'profile.city': 'Oslo', kind: { $eq: 'k' }, age: { $gt: 3 } },
      { $set: { seen: 1 }, $setOnInsert: { created: 'yes' } },
      { upsert: true },
    );
    expect(r.upsertedCount).toBe(1);
    expect(r.upsertedId).toBeInstanceOf(ObjectId);
    expect(await c.findOne({ _id: r.upsertedId! })).toEqual({ _id: r.upsertedId, name: 'n', profile: { city: 'Oslo' }, kind: 'k', seen: 1, created: 'yes' });
    const again = await c.updateOne({ name: 'n' }, { $set: { seen: 2 }, $setOnInsert: { created: 'no' } }, { upsert: true });
    expect(again.upsertedCount).toBe(0);
    expect(again.modifiedCount).toBe(1);
    expect((await c.findOne({ name: 'n' }))!.created).toBe('yes');
  });

  it('keeps a caller-chosen _id and supports replacement upserts', async () => {
    const c = fresh();
    const r = await c.updateOne({ _id: 'fixed' as never }, { $set: { v: 1 } }, { upsert: true });
    expect(r.upsertedId).toBe('fixed');
    const rep = await c.replaceOne({ _id: 'rep' as never }, { v: 2 }, { upsert: true });
    expect(rep.upsertedId).toBe('rep');
    expect(await c.findOne({ _id: 'rep' as never })).toEqual({ _id: 'rep', v: 2 });
  });

  it('reports E11000 when the upserted document violates a unique index', async () => {
    const c = fresh();
    await c.createIndex({ email: 1 }, { unique: true });
    await c.insertOne({ email: 'taken', handle: 'a' });
    const err = await serverError(c.updateOne({ handle: 'b' }, { $set: { email: 'taken' } }, { upsert: true }));
    expect(err.code).toBe(11000);
    expect(await c.countDocuments()).toBe(1);
  });
});

describe('findAndModify', () => {
  it('returns before/after documents with projection, sort and upsert', async () => {
    const c = fresh();
    await c.insertMany([{ q: 1, v: 1, extra: 'x' }, { q: 1, v: 5, extra: 'y' }]);
    const before = await c.findOneAndUpdate({ q: 1 }, { $inc: { v: 10 } }, { sort: { v: -1 }, projection: { _id: 0, v: 1 } });
    expect(before).toEqual({ v: 5 });
    const after = await c.findOneAndUpdate({ q: 1 }, { $inc: { v: 1 } }, { sort: { v: 1 }, returnDocument: 'after', projection: { _id: 0, v: 1 } });
    expect(after).toEqual({ v: 2 });
    const up = await c.findOneAndUpdate({ q: 2 }, { $set: { v: 0 } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true });
    expect(up.lastErrorObject?.updatedExisting).toBe(false);
    expect(up.lastErrorObject?.upserted).toBeDefined();
    expect(up.value).toMatchObject({ q: 2, v: 0 });
    const missing = await c.findOneAndUpdate({ q: 99 }, { $set: { v: 0 } });
    expect(missing).toBeNull();
  });

  it('pipeline updates, arrayFilters, remove and replace', async () => {
    const c = fresh();
    await c.insertOne({ _id: 'f' as never, xs: [1, 5, 9] });
    const piped = await c.findOneAndUpdate({ _id: 'f' as never }, [{ $set: { total: { $sum: '$xs' } } }], { returnDocument: 'after' });
    expect(piped).toEqual({ _id: 'f', xs: [1, 5, 9], total: 15 });
    const filtered = await c.findOneAndUpdate({ _id: 'f' as never }, { $set: { 'xs.$[big]': 0 } }, { arrayFilters: [{ big: { $gt: 4 } }], returnDocument: 'after' });
    expect(filtered!.xs).toEqual([1, 0, 0]);
    const replaced = await c.findOneAndReplace({ _id: 'f' as never }, { fresh: 1 }, { returnDocument: 'after' });
    expect(replaced).toEqual({ _id: 'f', fresh: 1 });
    const removed = await c.findOneAndDelete({ _id: 'f' as never });
    expect(removed).toEqual({ _id: 'f', fresh: 1 });
    expect(await c.countDocuments()).toBe(0);
  });
});

describe('update errors leave documents unchanged', () => {
  it('changing _id is refused with code 66', async () => {
    const c = fresh();
    await c.insertOne({ _id: 'id' as never, v: 1 });
    expect((await serverError(c.updateOne({ _id: 'id' as never }, { $set: { _id: 'other' as never } }))).code).toBe(66);
    expect((await serverError(c.replaceOne({ _id: 'id' as never }, { _id: 'other' as never, v: 2 }))).code).toBe(66);
    expect(await c.findOne({ _id: 'id' as never })).toEqual({ _id: 'id', v: 1 });
  });

  it('$inc on a string is refused with code 14 and nothing else in the update applies', async () => {
    const c = fresh();
    await c.insertOne({ _id: 'm' as never, name: 'str', n: 1 });
    const err = await serverError(c.updateOne({ _id: 'm' as never }, { $inc: { name: 1, n: 1 } }));
    expect(err.code).toBe(14);
    expect(await c.findOne({ _id: 'm' as never })).toEqual({ _id: 'm', name: 'str', n: 1 });
  });

  it('unknown update and query operators are errors', async () => {
    const c = fresh();
    await c.insertOne({ _id: 'u' as never, v: 1 });
    const bad = await serverError(c.updateOne({ _id: 'u' as never }, { $frobnicate: { v: 1 } } as never));
    expect(bad.code).toBe(9);
    const badQuery = await serverError(c.find({ v: { $frobnicate: 1 } } as never).toArray());
    expect(badQuery.code).toBe(2);
    expect(await c.findOne({ _id: 'u' as never })).toEqual({ _id: 'u', v: 1 });
  });

  it('conflicting operators on one path are refused', async () => {
    const c = fresh();
    await c.insertOne({ _id: 'k' as never, v: 1 });
    const err = await serverError(c.updateOne({ _id: 'k' as never }, { $set: { v: 2 }, $inc: { v: 1 } }));
    expect(err.code).toBe(40);
    expect((await c.findOne({ _id: 'k' as never }))!.v).toBe(1);
  });
});

describe('paths that cannot be created', () => {
  it('setting a field under a scalar or a non-index under an array is PathNotViable (28)', async () => {
    const c = fresh();
    await c.insertOne({ _id: 'pv' as never, a: 5, arr: [{ b: 1 }] });
    expect((await serverError(c.updateOne({ _id: 'pv' as never }, { $set: { 'a.b': 1 } }))).code).toBe(28);
    expect((await serverError(c.updateOne({ _id: 'pv' as never }, { $set: { 'arr.x': 1 } }))).code).toBe(28);
    await c.updateOne({ _id: 'pv' as never }, { $set: { 'arr.0.c': 2 } });
    expect(await c.findOne({ _id: 'pv' as never })).toEqual({ _id: 'pv', a: 5, arr: [{ b: 1, c: 2 }] });
  });
});
