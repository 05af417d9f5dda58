// Read-only views: create with viewOn + pipeline, read through find / count / aggregate, refuse writes (166).
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestMongoUri, serverError, uniqueDbName } from '../helpers/db.js';

let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  await client.connect();
  db = client.db(uniqueDbName('views'));
  await db.collection('src').insertMany(Array.from({ length: 6 }, (_, i) => ({ _id: i as never, n: i, secret: 's' })));
  await db.createCollection('big', { viewOn: 'src', pipeline: [{ $match: { n: { $gte: 2 } } }, { $project: { secret: 0 } }] });
  await db.createCollection('bigger', { viewOn: 'big', pipeline: [{ $match: { n: { $gte: 4 } } }] });
});

afterAll(async () => {
  await db?.dropDatabase();
  await client?.close();
});

describe('views', () => {
  it('are read with find, count and aggregate through their pipeline, and stack', async () => {
    const big = db.collection('big');
    expect(await big.find({ n: { $lt: 4 } }).sort({ n: -1 }).toArray()).toEqual([
      { _id: 3, n: 3 },
      { _id: 2, n: 2 },
    ]);
    expect(await big.countDocuments()).toBe(4);
    expect(await big.aggregate([{ $group: { _id: null, total: { $sum: '$n' } } }]).toArray()).toEqual([{ _id: null, total: 14 }]);
    expect((await db.collection('bigger').find().toArray()).map((d) => d._id)).toEqual([4, 5]);
  });

  it('are listed as views with their definition', async () => {
    const info = (await db.listCollections({ name: 'big' }).toArray())[0] as unknown as { type: string; options: { viewOn: string } };
    expect(info.type).toBe('view');
    expect(info.options.viewOn).toBe('src');
  });

  it('refuse writes with 166 and can be dropped', async () => {
    expect((await serverError(db.collection('big').insertOne({ n: 9 }))).code).toBe(166);
    expect((await serverError(db.collection('big').updateOne({}, { $set: { x: 1 } }))).code).toBe(166);
    await db.collection('bigger').drop();
    expect((await db.listCollections({ name: 'bigger' }).toArray()).length).toBe(0);
    expect(await db.collection('src').countDocuments()).toBe(6);
  });
});
