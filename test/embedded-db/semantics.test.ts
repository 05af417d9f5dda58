// MongoDB semantics where the embedded server once differed: BSON ordering, numeric equality, index keys, update rules, field names, 8.0 features.
import { Decimal128, Long, MongoServerError, Timestamp, type Collection, type Document } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { serverError, useTestDb } from '../helpers/db.js';

const { client, db } = useTestDb('semantics');
let major = 0;
let n = 0;
const fresh = (): Collection<Document> => db.collection(`s${n++}`);

beforeAll(async () => {
  major = Number(String((await db.admin().command({ buildInfo: 1 })).version).split('.')[0]);
});

describe('sort and comparison order', () => {
  it('sorts an array field by its smallest element ascending and its largest descending', async () => {
    const c = fresh();
    await c.insertMany([
      { _id: 1 as never, a: [1, 10] },
      { _id: 2 as never, a: [5] },
      { _id: 3 as never, a: 7 },
    ]);
    expect((await c.find().sort({ a: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2, 3]);
    expect((await c.find().sort({ a: -1 }).toArray()).map((d) => d._id)).toEqual([1, 3, 2]);
    expect((await c.aggregate([{ $sort: { a: -1 } }]).toArray()).map((d) => d._id)).toEqual([1, 3, 2]);
  });

  it('compares strings by UTF-8 bytes (code points), not UTF-16 code units', async () => {
    const c = fresh();
    // U+FB01 is one UTF-16 unit above the surrogates that encode U+1F600, but below it as a code point.
    await c.insertMany([{ s: '\u{1F600}' }, { s: 'z' }, { s: '\uFB01' }]);
    expect((await c.find({}, { projection: { _id: 0 } }).sort({ s: 1 }).toArray()).map((d) => d.s)).toEqual(['z', '\uFB01', '\u{1F600}']);
    expect((await c.find({ s: { $gt: '\uFB01' } }).toArray()).map((d) => d.s)).toEqual(['\u{1F600}']);
    expect((await c.aggregate([{ $sort: { s: -1 } }, { $limit: 1 }]).toArray())[0].s).toBe('\u{1F600}');
  });

  it('numbers of different BSON types are equal in _id lookups, filters and unique indexes', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never, k: 2 });
    expect(await c.findOne({ _id: Decimal128.fromString('1.0') as never })).toEqual({ _id: 1, k: 2 });
    expect(await c.findOne({ _id: Long.fromNumber(1) as never })).toEqual({ _id: 1, k: 2 });
    expect(await c.countDocuments({ k: { $in: [Decimal128.fromString('2.00')] } })).toBe(1);
    expect((await serverError(c.insertOne({ _id: Decimal128.fromString('1') as never }))).code).toBe(11000);
    await c.createIndex({ k: 1 }, { unique: true });
    expect((await serverError(c.insertOne({ k: Decimal128.fromString('2.0') }))).code).toBe(11000);
    await c.insertOne({ k: Decimal128.fromString('2.5') });
    expect(await c.countDocuments({ k: { $gt: 2, $lt: Decimal128.fromString('3') } })).toBe(1);
  });
});

describe('unique indexes', () => {
  it('a missing field and an empty array do not collide', async () => {
    const c = fresh();
    await c.createIndex({ tags: 1 }, { unique: true });
    await c.insertOne({ _id: 'missing' as never });
    await c.insertOne({ _id: 'empty' as never, tags: [] });
    expect(await c.countDocuments()).toBe(2);
    // Two missing fields still collide on null, as in every MongoDB since unique indexes exist.
    expect((await serverError(c.insertOne({ _id: 'missing2' as never }))).code).toBe(11000);
  });
});

describe('update rules', () => {
  it('$currentDate with $type "timestamp" stores a BSON Timestamp, otherwise a Date', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never });
    await c.updateOne({ _id: 1 as never }, { $currentDate: { ts: { $type: 'timestamp' }, at: true, d: { $type: 'date' } } } as never);
    const doc = await c.findOne({ _id: 1 as never });
    expect(doc!.ts).toBeInstanceOf(Timestamp);
    expect(doc!.at).toBeInstanceOf(Date);
    expect(doc!.d).toBeInstanceOf(Date);
    expect(Math.abs(Number((doc!.ts as Timestamp).high) * 1000 - Date.now())).toBeLessThan(60_000);
  });

  it('$set and $setOnInsert on the same path fail with code 40, whether or not a document matches', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never, a: 0 });
    const matched = await serverError(c.updateOne({ _id: 1 as never }, { $set: { a: 1 }, $setOnInsert: { a: 2 } }, { upsert: true }));
    expect(matched.code).toBe(40);
    const upsert = await serverError(c.updateOne({ _id: 2 as never }, { $set: { a: 1 }, $setOnInsert: { a: 2 } }, { upsert: true }));
    expect(upsert.code).toBe(40);
    expect(await c.find().toArray()).toEqual([{ _id: 1, a: 0 }]);
  });

  it('let variables are evaluated as expressions in find, aggregate, update and delete', async () => {
    const c = fresh();
    await c.insertMany([
      { _id: 1 as never, n: 3 },
      { _id: 2 as never, n: 4 },
    ]);
    const vars = { three: { $add: [1, 2] } };
    expect((await c.find({ $expr: { $eq: ['$n', '$$three'] } }, { let: vars }).toArray()).map((d) => d._id)).toEqual([1]);
    expect(await c.aggregate([{ $match: { _id: 1 } }, { $project: { _id: 0, v: '$$three' } }], { let: vars }).toArray()).toEqual([{ v: 3 }]);
    await c.updateOne({ $expr: { $eq: ['$n', '$$three'] } }, [{ $set: { m: '$$three' } }], { let: vars });
    expect(await c.findOne({ _id: 1 as never })).toEqual({ _id: 1, n: 3, m: 3 });
    expect((await c.deleteMany({ $expr: { $gt: ['$n', '$$three'] } }, { let: vars })).deletedCount).toBe(1);
  });
});

describe('field names', () => {
  it('top-level $-prefixed field names are stored by inserts (allowed since 5.0)', async () => {
    const c = fresh();
    await c.insertOne({ _id: 'p' as never, $price: 50, quantity: 30, nested: { $inc: true } });
    expect(await c.findOne({ _id: 'p' as never })).toEqual({ _id: 'p', $price: 50, quantity: 30, nested: { $inc: true } });
    // Updating another field keeps the $-prefixed one.
    await c.updateOne({ _id: 'p' as never }, { $set: { quantity: 31 } });
    expect((await c.findOne({ _id: 'p' as never }))!.$price).toBe(50);
  });

  it('a $-prefixed field inside _id is refused with code 52', async () => {
    const c = fresh();
    const err = await serverError(c.insertOne({ _id: { $oid: 'x' } as never }));
    expect(err.code).toBe(52);
    expect(err.message).toMatch(/_id fields may not contain '\$'-prefixed fields/);
    expect(await c.countDocuments()).toBe(0);
  });
});

describe('8.0 features follow the advertised version', () => {
  it('client.bulkWrite writes across collections on 8.0 (and is an unknown command before)', async () => {
    const a = fresh();
    const b = fresh();
    await b.insertOne({ _id: 'gone' as never });
    const run = client.bulkWrite<Document>(
      [
        { namespace: a.namespace, name: 'insertOne', document: { _id: 1 as never, n: 1 } },
        { namespace: a.namespace, name: 'updateOne', filter: { _id: 1 }, update: { $inc: { n: 1 } } },
        { namespace: a.namespace, name: 'updateOne', filter: { _id: 2 }, update: { $set: { n: 9 } }, upsert: true },
        { namespace: b.namespace, name: 'deleteOne', filter: { _id: 'gone' } },
      ],
      { verboseResults: true },
    );
    if (major < 8) {
      expect((await serverError(run)).code).toBe(59);
      return;
    }
    const result = await run;
    expect({ ins: result.insertedCount, matched: result.matchedCount, mod: result.modifiedCount, ups: result.upsertedCount, del: result.deletedCount }).toEqual({
      ins: 1,
      matched: 1,
      mod: 1,
      ups: 1,
      del: 1,
    });
    expect(result.updateResults?.get(2)?.upsertedId).toBe(2);
    expect(await a.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, n: 2 },
      { _id: 2, n: 9 },
    ]);
    expect(await b.countDocuments()).toBe(0);
  });

  it('updateOne with sort picks the first document in that order on 8.0 (and is refused before)', async () => {
    const c = fresh();
    await c.insertMany([
      { _id: 1 as never, n: 1 },
      { _id: 2 as never, n: 5 },
      { _id: 3 as never, n: 3 },
    ]);
    const run = c.updateOne({}, { $set: { top: true } }, { sort: { n: -1 } });
    if (major < 8) {
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MongoServerError);
      return;
    }
    await run;
    expect((await c.find({ top: true }).toArray()).map((d) => d._id)).toEqual([2]);
  });
});
