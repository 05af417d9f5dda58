// Basic CRUD through the real driver against the run's database (embedded, or MONGODB_URI when set).
import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { useTestDb } from '../helpers/db.js';

const { db } = useTestDb('crud');

describe('crud', () => {
  it('inserts and finds by ObjectId, $in and filters', async () => {
    const c = db.collection('items');
    const id = new ObjectId();
    const other = new ObjectId();
    await c.insertMany([{ _id: id, n: 1 }, { _id: other, n: 2 }, { n: 3 }]);
    expect(await c.findOne({ _id: new ObjectId(id.toHexString()) })).toEqual({ _id: id, n: 1 });
    expect(await c.findOne({ _id: { $eq: other } })).toEqual({ _id: other, n: 2 });
    const found = await c.find({ _id: { $in: [id, other, new ObjectId()] } }).sort({ n: 1 }).toArray();
    expect(found.map((d) => d.n)).toEqual([1, 2]);
    expect(await c.countDocuments({ n: { $gte: 2 } })).toBe(2);
  });

  it('reports matched / modified / upserted like mongod', async () => {
    const c = db.collection('counts');
    const { insertedId } = await c.insertOne({ v: 1 });
    const same = await c.updateOne({ _id: insertedId }, { $set: { v: 1 } });
    expect(same.matchedCount).toBe(1);
    expect(same.modifiedCount).toBe(0);
    const changed = await c.updateOne({ _id: insertedId }, { $inc: { v: 2 } });
    expect(changed.modifiedCount).toBe(1);
    const up = await c.updateOne({ key: 'k', x: { $gt: 1 } }, { $set: { a: 1 }, $setOnInsert: { created: true } }, { upsert: true });
    expect(up.upsertedCount).toBe(1);
    expect(await c.findOne({ _id: up.upsertedId! })).toEqual({ _id: up.upsertedId, key: 'k', a: 1, created: true });
  });
});
