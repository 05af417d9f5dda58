// Collection validators (query form): create and collMod, validationLevel / validationAction, bypassDocumentValidation, error 121.
import { type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { serverError, useTestDb } from '../helpers/db.js';

const { db } = useTestDb('validation');

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

  it('$jsonSchema validators: bsonType, required, properties, enum, ranges, items, additionalProperties; errInfo names the failing rules', async () => {
    await db.createCollection('people', {
      validator: {
        $jsonSchema: {
          bsonType: 'object',
          required: ['name', 'age'],
          additionalProperties: false,
          properties: {
            _id: { bsonType: 'objectId' },
            name: { bsonType: 'string', minLength: 1, description: 'a name' },
            age: { bsonType: 'int', minimum: 0, maximum: 150 },
            status: { enum: ['active', 'retired'] },
            tags: { bsonType: 'array', items: { bsonType: 'string' }, uniqueItems: true, maxItems: 3 },
            email: { type: 'string', pattern: '@example\\.com$' },
          },
        },
      },
    });
    const c = db.collection('people');
    await c.insertOne({ name: 'Ann', age: 40, status: 'active', tags: ['a', 'b'], email: 'ann@example.com' });
    const refused = async (doc: Document): Promise<Document> => {
      const err = await serverError(c.insertOne(doc));
      expect(err.code).toBe(121);
      return err.errInfo as Document;
    };
    const missing = await refused({ age: 3 });
    expect(missing.details.operatorName).toBe('$jsonSchema');
    expect(missing.details.schemaRulesNotSatisfied).toContainEqual(expect.objectContaining({ operatorName: 'required', missingProperties: ['name'] }));
    const wrongType = await refused({ name: 'Bo', age: 'old' });
    const props = (wrongType.details.schemaRulesNotSatisfied as Document[]).find((r) => r.operatorName === 'properties')!;
    expect(props.propertiesNotSatisfied[0]).toMatchObject({ propertyName: 'age', details: [expect.objectContaining({ operatorName: 'bsonType' })] });
    await refused({ name: '', age: 1 });
    await refused({ name: 'Cy', age: -1 });
    await refused({ name: 'Cy', age: 1, status: 'asleep' });
    await refused({ name: 'Cy', age: 1, tags: ['x', 'x'] });
    await refused({ name: 'Cy', age: 1, tags: ['x', 1] });
    await refused({ name: 'Cy', age: 1, email: 'cy@elsewhere.org' });
    await refused({ name: 'Cy', age: 1, nickname: 'C' });
    expect((await serverError(c.updateOne({ name: 'Ann' }, { $set: { age: 200 } }))).code).toBe(121);
    expect((await serverError(c.updateOne({ name: 'Ann' }, { $unset: { name: '' } }))).code).toBe(121);
    await c.updateOne({ name: 'Ann' }, { $set: { age: 41 }, $push: { tags: 'c' } } as Document);
    expect(await c.countDocuments()).toBe(1);
    // Unknown and unsupported keywords fail when the validator is set (FailedToParse, 9).
    expect((await serverError(db.createCollection('bad1', { validator: { $jsonSchema: { bsonType: 'object', colour: 'red' } } }))).code).toBe(9);
    expect((await serverError(db.command({ collMod: 'people', validator: { $jsonSchema: { properties: { a: { format: 'email' } } } } }))).code).toBe(9);
  });

  it('$jsonSchema with warn lets a failing document in; as a query operator it filters', async () => {
    await db.createCollection('loose', { validator: { $jsonSchema: { required: ['k'] } }, validationAction: 'warn' });
    const c = db.collection('loose');
    await c.insertMany([{ k: 1 }, { other: true }, { k: 'two', list: [1, 2] }]);
    expect(await c.countDocuments()).toBe(3);
    expect(await c.countDocuments({ $jsonSchema: { required: ['k'], properties: { k: { bsonType: 'number' } } } })).toBe(1);
    expect(await c.countDocuments({ $jsonSchema: { properties: { list: { minItems: 2 } } } })).toBe(3);
    expect(await c.countDocuments({ $nor: [{ $jsonSchema: { required: ['k'] } }] })).toBe(1);
    expect(await c.countDocuments({ $jsonSchema: { anyOf: [{ required: ['other'] }, { properties: { k: { type: 'string' } } }] }, k: { $exists: true } })).toBe(1);
  });
});
