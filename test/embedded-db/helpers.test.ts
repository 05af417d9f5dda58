// The shared test helpers: the run's database URI reaches every worker, and generated database names are valid.
import { MongoClient } from 'mongodb';
import { describe, expect, inject, it } from 'vitest';
import { getTestMongoUri, uniqueDbName, usingEmbeddedDb } from '../helpers/db.js';

describe('test helpers', () => {
  it('the global setup hands the URI to this worker', async () => {
    const uri = getTestMongoUri();
    expect(uri).toMatch(/^mongodb(\+srv)?:\/\//);
    expect(inject('mongoUri')).toBe(process.env.MONGODB_URI || uri);
    if (usingEmbeddedDb()) expect(process.env.EMBEDDED_MONGODB_URI).toBe(uri);
    const client = new MongoClient(uri);
    try {
      expect((await client.db('admin').command({ ping: 1 })).ok).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('uniqueDbName yields fresh names MongoDB accepts', async () => {
    const long = uniqueDbName('a very/long.prefix "with" $weird\\chars that goes on and on and on');
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).not.toMatch(/[/\\. "$]/);
    expect(uniqueDbName('x')).not.toBe(uniqueDbName('x'));
    const client = new MongoClient(getTestMongoUri());
    try {
      const db = client.db(long);
      await db.collection('c').insertOne({ ok: true });
      expect(await db.collection('c').countDocuments()).toBe(1);
      await db.dropDatabase();
    } finally {
      await client.close();
    }
  });
});
