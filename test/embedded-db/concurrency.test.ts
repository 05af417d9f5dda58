// Races through many pooled connections: single-document writes must be atomic and isolated (same as mongod).
import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { useTestDb } from '../helpers/db.js';

const { db } = useTestDb('concurrency', { maxPoolSize: 20, minPoolSize: 20 });


describe('concurrent single-document writes', () => {
  it('200 parallel $inc on one document lose nothing', async () => {
    const c = db.collection<{ _id: string; n: number }>('inc');
    await c.insertOne({ _id: 'counter', n: 0 });
    const results = await Promise.all(Array.from({ length: 200 }, () => c.updateOne({ _id: 'counter' }, { $inc: { n: 1 } })));
    expect(results.every((r) => r.modifiedCount === 1)).toBe(true);
    expect((await c.findOne({ _id: 'counter' }))?.n).toBe(200);
  });

  it('10 parallel conditional decrements of 100 by 50 succeed exactly twice', async () => {
    const c = db.collection<{ _id: string; balance: number }>('balance');
    await c.insertOne({ _id: 'acct', balance: 100 });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => c.updateOne({ _id: 'acct', balance: { $gte: 50 } }, { $inc: { balance: -50 } })),
    );
    expect(results.filter((r) => r.modifiedCount === 1)).toHaveLength(2);
    expect(results.filter((r) => r.matchedCount === 0)).toHaveLength(8);
    expect((await c.findOne({ _id: 'acct' }))?.balance).toBe(0);
  });

  it('30 parallel upserts on one unique key leave exactly one document', async () => {
    const c = db.collection<{ email: string; hits?: number }>('upserts');
    await c.createIndex({ email: 1 }, { unique: true });
    const upsertWithRetry = async (): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          await c.updateOne({ email: 'a@example.com' }, { $inc: { hits: 1 } }, { upsert: true });
          return;
        } catch (err) {
          // mongod may report E11000 when two upserts race; the documented remedy is to retry.
          if (!(err instanceof MongoServerError) || err.code !== 11000 || attempt > 5) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: 30 }, upsertWithRetry));
    const docs = await c.find({ email: 'a@example.com' }).toArray();
    expect(docs).toHaveLength(1);
    expect(docs[0].hits).toBe(30);
  });

  it('a $ne-guarded $push raced 20 times appends once', async () => {
    const c = db.collection<{ _id: string; tags: string[] }>('guarded');
    await c.insertOne({ _id: 'pkg', tags: ['a'] });
    const results = await Promise.all(Array.from({ length: 20 }, () => c.updateOne({ _id: 'pkg', tags: { $ne: 'x' } }, { $push: { tags: 'x' } })));
    expect(results.reduce((n, r) => n + r.modifiedCount, 0)).toBe(1);
    expect((await c.findOne({ _id: 'pkg' }))?.tags).toEqual(['a', 'x']);
  });

  it('parallel findOneAndUpdate hands out each sequence number once', async () => {
    const c = db.collection<{ _id: string; seq: number }>('seq');
    await c.insertOne({ _id: 'ids', seq: 0 });
    const got = await Promise.all(
      Array.from({ length: 50 }, async () => (await c.findOneAndUpdate({ _id: 'ids' }, { $inc: { seq: 1 } }, { returnDocument: 'after' }))?.seq),
    );
    expect(new Set(got).size).toBe(50);
    expect(Math.max(...(got as number[]))).toBe(50);
  });
});
