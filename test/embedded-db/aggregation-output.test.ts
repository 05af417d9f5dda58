// $out and $merge: the pipeline's output written to a collection, with mongod's duplicate-key and matching rules.
import { beforeAll, describe, expect, it } from 'vitest';
import { serverError, useTestDb } from '../helpers/db.js';

const { db } = useTestDb('aggout');

beforeAll(async () => {
  await db.collection('src').insertMany([
    { _id: 1 as never, k: 'a', n: 1 },
    { _id: 2 as never, k: 'b', n: 2 },
    { _id: 3 as never, k: 'c', n: 3 },
  ]);
});

describe('$out', () => {
  it('replaces the target collection with the output and keeps its indexes', async () => {
    const target = db.collection('out1');
    await target.insertOne({ _id: 99 as never, old: true });
    await target.createIndex({ k: 1 }, { unique: true });
    await db.collection('src').aggregate([{ $match: { n: { $gte: 2 } } }, { $project: { k: 1 } }, { $out: 'out1' }]).toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 2, k: 'b' },
      { _id: 3, k: 'c' },
    ]);
    expect((await target.listIndexes().toArray()).map((i) => i.name).sort()).toEqual(['_id_', 'k_1']);
  });

  it('fails on a duplicate key with keyPattern and keyValue, leaving the target as it was', async () => {
    const target = db.collection('out2');
    await target.insertOne({ _id: 'kept' as never, k: 'z' });
    await target.createIndex({ k: 1 }, { unique: true });
    const err = await serverError(db.collection('src').aggregate([{ $project: { _id: 1, k: { $literal: 'same' } } }, { $out: 'out2' }]).toArray());
    expect(err.code).toBe(11000);
    expect(err.errorResponse.keyPattern).toEqual({ k: 1 });
    expect(await target.find().toArray()).toEqual([{ _id: 'kept', k: 'z' }]);
  });
});

describe('$merge', () => {
  it('by default merges matched documents and inserts the others', async () => {
    const target = db.collection('merge1');
    await target.insertOne({ _id: 1 as never, extra: true, n: 0 });
    await db.collection('src').aggregate([{ $merge: { into: 'merge1' } }]).toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, extra: true, n: 1, k: 'a' },
      { _id: 2, k: 'b', n: 2 },
      { _id: 3, k: 'c', n: 3 },
    ]);
  });

  it('honours whenMatched / whenNotMatched, and "fail" on a match is a duplicate key error', async () => {
    const target = db.collection('merge2');
    await target.insertOne({ _id: 2 as never, k: 'old' });
    await db.collection('src').aggregate([{ $merge: { into: 'merge2', whenMatched: 'keepExisting', whenNotMatched: 'discard' } }]).toArray();
    expect(await target.find().toArray()).toEqual([{ _id: 2, k: 'old' }]);
    await db.collection('src').aggregate([{ $merge: { into: 'merge2', whenMatched: 'replace', whenNotMatched: 'discard' } }]).toArray();
    expect(await target.find().toArray()).toEqual([{ _id: 2, k: 'b', n: 2 }]);
    const err = await serverError(db.collection('src').aggregate([{ $match: { _id: 2 } }, { $merge: { into: 'merge2', whenMatched: 'fail' } }]).toArray());
    expect(err.code).toBe(11000);
  });

  it('merges on other fields only with a unique index on them (51183)', async () => {
    const target = db.collection('merge3');
    await target.insertOne({ _id: 'x' as never, k: 'a', seen: 1 });
    const err = await serverError(db.collection('src').aggregate([{ $project: { _id: 0, k: 1, n: 1 } }, { $merge: { into: 'merge3', on: 'k' } }]).toArray());
    expect(err.code).toBe(51183);
    await target.createIndex({ k: 1 }, { unique: true });
    await db.collection('src').aggregate([{ $project: { _id: 0, k: 1, n: 1 } }, { $merge: { into: 'merge3', on: 'k' } }]).toArray();
    expect(await target.countDocuments()).toBe(3);
    expect(await target.findOne({ k: 'a' })).toEqual({ _id: 'x', k: 'a', seen: 1, n: 1 });
  });
});
