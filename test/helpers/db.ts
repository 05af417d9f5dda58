// Test helpers for reaching the database: the URI of the run's MongoDB (real or embedded) and per-file database names.
import { randomBytes } from 'node:crypto';
import { type Db, MongoClient, type MongoClientOptions, MongoServerError } from 'mongodb';
import { afterAll, inject } from 'vitest';

/** The MongoDB URI tests should use: MONGODB_URI when set, else the embedded server started by test/global-setup.ts. */
export function getTestMongoUri(): string {
  const provided = safeInject('mongoUri');
  const uri = process.env.MONGODB_URI || provided || process.env.EMBEDDED_MONGODB_URI;
  if (!uri) throw new Error('No MongoDB for tests: set MONGODB_URI or run vitest with test/global-setup.ts as globalSetup');
  return uri;
}

/** True when the run targets the embedded server (so embedded-only behaviour may be asserted). */
export function usingEmbeddedDb(): boolean {
  return safeInject('mongoIsEmbedded') ?? !process.env.MONGODB_URI;
}

function safeInject<K extends 'mongoUri' | 'mongoIsEmbedded'>(key: K): ReturnType<typeof inject<K>> | undefined {
  try {
    return inject(key);
  } catch {
    return undefined;
  }
}

/** A fresh, valid MongoDB database name (<= 63 bytes, none of / \ . " $ or space) for one test file. */
export function uniqueDbName(prefix: string): string {
  const clean = prefix.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40) || 'test';
  return `${clean}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`.slice(0, 63);
}

/** The MongoServerError the promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function serverError(p: Promise<unknown>): Promise<MongoServerError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MongoServerError) return err;
    throw err;
  }
  throw new Error('expected a server error');
}

/**
 * A client and a fresh database for one test file (the driver connects on first use); the database is dropped and the
 * client closed after the file. Call at the top level of the file.
 */
export function useTestDb(prefix: string, options?: MongoClientOptions): { client: MongoClient; db: Db } {
  const client = new MongoClient(getTestMongoUri(), options);
  const db = client.db(uniqueDbName(prefix));
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });
  return { client, db };
}
