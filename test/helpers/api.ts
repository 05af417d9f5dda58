// Starts the real API over HTTP on a fresh database and gives tests a GraphQL client, tokens and a direct db handle.
import type { AddressInfo } from 'node:net';
import { MongoClient, type Db } from 'mongodb';
import { signToken } from '../../src/auth/token.js';
import { closeMongoClient } from '../../src/db/client.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { createNodeServer } from '../../src/node-server.js';
import { resetEnv } from '../../src/env.js';
import { getTestMongoUri, uniqueDbName } from './db.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  extensions?: { dbOps?: { command: string; collection: string | null }[] } & Record<string, unknown>;
}

export interface TestApi {
  url: string;
  /** A direct handle on the API's database, for reading invariants. */
  db: Db;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, options?: { token?: string; headers?: Record<string, string> }): Promise<GqlResponse<T>>;
  token(userId: string, name?: string): Promise<string>;
  close(): Promise<void>;
}

/** One API server on a database no other test file uses; env is set before the first request reads it. */
export async function startApi(prefix: string, env: Record<string, string> = {}): Promise<TestApi> {
  const dbName = uniqueDbName(prefix);
  const mongoUri = getTestMongoUri();
  // Rate limits are off unless a test turns them on (test/security/): suites fire hundreds of calls as one user.
  Object.assign(process.env, { MONGODB_URI: mongoUri, MONGODB_DB: dbName, AUTH_JWT_SECRET: TEST_JWT_SECRET, DB_TRACE: '1', RATE_LIMITS: 'off' }, env);
  resetEnv();
  const client = new MongoClient(mongoUri);
  const db = client.db(dbName);
  await ensureIndexes(db);
  const server = createNodeServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/graphql`;
  return {
    url,
    db,
    async gql(query, variables, options = {}) {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...((await response.json()) as object) };
    },
    token: (userId, name) => signToken(userId, { name, secret: TEST_JWT_SECRET }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeMongoClient();
      await client.close();
    },
  };
}
