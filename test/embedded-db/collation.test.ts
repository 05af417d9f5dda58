// Collations as mongod applies them: strength 1 ignores case and accents, 2 ignores case, 3 (default) neither; 'simple' is binary.
import { type CollationOptions, type Collection, type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { planStages } from '../helpers/explain-plan.js';
import { serverError, useTestDb } from '../helpers/db.js';

const { db } = useTestDb('collation');
let n = 0;
const fresh = (): Collection<Document> => db.collection(`c${n++}`);

const en = (strength: number): CollationOptions => ({ locale: 'en', strength: strength as CollationOptions['strength'] });
const FRUIT = ['apple', 'Apple', 'APPLE', 'Äpple', 'banana'];

async function fruit(): Promise<Collection<Document>> {
  const c = fresh();
  await c.insertMany(FRUIT.map((name, i) => ({ _id: i as never, name })));
  return c;
}

const names = (docs: Document[]): string[] => docs.map((d) => d.name as string);

describe('collation on reads', () => {
  it('find: strength 1 ignores case and accents, 2 ignores case, 3 and simple compare both', async () => {
    const c = await fruit();
    const find = (collation?: CollationOptions) => c.find({ name: 'apple' }, collation ? { collation } : {}).sort({ _id: 1 }).toArray();
    expect(names(await find(en(1)))).toEqual(['apple', 'Apple', 'APPLE', 'Äpple']);
    expect(names(await find(en(2)))).toEqual(['apple', 'Apple', 'APPLE']);
    expect(names(await find(en(3)))).toEqual(['apple']);
    expect(names(await find({ locale: 'simple' }))).toEqual(['apple']);
    expect(names(await find())).toEqual(['apple']);
    // $in and $ne follow it too.
    expect(await c.countDocuments({ name: { $in: ['APPLE', 'BANANA'] } }, { collation: en(2) })).toBe(4);
    expect(await c.countDocuments({ name: { $ne: 'APPLE' } }, { collation: en(2) })).toBe(2);
  });

  it('sort and ranges use the locale order (binary order puts every capital first)', async () => {
    const c = fresh();
    await c.insertMany(['b', 'B', 'a', 'A', 'c'].map((name) => ({ name })));
    const sorted = async (collation?: CollationOptions) => names(await c.find({}, collation ? { collation } : {}).sort({ name: 1 }).project({ _id: 0 }).toArray());
    expect(await sorted()).toEqual(['A', 'B', 'a', 'b', 'c']);
    expect(await sorted({ locale: 'en' })).toEqual(['a', 'A', 'b', 'B', 'c']);
    expect(await sorted({ locale: 'en', caseFirst: 'upper' })).toEqual(['A', 'a', 'B', 'b', 'c']);
    expect(names(await c.find({ name: { $gt: 'B' } }).sort({ name: 1 }).toArray())).toEqual(['a', 'b', 'c']);
    expect(names(await c.find({ name: { $gt: 'B' } }, { collation: { locale: 'en' } }).sort({ name: 1 }).toArray())).toEqual(['c']);
    const numbers = fresh();
    await numbers.insertMany(['10', '9', '2'].map((name) => ({ name })));
    expect(names(await numbers.find({}, { collation: { locale: 'en', numericOrdering: true } }).sort({ name: 1 }).toArray())).toEqual(['2', '9', '10']);
  });

  it('count and distinct (one value per class of equal strings)', async () => {
    const c = await fruit();
    expect(await c.countDocuments({ name: 'APPLE' }, { collation: en(2) })).toBe(3);
    const values = (await c.distinct('name', {}, { collation: en(2) })) as string[];
    expect(values).toHaveLength(3);
    expect(new Set(values.map((v) => v.toLowerCase()))).toEqual(new Set(['apple', 'äpple', 'banana']));
    expect(await c.distinct('name', {}, { collation: en(1) })).toHaveLength(2);
    expect(await c.distinct('name')).toHaveLength(5);
  });

  it('aggregate: $match, $sort and $group keys follow the collation', async () => {
    const c = await fruit();
    const groups = await c
      .aggregate<{ _id: string; n: number }>([{ $match: { name: { $ne: 'BANANA' } } }, { $group: { _id: '$name', n: { $sum: 1 } } }, { $sort: { n: -1 } }], { collation: en(2) })
      .toArray();
    expect(groups.map((g) => g.n)).toEqual([3, 1]);
    expect(groups[0]._id.toLowerCase()).toBe('apple');
    expect(groups[1]._id).toBe('Äpple');
    const sorted = await c.aggregate([{ $sort: { name: 1, _id: 1 } }, { $project: { _id: 0, name: 1 } }], { collation: { locale: 'en' } }).toArray();
    expect(names(sorted)).toEqual(['apple', 'Apple', 'APPLE', 'Äpple', 'banana']);
    // Without a collation $group is exact.
    expect(await c.aggregate([{ $group: { _id: '$name' } }]).toArray()).toHaveLength(5);
    // $lookup joins by the aggregation's collation.
    const orders = fresh();
    await orders.insertMany([{ _id: 1 as never, item: 'APPLE' }, { _id: 2 as never, item: ['BANANA', 'kiwi'] }, { _id: 3 as never }]);
    const lookup = [{ $lookup: { from: c.collectionName, localField: 'item', foreignField: 'name', as: 'found' } }, { $sort: { _id: 1 } }];
    const joined = await orders.aggregate(lookup, { collation: en(2) }).toArray();
    expect(joined.map((o) => (o.found as Document[]).length)).toEqual([3, 1, 0]);
    expect((await orders.aggregate(lookup).toArray()).map((o) => (o.found as Document[]).length)).toEqual([1, 0, 0]);
  });
});

describe('collation and indexes', () => {
  const field = (docs: Document[]): string[] => docs.map((d) => d.a as string);
  it('an index serves a query only under its own collation (mongod: IXSCAN when they match, COLLSCAN otherwise)', async () => {
    const c = fresh();
    await c.insertMany(['foo', 'FOO', 'bar', 'Foo', 'baz'].map((a, i) => ({ _id: i as never, a })));
    await c.createIndex({ a: 1 }, { collation: en(2) });
    const plan = async (collation?: CollationOptions) => planStages((await c.find({ a: 'FOO' }, collation ? { collation } : {}).explain('queryPlanner')).queryPlanner.winningPlan);
    expect(await plan(en(2))).toContain('IXSCAN');
    expect(await plan()).toContain('COLLSCAN');
    expect(await plan({ locale: 'fr' })).toContain('COLLSCAN');
    expect(field(await c.find({ a: 'FOO' }, { collation: en(2) }).sort({ _id: 1 }).toArray())).toEqual(['foo', 'FOO', 'Foo']);
    expect(field(await c.find({ a: { $in: ['FOO', 'BAR'] } }, { collation: en(2) }).sort({ _id: 1 }).toArray())).toEqual(['foo', 'FOO', 'bar', 'Foo']);
    expect(field(await c.find({ a: { $gt: 'BAR', $lt: 'FOZ' } }, { collation: en(2) }).sort({ _id: 1 }).toArray())).toEqual(['foo', 'FOO', 'Foo', 'baz']);
    // The index order is the collation's: a sort under it needs no SORT stage and reads like the locale.
    const sorted = await c.find({}, { collation: en(2) }).sort({ a: 1, _id: 1 }).hint({ a: 1 }).toArray();
    expect(field(sorted).map((x) => x.toLowerCase())).toEqual(['bar', 'baz', 'foo', 'foo', 'foo']);
    expect(field(await c.find({ a: /^F/ }, { collation: en(2) }).sort({ _id: 1 }).toArray())).toEqual(['FOO', 'Foo']);
  });
});

describe('collation on writes', () => {
  it('update, delete and findAndModify match with it', async () => {
    const c = await fruit();
    expect((await c.updateMany({ name: 'apple' }, { $set: { hit: true } }, { collation: en(2) })).modifiedCount).toBe(3);
    expect((await c.updateMany({ name: 'apple' }, { $set: { hit2: true } })).modifiedCount).toBe(1);
    const found = await c.findOneAndUpdate({ name: 'BANANA' }, { $set: { ripe: true } }, { collation: en(2), returnDocument: 'after' });
    expect(found).toMatchObject({ name: 'banana', ripe: true });
    expect(await c.findOneAndUpdate({ name: 'BANANA' }, { $set: { ripe: false } })).toBeNull();
    expect((await c.deleteOne({ name: 'BANANA' })).deletedCount).toBe(0);
    expect((await c.deleteMany({ name: 'APPLE' }, { collation: en(1) })).deletedCount).toBe(4);
    expect(names(await c.find().toArray())).toEqual(['banana']);
  });

  it('array filters, the positional $, $pull, $addToSet, $pullAll and $max compare by the collation too', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never, tags: ['Red', 'blue', 'RED'], items: [{ c: 'A', n: 0 }, { c: 'b', n: 0 }] });
    await c.updateOne({ _id: 1 as never }, { $pull: { tags: 'red' } } as Document, { collation: en(2) });
    await c.updateOne({ _id: 1 as never }, { $inc: { 'items.$[e].n': 1 } } as Document, { arrayFilters: [{ 'e.c': 'a' }], collation: en(2) });
    await c.updateOne({ _id: 1 as never, 'items.c': 'B' }, { $set: { 'items.$.n': 5 } } as Document, { collation: en(2) });
    expect(await c.findOne({ _id: 1 as never })).toEqual({ _id: 1, tags: ['blue'], items: [{ c: 'A', n: 1 }, { c: 'b', n: 5 }] });
    await c.updateOne({ _id: 1 as never }, { $addToSet: { tags: { $each: ['BLUE', 'green', 'Green'] } } } as Document, { collation: en(2) });
    expect((await c.findOne({ _id: 1 as never }))!.tags).toEqual(['blue', 'green']);
    expect((await c.updateOne({ _id: 1 as never }, { $max: { 'items.0.c': 'a' } } as Document, { collation: en(2) })).modifiedCount).toBe(0);
    await c.updateOne({ _id: 1 as never }, { $addToSet: { tags: 'BLUE' } } as Document);
    expect((await c.findOne({ _id: 1 as never }))!.tags).toEqual(['blue', 'green', 'BLUE']);
    await c.updateOne({ _id: 1 as never }, { $pullAll: { tags: ['GREEN'] } } as Document);
    expect((await c.findOne({ _id: 1 as never }))!.tags).toEqual(['blue', 'green', 'BLUE']);
    await c.updateOne({ _id: 1 as never }, { $pullAll: { tags: ['GREEN', 'Blue'] } } as Document, { collation: en(2) });
    expect((await c.findOne({ _id: 1 as never }))!.tags).toEqual([]);
    // Without it nothing of that matches.
    await c.updateOne({ _id: 1 as never }, { $inc: { 'items.$[e].n': 1 } } as Document, { arrayFilters: [{ 'e.c': 'a' }] });
    expect((await c.findOne({ _id: 1 as never }))!.items).toEqual([{ c: 'A', n: 1 }, { c: 'b', n: 5 }]);
  });

  it('a unique index with a collation refuses keys equal under it', async () => {
    const c = fresh();
    await c.createIndex({ email: 1 }, { unique: true, collation: en(2) });
    await c.insertOne({ email: 'Ann@Example.com' });
    expect((await serverError(c.insertOne({ email: 'ann@example.com' }))).code).toBe(11000);
    await c.insertOne({ email: 'ánn@example.com' });
    expect(await c.countDocuments({ email: 'ann@example.com' })).toBe(0);
    expect(await c.countDocuments({ email: 'ann@example.com' }, { collation: en(2) })).toBe(1);
    const index = (await c.listIndexes().toArray()).find((i) => i.name === 'email_1');
    expect(index?.collation).toMatchObject({ locale: 'en', strength: 2 });
    // Building one over documents that collide under it fails, and leaves no index.
    const d = fresh();
    await d.insertMany([{ k: 'x' }, { k: 'X' }]);
    expect((await serverError(d.createIndex({ k: 1 }, { unique: true, collation: en(2) }))).code).toBe(11000);
    await d.createIndex({ k: 1 }, { unique: true });
  });

  it('a collection default collation (create) applies when a command gives none, and to its new indexes', async () => {
    const name = `defaults${n++}`;
    await db.createCollection(name, { collation: en(2) });
    const c = db.collection(name);
    await c.insertMany([{ s: 'Hello' }, { s: 'world' }]);
    expect(await c.countDocuments({ s: 'hello' })).toBe(1);
    expect(await c.countDocuments({ s: 'hello' }, { collation: { locale: 'simple' } })).toBe(0);
    expect((await c.updateOne({ s: 'WORLD' }, { $set: { t: 1 } })).modifiedCount).toBe(1);
    const [info] = await db.listCollections({ name }).toArray();
    expect((info as Document).options.collation).toMatchObject({ locale: 'en', strength: 2 });
    await c.createIndex({ s: 1 }, { unique: true });
    const index = (await c.listIndexes().toArray()).find((i) => i.name === 's_1');
    expect(index?.collation).toMatchObject({ locale: 'en', strength: 2 });
    expect((await serverError(c.insertOne({ s: 'HELLO' }))).code).toBe(11000);
    // The _id index follows the default too: "k" and "K" are one _id.
    await c.insertOne({ _id: 'k' as never, s: 'key' });
    expect((await serverError(c.insertOne({ _id: 'K' as never, s: 'other' }))).code).toBe(11000);
    expect(await c.findOne({ _id: 'K' as never })).toMatchObject({ _id: 'k', s: 'key' });
    expect(await c.countDocuments({ _id: 'K' as never }, { collation: { locale: 'simple' } })).toBe(0);
    expect((await c.listIndexes().toArray()).find((i) => i.name === '_id_')?.collation).toMatchObject({ locale: 'en', strength: 2 });
  });

  it("a validator compares by the collection's default collation", async () => {
    const name = `validated${n++}`;
    await db.createCollection(name, { collation: en(2), validator: { status: { $in: ['OPEN', 'CLOSED'] } } });
    const c = db.collection(name);
    await c.insertOne({ status: 'open' });
    expect((await serverError(c.insertOne({ status: 'pending' }))).code).toBe(121);
    expect(await c.countDocuments()).toBe(1);
  });

  it("a view has its own default collation (not its source's), which a command may restate but not change (167)", async () => {
    const c = await fruit();
    const name = `fruitview${n++}`;
    await db.createCollection(name, { viewOn: c.collectionName, pipeline: [{ $project: { name: 1 } }], collation: en(2) });
    const view = db.collection(name);
    expect(await view.countDocuments({ name: 'APPLE' })).toBe(3);
    expect(await view.find({ name: 'APPLE' }, { collation: en(2) }).toArray()).toHaveLength(3);
    expect((await serverError(view.find({}, { collation: { locale: 'fr' } }).toArray())).code).toBe(167);
    const [info] = await db.listCollections({ name }).toArray();
    expect((info as Document).options.collation).toMatchObject({ locale: 'en', strength: 2 });
    const base = `viewbase${n++}`;
    await db.createCollection(base, { collation: en(2) });
    await db.collection(base).insertOne({ s: 'Hello' });
    await db.createCollection(`${base}_v`, { viewOn: base, pipeline: [] });
    expect(await db.collection(base).countDocuments({ s: 'hello' })).toBe(1);
    expect(await db.collection(`${base}_v`).countDocuments({ s: 'hello' })).toBe(0);
  });

  it('an invalid locale is BadValue (2); unknown fields, a bad strength or a missing locale fail', async () => {
    const c = await fruit();
    expect((await serverError(c.find({}, { collation: { locale: 'x_invalid' } }).toArray())).code).toBe(2);
    expect((await serverError(db.collection('nothing-here').find({}, { collation: { locale: 'x_invalid' } }).toArray())).code).toBe(2);
    expect((await serverError(db.createCollection(`bad${n++}`, { collation: { locale: 'x_invalid' } }))).code).toBe(2);
    // mongod's own tests only require these to fail.
    for (const collation of [{ locale: 'en', colour: 'blue' }, { locale: 'en', strength: 9.9 }, { strength: 2 }, { locale: 'xx' }]) {
      expect((await serverError(c.find({}, { collation: collation as CollationOptions }).toArray())).ok).toBe(0);
    }
  });
});
