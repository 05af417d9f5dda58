// Collection validators (query form): create and collMod, validationLevel / validationAction, bypassDocumentValidation, error 121.
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestMongoUri, serverError, uniqueDbName } from '../helpers/db.js';

let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  await client.connect();
  db = client.db(uniqueDbName('validation'));
});

afterAll(async () => {
  await db?.dropDatabase();
  await client?.close();
});

describe('validators', () => {
  it('refuse inserts, updates and upserts that fail the validator with 121, unless bypassed', async () => {
    await db.createCollection('stock', { validator: { qty: { $gte: 0 } } });
    const c = db.collection('stock');
    await c.insertOne({ _id: 1 as never, qty: 1 });
    expect((await serverError(c.insertOne({ _id: 2 as never, qty: -1 }))).code).toBe(121);
    expect((await serverError(c.updateOne({ _id: 1 as never }, { $set: { qty: -5 } }))).code).toBe(121);
    expect((await serverError(c.updateOne({ _id: 3 as never }, { $set: { qty: -5 } }, { upsert: true }))).code).toBe(121);
    expect((await serverError(c.findOneAndUpdate({ _id: 1 as never }, { $inc: { qty: -10 } }))).code).toBe(121);
    expect(await c.find().toArray()).toEqual([{ _id: 1, qty: 1 }]);
    await c.insertOne({ _id: 4 as never, qty: -4 }, { bypassDocumentValidation: true });
    expect(await c.countDocuments()).toBe(2);
    const info = (await db.listCollections({ name: 'stock' }).toArray())[0] as unknown as { options: { validator: unknown } };
    expect(info.options.validator).toEqual({ qty: { $gte: 0 } });
  });

  it('collMod changes the validator, the level (moderate) and the action (warn)', async () => {
    await db.createCollection('stock2');
    const c = db.collection('stock2');
    await c.insertMany([
      { _id: 'bad' as never, qty: -1 },
      { _id: 'good' as never, qty: 1 },
    ]);
    await db.command({ collMod: 'stock2', validator: { qty: { $gte: 0 } }, validationLevel: 'moderate' });
    // Moderate: a document that already failed may be updated, a valid one may not become invalid.
    await c.updateOne({ _id: 'bad' as never }, { $set: { note: 'still bad' } });
    expect((await serverError(c.updateOne({ _id: 'good' as never }, { $set: { qty: -2 } }))).code).toBe(121);
    await db.command({ collMod: 'stock2', validationAction: 'warn' });
    await c.insertOne({ _id: 'warned' as never, qty: -3 });
    expect(await c.countDocuments()).toBe(3);
  });
});
