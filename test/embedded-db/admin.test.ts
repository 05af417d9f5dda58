// Collection/database commands and command-level errors (unknown command, refused options, invalid documents).
import { describe, expect, it } from 'vitest';
import { serverError, uniqueDbName, useTestDb, usingEmbeddedDb } from '../helpers/db.js';

const { client, db } = useTestDb('admin');

describe('collections and databases', () => {
  it('create, listCollections, rename, drop', async () => {
    await db.createCollection('alpha');
    // mongod releases differ on re-creating an identical collection; the embedded server answers NamespaceExists.
    if (usingEmbeddedDb()) expect((await serverError(db.createCollection('alpha'))).code).toBe(48);
    await db.collection('beta').insertOne({ b: 1 });
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
    expect(names).toEqual(['alpha', 'beta']);
    const filtered = await db.listCollections({ name: 'beta' }).toArray();
    expect(filtered).toHaveLength(1);
    expect(filtered[0]).toMatchObject({ name: 'beta', type: 'collection' });
    await db.collection('beta').createIndex({ b: 1 }, { unique: true });
    await db.renameCollection('beta', 'gamma');
    expect(await db.collection('gamma').findOne({}, { projection: { _id: 0 } })).toEqual({ b: 1 });
    expect((await db.collection('gamma').listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_', 'b_1']);
    expect(await db.collection('gamma').drop()).toBe(true);
    expect((await db.listCollections().toArray()).map((c) => c.name)).toEqual(['alpha']);
  });

  it('listDatabases includes the database; dropDatabase removes it', async () => {
    const other = client.db(uniqueDbName('admin_drop'));
    await other.collection('x').insertOne({ x: 1 });
    const dbs = await client.db('admin').admin().listDatabases();
    expect(dbs.databases.map((d) => d.name)).toContain(other.databaseName);
    await other.dropDatabase();
    const after = await client.db('admin').admin().listDatabases({ nameOnly: true });
    expect(after.databases.map((d) => d.name)).not.toContain(other.databaseName);
    expect(await other.collection('x').countDocuments()).toBe(0);
  });

  it('answers ping, hello and buildInfo', async () => {
    expect((await db.command({ ping: 1 })).ok).toBe(1);
    const hello = await db.command({ hello: 1 });
    expect(hello.isWritablePrimary).toBe(true);
    expect(hello.maxWireVersion).toBeGreaterThanOrEqual(17);
    expect(hello.logicalSessionTimeoutMinutes).toBeGreaterThan(0);
    const info = await db.command({ buildInfo: 1 });
    expect(info.versionArray[0]).toBeGreaterThanOrEqual(4);
  });
});

describe('command errors', () => {
  it('an unknown command is CommandNotFound (59)', async () => {
    const err = await serverError(db.command({ frobnicate: 1 }));
    expect(err.code).toBe(59);
    expect(err.codeName).toBe('CommandNotFound');
    expect(err.message).toBe("no such command: 'frobnicate'");
  });

  it.skipIf(!usingEmbeddedDb())('options that would change semantics are refused with 115', async () => {
    const c = db.collection('opts');
    await c.insertOne({ a: 'x' });
    const returnKey = await serverError(db.command({ find: 'opts', filter: {}, returnKey: true }));
    expect(returnKey.code).toBe(115);
    expect(returnKey.message).toMatch(/returnKey/);
    const backwards = await serverError(c.find({}, { collation: { locale: 'fr', backwards: true } }).toArray());
    expect(backwards.code).toBe(115);
    const capped = await serverError(db.createCollection('capped', { capped: true, size: 4096 }));
    expect(capped.code).toBe(115);
    const preImages = await serverError(c.watch([], { fullDocumentBeforeChange: 'required' }).tryNext());
    expect(preImages.code).toBe(115);
    const where = await serverError(c.find({ $where: 'true' }).toArray());
    expect(where.code).toBe(2);
  });
});
