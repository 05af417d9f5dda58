// The one MongoClient per function instance, created on first use and reused by every request it serves.
import { MongoClient, type Collection, type CollectionOptions, type Db } from 'mongodb';
import { attachDatabasePool } from '@vercel/functions/db-connections';
import { isPreviewDatabase, readEnv, resolveDatabaseName } from '../env.js';
import { logger } from '../logger.js';
import { ensureIndexes } from './indexes.js';
import { recordPreviewUse, seedPreview } from './previews.js';
import { attachDbTrace } from './trace.js';

// Module scope survives between invocations of a warm serverless instance, so the pool (and its
// connections) is reused instead of reconnecting per request; globalThis keeps it across dev reloads.
const globalCache = globalThis as typeof globalThis & {
  __registryMongo?: { uri: string; client: MongoClient; dbs: Map<string, Db>; ready: Map<string, Promise<Db>>; prepared: Set<string> };
};

export function getMongoClient(): MongoClient {
  const env = readEnv();
  const uri = env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set (npm run dev starts an embedded database when it is unset)');
  const cached = globalCache.__registryMongo;
  if (cached && cached.uri === uri) return cached.client;
  const client = new MongoClient(uri, {
    appName: 'atomic-registry-api',
    // Idle connections are closed so suspended instances do not hold sockets open on the server.
    maxIdleTimeMS: 60_000,
    monitorCommands: env.DB_TRACE === '1',
  });
  if (env.DB_TRACE === '1') attachDbTrace(client);
  // On Vercel this lets the function be suspended without leaking the pool's sockets. Its listener acts only where
  // Vercel sets VERCEL_URL and VERCEL_REGION; elsewhere it would still make the driver build an event per checkout.
  if (process.env.VERCEL_URL && process.env.VERCEL_REGION) attachDatabasePool(client);
  globalCache.__registryMongo = { uri, client, dbs: new Map(), ready: new Map(), prepared: new Set() };
  return client;
}

export function getDb(): Db {
  const client = getMongoClient();
  const name = resolveDatabaseName();
  // client.db() builds a new Db (resolving every option) on each call; every request needs one, so keep them.
  const dbs = globalCache.__registryMongo!.dbs;
  let db = dbs.get(name);
  if (!db) {
    db = withCollectionsKept(client.db(name));
    dbs.set(name, db);
  }
  return db;
}

/**
 * db.collection() builds a Collection and resolves its options on each call, and every op calls it on every request.
 * A Collection holds no per-call state, so one per name is kept; a call with options still gets its own.
 */
function withCollectionsKept(db: Db): Db {
  const kept = new Map<string, Collection>();
  const build = db.collection.bind(db);
  db.collection = ((name: string, options?: CollectionOptions) => {
    if (options) return build(name, options);
    let collection = kept.get(name);
    if (!collection) {
      collection = build(name);
      kept.set(name, collection);
    }
    return collection;
  }) as Db['collection'];
  return db;
}

/**
 * The request's database, prepared before its first use by this instance: every index of src/db/indexes.ts exists
 * (so the first write that relies on one is safe, in any database, preview or production), and a new preview database
 * holds the demo data. Concurrent first requests share one preparation; later requests get the settled promise, so
 * the preparation costs one round of createIndexes per instance per database. A failed preparation is retried by the
 * next request.
 */
export function getReadyDb(): Promise<Db> {
  const db = getDb();
  const name = db.databaseName;
  const cache = globalCache.__registryMongo!;
  let ready = cache.ready.get(name);
  if (!ready) {
    const preparing = prepareDatabase(db).then(() => {
      cache.prepared.add(name);
      return db;
    });
    cache.ready.set(name, preparing);
    preparing.catch(() => {
      if (cache.ready.get(name) === preparing) cache.ready.delete(name);
    });
    ready = preparing;
  }
  if (isPreviewDatabase(name)) void recordPreviewUse(db);
  return ready;
}

/** The request's database when this instance has prepared it already (the warm path, no promise); else undefined. */
export function getPreparedDb(): Db | undefined {
  const db = getDb();
  if (!globalCache.__registryMongo!.prepared.has(db.databaseName)) return undefined;
  if (isPreviewDatabase(db.databaseName)) void recordPreviewUse(db);
  return db;
}

async function prepareDatabase(db: Db): Promise<void> {
  // A changed index definition must not take the API down: the old index keeps serving, and the log says which.
  for (const conflict of await ensureIndexes(db)) logger.error({ database: db.databaseName, ...conflict }, 'index exists with another definition');
  if (isPreviewDatabase(db.databaseName)) await seedPreview(db);
}

/** Closes the cached client (dev server shutdown, tests). */
export async function closeMongoClient(): Promise<void> {
  const cached = globalCache.__registryMongo;
  globalCache.__registryMongo = undefined;
  await cached?.client.close();
}
