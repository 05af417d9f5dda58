// Reads through the driver: find options, cursors across batches, count/distinct, aggregation and BSON type fidelity.
import { Binary, Decimal128, Long, MongoServerError, ObjectId, type CommandStartedEvent } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../helpers/db.js';

const { client, db } = useTestDb('reads', { monitorCommands: true });
const started: CommandStartedEvent[] = [];

client.on('commandStarted', (e) => started.push(e));

beforeAll(async () => {
  await db.collection('nums').insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i, n: i, even: i % 2 === 0, tags: [`t${i % 3}`] })) as never[]);
});

describe('find', () => {
  it('applies filter, projection, sort, skip and limit', async () => {
    const docs = await db.collection('nums').find({ even: true, n: { $lt: 20 } }, { projection: { _id: 0, n: 1 } }).sort({ n: -1 }).skip(2).limit(3).toArray();
    expect(docs).toEqual([{ n: 14 }, { n: 12 }, { n: 10 }]);
    const excl = await db.collection('nums').findOne({ n: 7 }, { projection: { tags: 0, even: 0 } });
    expect(excl).toEqual({ _id: 7, n: 7 });
  });

  it('getMore walks past the first batch and the cursor id becomes 0', async () => {
    started.length = 0;
    const all = await db.collection('nums').find({}).batchSize(40).toArray();
    expect(all).toHaveLength(250);
    expect(all.map((d) => d._id)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    const getMores = started.filter((e) => e.commandName === 'getMore');
    expect(getMores.length).toBeGreaterThanOrEqual(6);
  });

  it('the default first batch is 101 documents', async () => {
    const reply = await db.command({ find: 'nums', filter: {} });
    expect(reply.cursor.firstBatch).toHaveLength(101);
    expect(String(reply.cursor.id)).not.toBe('0');
    await db.command({ killCursors: 'nums', cursors: [reply.cursor.id] });
  });

  it('singleBatch and negative limit close the cursor at once', async () => {
    const reply = await db.command({ find: 'nums', filter: {}, batchSize: 5, singleBatch: true });
    expect(reply.cursor.firstBatch).toHaveLength(5);
    expect(String(reply.cursor.id)).toBe('0');
    const limited = await db.collection('nums').find({}).limit(-3).toArray();
    expect(limited).toHaveLength(3);
  });

  it('killCursors removes the cursor so getMore fails with CursorNotFound', async () => {
    const reply = await db.command({ find: 'nums', filter: {}, batchSize: 2 });
    const id = reply.cursor.id as Long;
    const killed = await db.command({ killCursors: 'nums', cursors: [id] });
    expect(killed.cursorsKilled.map(String)).toEqual([String(id)]);
    let code: number | undefined;
    try {
      await db.command({ getMore: id, collection: 'nums' });
    } catch (err) {
      code = Number((err as MongoServerError).code);
    }
    expect(code).toBe(43);
  });

  it('looks up by _id equality, $eq and $in', async () => {
    const c = db.collection('ids');
    const ids = [new ObjectId(), new ObjectId(), new ObjectId()];
    await c.insertMany(ids.map((_id, i) => ({ _id, i })));
    expect((await c.findOne({ _id: new ObjectId(ids[1].toHexString()) }))?.i).toBe(1);
    expect((await c.find({ _id: { $in: [ids[2], ids[0]] } }).sort({ i: 1 }).toArray()).map((d) => d.i)).toEqual([0, 2]);
    expect((await c.find({ _id: { $in: [ids[2]] }, i: 1 }).toArray())).toEqual([]);
    expect((await c.find({ _id: { $gt: ids[0] } }).toArray()).map((d) => d.i).sort()).toEqual([1, 2]);
  });
});

describe('count, distinct, aggregate', () => {
  it('count and countDocuments honour query, skip and limit', async () => {
    expect(await db.collection('nums').countDocuments({ even: true })).toBe(125);
    expect(await db.collection('nums').countDocuments({ even: true }, { skip: 100, limit: 50 })).toBe(25);
    expect(await db.collection('nums').estimatedDocumentCount()).toBe(250);
    expect(await db.collection('missing').countDocuments()).toBe(0);
  });

  it('distinct flattens arrays and filters', async () => {
    expect((await db.collection('nums').distinct('tags')).sort()).toEqual(['t0', 't1', 't2']);
    expect(await db.collection('nums').distinct('n', { n: { $lt: 3 } })).toEqual([0, 1, 2]);
  });

  it('aggregates with $match/$group/$sort/$lookup across batches', async () => {
    const grouped = await db
      .collection('nums')
      .aggregate([{ $match: { n: { $lt: 9 } } }, { $group: { _id: '$even', total: { $sum: '$n' } } }, { $sort: { _id: 1 } }])
      .toArray();
    expect(grouped).toEqual([
      { _id: false, total: 16 },
      { _id: true, total: 20 },
    ]);
    await db.collection('owners').insertMany([{ _id: 'o1' as never, name: 'ann' }]);
    await db.collection('pets').insertMany([{ owner: 'o1', pet: 'cat' }, { owner: 'o1', pet: 'dog' }]);
    const joined = await db
      .collection('owners')
      .aggregate([{ $lookup: { from: 'pets', localField: '_id', foreignField: 'owner', as: 'pets' } }, { $project: { _id: 0, name: 1, count: { $size: '$pets' } } }])
      .toArray();
    expect(joined).toEqual([{ name: 'ann', count: 2 }]);
    const many = await db.collection('nums').aggregate([{ $project: { n: 1 } }], { batchSize: 30 }).toArray();
    expect(many).toHaveLength(250);
  });

  it('aggregate stages do not alter stored documents', async () => {
    const c = db.collection('pure');
    await c.insertOne({ _id: 'p' as never, nested: { a: 1 } });
    await c.aggregate([{ $addFields: { 'nested.b': 2 } }]).toArray();
    expect(await c.findOne({ _id: 'p' as never })).toEqual({ _id: 'p', nested: { a: 1 } });
  });
});

describe('BSON type fidelity', () => {
  it('round-trips ObjectId, Date, Decimal128, Binary, large Long and nested values', async () => {
    const c = db.collection('types');
    const doc = {
      _id: new ObjectId(),
      when: new Date('2024-01-02T03:04:05.678Z'),
      price: Decimal128.fromString('12.345'),
      blob: new Binary(Buffer.from([1, 2, 3]), 0),
      big: Long.fromString('9007199254740993'),
      nested: { arr: [1, 'two', { three: 3 }], nil: null },
    };
    await c.insertOne(doc);
    const back = await c.findOne({ _id: doc._id }, { promoteLongs: false });
    expect(back!.when).toEqual(doc.when);
    expect(back!.price).toBeInstanceOf(Decimal128);
    expect(back!.price.toString()).toBe('12.345');
    expect(back!.blob).toBeInstanceOf(Binary);
    expect(Buffer.from((back!.blob as Binary).buffer)).toEqual(Buffer.from([1, 2, 3]));
    expect(String(back!.big)).toBe('9007199254740993');
    expect(back!.nested).toEqual(doc.nested);
    expect(await c.countDocuments({ when: { $gte: new Date('2024-01-01') } })).toBe(1);
  });
});
