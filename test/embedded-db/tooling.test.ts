// What mongosh and Compass send when they connect and open a database: handshake, server info, sizes, stats stages.
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestMongoUri, serverError, uniqueDbName } from '../helpers/db.js';

let client: MongoClient;
let db: Db;
const N = 25;

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  await client.connect();
  db = client.db(uniqueDbName('tooling'));
  const c = db.collection('things');
  await c.insertMany(Array.from({ length: N }, (_, i) => ({ _id: i as never, a: i, text: 'x'.repeat(100) })));
  await c.createIndex({ a: 1 });
});

afterAll(async () => {
  await db?.dropDatabase();
  await client?.close();
});

describe('connect-time commands of mongosh and Compass', () => {
  it('hello, buildInfo, getParameter, getLog, connectionStatus, hostInfo and getCmdLineOpts answer', async () => {
    const admin = client.db('admin');
    const hello = await admin.command({ hello: 1, helloOk: true });
    expect(hello.isWritablePrimary).toBe(true);
    expect(typeof hello.maxWireVersion).toBe('number');
    const build = await admin.command({ buildInfo: 1 });
    expect(build.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Array.isArray(build.versionArray)).toBe(true);
    const fcv = await admin.command({ getParameter: 1, featureCompatibilityVersion: 1 });
    expect(fcv.featureCompatibilityVersion.version).toMatch(/^\d+\.\d+$/);
    const warnings = await admin.command({ getLog: 'startupWarnings' });
    expect(Array.isArray(warnings.log)).toBe(true);
    expect((await admin.command({ getLog: '*' })).names).toContain('startupWarnings');
    const status = await admin.command({ connectionStatus: 1, showPrivileges: true });
    expect(Array.isArray(status.authInfo.authenticatedUsers)).toBe(true);
    expect(Array.isArray(status.authInfo.authenticatedUserPrivileges)).toBe(true);
    expect(typeof (await admin.command({ hostInfo: 1 })).system.hostname).toBe('string');
    expect(Array.isArray((await admin.command({ getCmdLineOpts: 1 })).argv)).toBe(true);
  });

  it('atlasVersion is refused as an unknown command (code 59), as on any non-Atlas server', async () => {
    expect((await serverError(client.db('admin').command({ atlasVersion: 1 }))).code).toBe(59);
  });

  it('listDatabases, dbStats and collStats report sizes', async () => {
    const list = await client.db('admin').command({ listDatabases: 1 });
    const mine = (list.databases as { name: string; sizeOnDisk: number; empty: boolean }[]).find((d) => d.name === db.databaseName);
    expect(mine!.sizeOnDisk).toBeGreaterThan(0);
    expect(mine!.empty).toBe(false);
    expect(list.totalSize).toBeGreaterThan(0);

    const stats = await db.command({ dbStats: 1 });
    expect(stats).toMatchObject({ db: db.databaseName, collections: 1, objects: N, indexes: 2 });
    expect(stats.dataSize).toBeGreaterThan(N * 100);
    expect(stats.indexSize).toBeGreaterThan(0);

    const coll = await db.command({ collStats: 'things' });
    expect(coll).toMatchObject({ count: N, nindexes: 2 });
    expect(coll.size).toBeGreaterThan(N * 100);
    expect(Object.keys(coll.indexSizes).sort()).toEqual(['_id_', 'a_1']);
  });

  it('$collStats and $indexStats describe the collection and must come first', async () => {
    const c = db.collection('things');
    const [stats] = await c.aggregate([{ $collStats: { storageStats: {}, count: {} } }]).toArray();
    expect(stats.count).toBe(N);
    expect(stats.storageStats.count).toBe(N);
    expect(stats.storageStats.size).toBeGreaterThan(N * 100);
    expect(stats.ns).toBe(`${db.databaseName}.things`);

    await c.find({ a: 3 }).toArray();
    const indexes = await c.aggregate([{ $indexStats: {} }, { $sort: { name: 1 } }]).toArray();
    expect(indexes.map((i) => i.name)).toEqual(['_id_', 'a_1']);
    expect(typeof Number(indexes[1].accesses.ops)).toBe('number');
    expect(indexes[1].accesses.since).toBeInstanceOf(Date);

    expect((await serverError(c.aggregate([{ $match: {} }, { $collStats: { count: {} } }]).toArray())).code).toBe(40602);
  });
});
